//go:build cgo && libjpeg

package dataset

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLibjpegRegionMatchesFull checks the fast path (skip rows, crop
// columns) against the obviously correct one (decode everything, then cut).
func TestLibjpegRegionMatchesFull(t *testing.T) {
	data := encodeJPEG(t, testImage(203, 151), 90) // 4:2:0, 16x16 MCUs
	full, info, handled, err := decodeJPEGRegion(data, DecodeOptions{}, new([]byte), func(w, h int) image.Rectangle { return image.Rect(0, 0, w, h) })
	require.NoError(t, err)
	require.True(t, handled)
	require.Equal(t, "RGB", info.Mode)
	require.Equal(t, image.Rect(0, 0, 203, 151), full.Rect)
	rng := rand.New(rand.NewPCG(1, 2))
	regions := []image.Rectangle{image.Rect(0, 0, 203, 151), image.Rect(17, 33, 18, 34), image.Rect(100, 0, 203, 1), image.Rect(0, 150, 5, 151)}
	for i := 0; i < 20; i++ {
		x0, y0 := rng.IntN(200), rng.IntN(148)
		regions = append(regions, image.Rect(x0, y0, x0+1+rng.IntN(203-x0), y0+1+rng.IntN(151-y0)))
	}
	for _, r := range regions {
		t.Run(fmt.Sprint(r), func(t *testing.T) {
			img, _, handled, err := decodeJPEGRegion(data, DecodeOptions{}, new([]byte), func(w, h int) image.Rectangle { return r })
			require.NoError(t, err)
			require.True(t, handled)
			require.True(t, r.In(img.Rect), "%v not in %v", r, img.Rect)
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					require.Equal(t, full.RGBAAt(x, y), img.RGBAAt(x, y), "pixel %d,%d", x, y)
				}
			}
		})
	}
}

// TestLibjpegCat12Regions repeats the region check on cat12 files (4:4:4,
// 4:2:0, 4:2:2, progressive); skipped without the data.
func TestLibjpegCat12Regions(t *testing.T) {
	s := cat12Samples(t)
	rng := rand.New(rand.NewPCG(7, 8))
	checked := 0
	for i, smp := range s {
		data, err := os.ReadFile(smp.Path)
		require.NoError(t, err)
		if !isJPEG(data) || (!bytes.Contains(data, []byte{0xFF, 0xC2}) && i%10 != 0) {
			continue
		}
		full, _, handled, err := decodeJPEGRegion(data, DecodeOptions{}, new([]byte), func(w, h int) image.Rectangle { return image.Rect(0, 0, w, h) })
		require.NoError(t, err)
		require.True(t, handled)
		b := full.Rect
		x0, y0 := rng.IntN(b.Dx()), rng.IntN(b.Dy())
		r := image.Rect(x0, y0, x0+1+rng.IntN(b.Dx()-x0), y0+1+rng.IntN(b.Dy()-y0))
		img, _, _, err := decodeJPEGRegion(data, DecodeOptions{}, new([]byte), func(w, h int) image.Rectangle { return r })
		require.NoError(t, err)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if full.RGBAAt(x, y) != img.RGBAAt(x, y) {
					t.Fatalf("%s region %v pixel %d,%d: %v != %v", smp.Path, r, x, y, img.RGBAAt(x, y), full.RGBAAt(x, y))
				}
			}
		}
		checked++
	}
	t.Logf("%d files checked", checked)
}
