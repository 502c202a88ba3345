package jpeg

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gocls/gocls/internal/devdata"
)

// TestCat12MatchesPillow decodes cat12 photos and compares every pixel with
// Pillow's decoding (Debian's /usr/bin/python3 running
// testdata/pil_decode.py). It checks the first 30 test photos, or all
// train and test photos with GOCLS_JPEG_ALL=1, and logs "N identical / M".
// It skips when the data or Pillow is absent.
func TestCat12MatchesPillow(t *testing.T) {
	dir := devdata.Cat12(t)
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import PIL").Run(); err != nil {
		t.Skipf("needs %s with Pillow (python3-pil): %v", py, err)
	}
	files := cat12JPEGs(t, dir, os.Getenv("GOCLS_JPEG_ALL") != "")
	cmd := exec.Command(py, "testdata/pil_decode.py")
	var list bytes.Buffer
	for _, f := range files {
		list.WriteString(f + "\n")
	}
	cmd.Stdin = &list
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { // on an early return Pillow may be blocked writing
		cmd.Process.Kill()
		cmd.Wait()
	}()
	r := bufio.NewReaderSize(stdout, 1<<20)
	var d Decoder
	same := 0
	for _, f := range files {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			t.Fatal(err)
		}
		w, h := binary.LittleEndian.Uint32(hdr[:]), binary.LittleEndian.Uint32(hdr[4:])
		want := make([]byte, 3*int(w)*int(h))
		if _, err := io.ReadFull(r, want); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := d.Decode(data, Options{})
		switch {
		case err != nil || w == 0:
			t.Errorf("%s: ours: %v, Pillow's size %dx%d", f, err, w, h)
		case img.Rect.Dx() != int(w) || img.Rect.Dy() != int(h):
			t.Errorf("%s: size %v, Pillow %dx%d", f, img.Rect.Size(), w, h)
		case !bytes.Equal(rgbOf(img), want):
			t.Errorf("%s: %s", f, firstDiff(rgbOf(img), want, int(w)))
		default:
			same++
		}
	}
	t.Logf("%d identical / %d JPEG photos", same, len(files))
}

// cat12JPEGs lists the JPEG files (by content) of cat12's test set, and of
// the train set too when all is set; only the first 30 test files otherwise.
func cat12JPEGs(t *testing.T, dir string, all bool) []string {
	var files []string
	for _, sub := range []string{"cat_12_test", "cat_12_train"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, sub, e.Name())
			if isJPEGFile(p) {
				files = append(files, p)
			}
		}
		if !all {
			sort.Strings(files)
			return files[:min(30, len(files))]
		}
	}
	return files
}

func isJPEGFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [3]byte
	_, err = io.ReadFull(f, b[:])
	return err == nil && b == [3]byte{0xFF, 0xD8, 0xFF}
}
