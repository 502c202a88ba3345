package predict

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/dataset"
)

func encodeImage(t *testing.T, format string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if format == "png" {
		require.NoError(t, png.Encode(&b, img))
	} else {
		require.NoError(t, jpeg.Encode(&b, img, nil))
	}
	return b.Bytes()
}

// TestReadInputsImageFile: -images naming one image (by extension or by
// content) classifies that image; it is not read as a list.
func TestReadInputsImageFile(t *testing.T) {
	dir := t.TempDir()
	jpg, png := encodeImage(t, "jpeg"), encodeImage(t, "png")
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"photo.jpg", jpg},
		{"photo.JPEG", jpg},
		{"photo", jpg},           // no extension: the content decides
		{"scan.data", png},       // unknown extension, PNG content
		{"broken.png", jpg[:40]}, // image extension: decoding reports the damage later
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(p, tc.data, 0o644))
			got, err := ReadInputs(p, "")
			require.NoError(t, err)
			require.Equal(t, []dataset.Sample{{Path: p, Name: tc.name, Label: -1}}, got)
		})
	}
}

// TestReadInputsBinaryList: a file that is neither an image nor text is an
// error of one line naming the file and the line.
func TestReadInputsBinaryList(t *testing.T) {
	dir := t.TempDir()
	jpg := encodeImage(t, "jpeg")
	for _, tc := range []struct {
		name, content, want string
	}{
		{"truncated.dat", string(jpg[:40]), "truncated.dat:1: not a text list file (binary data)"},
		{"nul.txt", "a.jpg\nb.jpg\x00\n", "nul.txt:2: not a text list file (binary data)"},
		{"latin1.txt", "a.jpg\n\xe9t\xe9.jpg\n", "latin1.txt:2: not a text list file (binary data)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o644))
			_, err := ReadInputs(p, "")
			require.EqualError(t, err, "predict: "+p[:len(p)-len(tc.name)]+tc.want)
			require.False(t, strings.ContainsAny(err.Error(), "\n\x00"))
		})
	}
}
