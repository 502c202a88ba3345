package main

import (
	"bufio"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeHugePNG writes a real, valid w×h gray PNG without holding its pixels:
// with Stride 0 every row aliases the same w zero bytes, so the file (a few
// hundred KB of compressed zeros) declares w*h pixels.
func writeHugePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := &image.Gray{Pix: make([]uint8, w), Stride: 0, Rect: image.Rect(0, 0, w, h)}
	f, err := os.Create(path)
	require.NoError(t, err)
	bw := bufio.NewWriter(f)
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	require.NoError(t, enc.Encode(bw, img))
	require.NoError(t, bw.Flush())
	require.NoError(t, f.Close())
}

// TestPixelLimitBeforeDecoding: an image whose header declares more pixels
// than the limit is refused with one line naming the file, before its pixels
// are allocated (a 16000×16000 PNG would take 256 MB as gray, 1 GB as RGBA).
func TestPixelLimitBeforeDecoding(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 16000x16000 PNG (about a second)")
	}
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.png")
	writeHugePNG(t, huge, 16000, 16000)
	st, err := os.Stat(huge)
	require.NoError(t, err)
	require.Less(t, st.Size(), int64(2<<20), "the test file itself is small")

	out := filepath.Join(dir, "out.png")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, stdout, stderr := runCLI("gray", huge, out)
	runtime.ReadMemStats(&after)
	require.Equal(t, 1, code, stderr)
	require.Empty(t, stdout)
	require.Equal(t, "imgproc: "+huge+": image too large: 16000x16000 is over the 100000000 pixel limit (see -max-pixels)\n", stderr)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20), "pixels were allocated")
	require.NoFileExists(t, out)
}

func TestMaxPixelsFlag(t *testing.T) {
	dir := t.TempDir()
	in, _ := writeTestPNG(t, dir, "in.png", 1) // 37x29 = 1073 pixels
	other, _ := writeTestPNG(t, dir, "other.png", 2)
	out := filepath.Join(dir, "out.png")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"under the limit", []string{"gray", "-max-pixels", "1073", in, out}, 0, ""},
		{"over the limit", []string{"gray", "-max-pixels", "1072", in, out}, 1, in + ": image too large: 37x29 is over the 1072 pixel limit"},
		{"no limit", []string{"gray", "-max-pixels", "-1", in, out}, 0, ""},
		{"two images under the limit", []string{"addweighted", "-max-pixels", "1073", "-with", other, in, out}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(out)
			code, _, stderr := runCLI(tc.args...)
			require.Equal(t, tc.code, code, stderr)
			if tc.want == "" {
				require.FileExists(t, out)
				return
			}
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			require.NoFileExists(t, out)
		})
	}
}

// TestMaxPixelsWithImage: the limit applies to the -with image, which is
// decoded by the op itself.
func TestMaxPixelsWithImage(t *testing.T) {
	dir := t.TempDir()
	in, _ := writeTestPNG(t, dir, "in.png", 1)
	big := filepath.Join(dir, "big.png")
	writeHugePNG(t, big, 400, 400)
	out := filepath.Join(dir, "out.png")
	code, _, stderr := runCLI("addweighted", "-max-pixels", "100000", "-with", big, in, out)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, big+": image too large: 400x400 is over the 100000 pixel limit")
	require.NoFileExists(t, out)
}
