package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCat12 runs the list, folder and odd-file decoding on the real data set
// (skipped when ../shared/data/cat12 is absent).
func TestCat12(t *testing.T) {
	d := cat12Dir(t)
	s, warns, err := ReadList(filepath.Join(d, "train_list.txt"), d, 12)
	require.NoError(t, err)
	require.Empty(t, warns)
	require.Len(t, s, 1980)
	train, val := Split(s, 0.1, 42)
	require.Len(t, val, 12*17) // round(16.5) = 17 per class (half to even would be 16; Go rounds half away from zero)
	require.Len(t, train, 1980-len(val))
	test, err := ListImages(filepath.Join(d, "cat_12_test"))
	require.NoError(t, err)
	require.Len(t, test, 240)
	// Every file that is not a JPEG (GIF, PNG, palette, RGBA), plus a few JPEGs.
	odd, converted := 0, 0
	for i, smp := range s {
		head := make([]byte, 3)
		f, err := os.Open(smp.Path)
		require.NoError(t, err)
		_, _ = f.Read(head)
		f.Close()
		if isJPEG(head) && i >= 10 {
			continue
		}
		img, info := decodeFile(t, smp.Path)
		require.Equal(t, image.Rect(0, 0, info.Width, info.Height), img.Rect)
		if !isJPEG(head) {
			odd++
			if info.ConvertedFrom != "" {
				converted++
			}
		}
	}
	require.Equal(t, 9, odd)       // 5 GIF + 4 PNG named .jpg
	require.Equal(t, 8, converted) // all but the one RGB PNG
}

// pillowAvailable reports whether /usr/bin/python3 can import PIL.
func pillowAvailable() bool {
	return exec.Command("/usr/bin/python3", "-c", "import PIL").Run() == nil
}

// TestEvalVsPillowPhotos compares EvalTransform (resize shorter side to 256
// with antialiasing + centre crop 224) with Pillow on three cat12 photos:
// once on identical decoded pixels (isolates the resize: must be equal), once
// from the JPEG files (adds decoder differences). Skipped without cat12 or
// Pillow.
func TestEvalVsPillowPhotos(t *testing.T) {
	d := cat12Dir(t)
	if !pillowAvailable() {
		t.Skip("/usr/bin/python3 with PIL not available")
	}
	s, _, err := ReadList(filepath.Join(d, "train_list.txt"), d, 12)
	require.NoError(t, err)
	tmp := t.TempDir()
	script := `
import sys
from PIL import Image
def tv(path, out):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    if w <= h: size = (256, int(256 * h / w))
    else: size = (int(256 * w / h), 256)
    im = im.resize(size, Image.BILINEAR)
    l, t = int(round((size[0] - 224) / 2.0)), int(round((size[1] - 224) / 2.0))
    im.crop((l, t, l + 224, t + 224)).save(out)
for i in range(1, len(sys.argv), 2):
    tv(sys.argv[i], sys.argv[i + 1])
`
	args := []string{"-c", script}
	tr := EvalTransform(256, 224, identityNorm)
	type cmp struct {
		name, ref string
		got       []float32
	}
	var cases []cmp
	for i, smp := range s[:3] {
		img, _ := decodeFile(t, smp.Path)
		var b bytes.Buffer
		require.NoError(t, png.Encode(&b, img))
		decoded := filepath.Join(tmp, fmt.Sprintf("dec%d.png", i))
		require.NoError(t, os.WriteFile(decoded, b.Bytes(), 0o644))
		got := make([]float32, tr.Len())
		tr.Apply(got, img, nil)
		same := filepath.Join(tmp, fmt.Sprintf("same%d.png", i))
		file := filepath.Join(tmp, fmt.Sprintf("file%d.png", i))
		args = append(args, decoded, same, smp.Path, file)
		cases = append(cases, cmp{"resize only " + smp.Name, same, got}, cmp{"decode+resize " + smp.Name, file, got})
	}
	out, err := exec.Command("/usr/bin/python3", args...).CombinedOutput()
	require.NoError(t, err, string(out))
	for i, c := range cases {
		ref := toRGB(loadPNG(t, c.ref), Info{}, DecodeOptions{})
		maxD, sum := 0.0, 0.0
		for p := 0; p < 224*224; p++ {
			for ch := 0; ch < 3; ch++ {
				d := math.Abs(float64(c.got[p*3+ch]) - float64(ref.Pix[p*4+ch]))
				maxD, sum = max(maxD, d), sum+d
			}
		}
		mean := sum / (224 * 224 * 3)
		t.Logf("%s: max |diff| %.2f, mean %.3f (8-bit levels)", c.name, maxD, mean)
		if i%2 == 0 {
			require.Zero(t, maxD, "the resize must equal Pillow's")
		} else {
			require.Less(t, mean, 3.0)
		}
	}
}
