package dataset

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/preprocess"
)

// The loader runs the steps on the whole decoded image, then the transform:
// its batches equal decoding, stepping and transforming by hand, for JPEG
// (which otherwise takes the crop-restricted decoder) and PNG files, with
// training and evaluation transforms.
func TestLoaderWithSteps(t *testing.T) {
	dir := t.TempDir()
	var s []Sample
	for i := 0; i < 6; i++ {
		img := testImage(40+7*i, 30+5*i)
		name, data := fmt.Sprintf("img%d.png", i), encodePNG(t, img)
		if i%2 == 0 {
			name, data = fmt.Sprintf("img%d.jpg", i), encodeJPEG(t, img, 90)
		}
		s = append(s, Sample{Path: writeFile(t, dir, name, data), Name: name, Label: i % 2})
	}
	cfgs := []preprocess.StepConfig{{"op": "gaussian", "ksize": 5}, {"op": "cvtcolor", "code": "hsv"}, {"op": "otsu"}}
	steps, err := preprocess.ParseSteps(cfgs)
	require.NoError(t, err)
	chain := preprocess.Chain(steps)
	for _, tc := range []struct {
		name string
		tr   Transform
	}{
		{"train", TrainTransform(DefaultConfig().Augment, 16, imageNetNormalize())},
		{"eval", EvalTransform(24, 16, imageNetNormalize())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withSteps, err := tc.tr.WithSteps(cfgs)
			require.NoError(t, err)
			l := NewLoader(s, withSteps, LoaderOptions{BatchSize: 4, Workers: 3, Seed: 5, Shuffle: true})
			plain := collect(t, NewLoader(s, tc.tr, LoaderOptions{BatchSize: 4, Workers: 3, Seed: 5, Shuffle: true}), 1)
			want := make([]float32, tc.tr.Len())
			for bi, b := range collect(t, l, 1) {
				for j, idx := range b.Indices {
					img, _ := decodeFile(t, s[idx].Path)
					rng := l.SampleRNG(1, idx)
					if tc.name == "eval" {
						rng = nil
					}
					tc.tr.Apply(want, chain(img), rng)
					got := b.Images[j*tc.tr.Len() : (j+1)*tc.tr.Len()]
					require.Equal(t, want, got, "sample %d", idx)
					require.NotEqual(t, plain[bi].Images[j*tc.tr.Len():(j+1)*tc.tr.Len()], got, "the steps must change the input")
				}
			}
		})
	}
	_, err = EvalTransform(24, 16, Normalize{}).WithSteps([]preprocess.StepConfig{{"op": "median", "ksize": 4}})
	require.EqualError(t, err, "dataset: preprocess: step 1 (median): ksize must be odd and >= 1, got 4")
}
