package dataset

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLoaderPixels: a Pixels loader serves the same batches (order, labels,
// sizes) as a float one, its pixels are the unnormalised output rounded, and
// Normalize.Affine of them gives the normalised images within rounding.
func TestLoaderPixels(t *testing.T) {
	s := loaderFixture(t, 11, nil)
	aug := DefaultConfig().Augment
	for _, norm := range []Normalize{imageNetNormalize(), {Mean: [3]float32{103.9, 116.8, 123.7}, Std: [3]float32{1, 1, 1}, Scale: 255, BGR: true}} {
		opts := LoaderOptions{BatchSize: 4, Workers: 2, Seed: 3, Shuffle: true}
		floats := collect(t, NewLoader(s, TrainTransform(aug, 8, norm), opts), 1)
		raws := collect(t, NewLoader(s, TrainTransform(aug, 8, Normalize{Scale: 255}), opts), 1)
		opts.Pixels = true
		pixels := collect(t, NewLoader(s, TrainTransform(aug, 8, norm), opts), 1)
		require.Len(t, pixels, len(floats))
		scale, offset, src := norm.Affine()
		for i, p := range pixels {
			f, r := floats[i], raws[i]
			require.Equal(t, f.Labels, p.Labels)
			require.Equal(t, f.Indices, p.Indices)
			require.Nil(t, p.Images)
			require.Len(t, p.Pixels, len(f.Images))
			for j, v := range p.Pixels {
				require.Equal(t, uint8(math.Round(float64(min(255, max(0, r.Images[j]))))), v, "batch %d value %d", i, j)
			}
			for j := 0; j < len(p.Pixels); j += 3 {
				for c := range 3 {
					got := float32(p.Pixels[j+src[c]])*scale[c] + offset[c]
					require.InDelta(t, f.Images[j+c], got, float64(scale[c])*0.5+1e-5)
				}
			}
		}
	}
}
