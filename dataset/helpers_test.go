package dataset

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/devdata"
	gjpeg "github.com/gocls/gocls/internal/jpeg"
)

// testImage returns a deterministic colourful w x h image (gradients plus a
// pattern) so that resampling and orientation errors show.
func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(x * 255 / max(1, w-1))
			img.Pix[i+1] = uint8(y * 255 / max(1, h-1))
			img.Pix[i+2] = uint8((x*7 + y*13) % 256)
			img.Pix[i+3] = 255
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: q}))
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

// imageNetNormalize is torchvision's convention: RGB in [0,1], ImageNet
// mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
func imageNetNormalize() Normalize {
	return Normalize{Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}, Scale: 1}
}

// decodeFile reads and decodes path (DecodeBytes with DecodeOptions{}),
// failing the test on any error.
func decodeFile(t testing.TB, path string) (*image.RGBA, Info) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	img, info, err := DecodeBytes(data, DecodeOptions{})
	require.NoError(t, err, path)
	return img, info
}

// cat12Dir returns the cat12 development data, or skips.
func cat12Dir(t testing.TB) string { t.Helper(); return devdata.Cat12(t) }

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// decodeRawFile is the pure-Go decode of a whole file, before conversion
// to RGB.
func decodeRawFile(path string) (image.Image, Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Info{}, err
	}
	if isJPEG(data) {
		return decodeJPEG(data, DecodeOptions{}, new(gjpeg.Decoder), nil)
	}
	return decodeRaw(data, DecodeOptions{})
}

// skipWithoutPython skips under -short (the comparisons with Python are
// slow) and without Debian's /usr/bin/python3.
func skipWithoutPython(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs Python")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("/usr/bin/python3 not available")
	}
}

// runPython runs /usr/bin/python3 with args on a script of the given
// imports then body; imports that fail skip the test, naming the module.
func runPython(t *testing.T, imports []string, body string, args ...string) {
	t.Helper()
	script := "import sys\ntry:\n    " + strings.Join(imports, "\n    ") +
		"\nexcept ImportError as e:\n    print(e)\n    sys.exit(3)\n" + body
	out, err := exec.Command("/usr/bin/python3", append([]string{"-c", script}, args...)...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		t.Skipf("/usr/bin/python3 lacks a module: %s", out)
	}
	require.NoError(t, err, string(out))
}

// forEachResampleKernel runs f with the scalar resampler, then with the SIMD
// one where this build and CPU have it (useSIMD), and restores useSIMD.
func forEachResampleKernel(f func(simd bool)) {
	kernels := []bool{false}
	if useSIMD {
		kernels = append(kernels, true)
	}
	defer func(v bool) { useSIMD = v }(useSIMD)
	for _, simd := range kernels {
		useSIMD = simd
		f(simd)
	}
}
