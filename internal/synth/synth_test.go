package synth

import (
	"bufio"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	require.False(t, Exists(dir))
	require.NoError(t, Generate(dir, Options{Classes: 3, PerClass: 4, Test: 5, Size: 24}))
	require.True(t, Exists(dir))
	f, err := os.Open(filepath.Join(dir, "train_list.txt"))
	require.NoError(t, err)
	defer f.Close()
	formats := map[string]int{}
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines++
		name, label, ok := strings.Cut(sc.Text(), "\t")
		require.True(t, ok)
		require.Contains(t, []string{"0", "1", "2"}, label)
		r, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err)
		_, format, err := image.DecodeConfig(r)
		r.Close()
		require.NoError(t, err, name)
		formats[format]++
	}
	require.Equal(t, 12, lines)
	require.Greater(t, formats["png"], 0)
	require.Greater(t, formats["jpeg"], 0)
	tests, _ := os.ReadDir(filepath.Join(dir, "cat_12_test"))
	require.Len(t, tests, 5)
}

// TestGenerateOddFiles checks the quick-start dataset (Default sizes) for the odd files the README
// promises, like the real cat12 data has: palette PNG, RGBA PNG with transparent pixels, grayscale
// JPEG, and GIF and PNG content behind .jpg names, every one decoding to the full image size.
func TestGenerateOddFiles(t *testing.T) {
	dir := t.TempDir()
	o := Default()
	require.NoError(t, Generate(dir, o))
	kinds := map[string]int{}
	for _, sub := range []string{"cat_12_train", "cat_12_test"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		for _, e := range entries {
			path := filepath.Join(dir, sub, e.Name())
			require.Equal(t, ".jpg", filepath.Ext(path), path)
			kind := fileKind(t, path)
			kinds[kind]++
		}
	}
	t.Logf("file kinds: %v", kinds)
	total := o.Classes*o.PerClass + o.Test
	require.Equal(t, total, kinds["palette PNG"]+kinds["transparent RGBA PNG"]+kinds["grayscale JPEG"]+
		kinds["GIF"]+kinds["RGB PNG"]+kinds["color JPEG"], "unexpected kinds: %v", kinds)
	for _, k := range []string{"palette PNG", "transparent RGBA PNG", "grayscale JPEG", "GIF", "RGB PNG"} {
		require.Positive(t, kinds[k], "no %s among %v", k, kinds)
	}
	require.Greater(t, kinds["color JPEG"], total/2, "most files should be ordinary JPEGs: %v", kinds)
}

// fileKind decodes path and names what it holds.
func fileKind(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, format, err := image.Decode(f)
	require.NoError(t, err, path)
	require.Equal(t, image.Rect(0, 0, Default().Size, Default().Size), img.Bounds(), path)
	switch m := img.(type) {
	case *image.Paletted:
		if format == "gif" {
			return "GIF"
		}
		return "palette PNG"
	case *image.NRGBA:
		if format == "png" && m.NRGBAAt(0, 0).A == 0 && m.NRGBAAt(m.Rect.Dx()-1, m.Rect.Dy()-1).A == 255 {
			return "transparent RGBA PNG"
		}
	case *image.Gray:
		if format == "jpeg" {
			return "grayscale JPEG"
		}
	case *image.RGBA:
		if format == "png" {
			return "RGB PNG"
		}
	case *image.YCbCr:
		if format == "jpeg" {
			return "color JPEG"
		}
	}
	return fmt.Sprintf("%s %T", format, img)
}
