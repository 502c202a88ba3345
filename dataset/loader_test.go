package dataset

import (
	"context"
	"fmt"
	"image/color"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// loaderFixture writes n small JPEGs (labels i%3, a different colour each)
// plus the bad files named in bad (by index), returning the samples.
func loaderFixture(t *testing.T, n int, bad map[int][]byte) []Sample {
	dir := t.TempDir()
	var s []Sample
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("img%02d.png", i)
		data, ok := bad[i]
		if !ok {
			img := testImage(20+i%5, 16+i%7)
			img.Pix[0] = uint8(i) // make every image distinct
			data = encodePNG(t, img)
		}
		s = append(s, Sample{Path: writeFile(t, dir, name, data), Name: name, Label: i % 3})
	}
	return s
}

func collect(t *testing.T, l *Loader, epoch int) []Batch {
	var out []Batch
	for b := range l.Epoch(context.Background(), epoch) {
		out = append(out, b)
	}
	return out
}

func TestLoaderBatches(t *testing.T) {
	bad := map[int][]byte{3: {}, 7: []byte("not an image"), 8: encodePNG(t, testImage(8, 8))[:40]}
	s := loaderFixture(t, 23, bad)
	tr := TrainTransform(DefaultConfig().Augment, 8, imageNetNormalize())
	tests := []struct {
		name     string
		dropLast bool
		sizes    []int
	}{
		{"keep last", false, []int{6, 6, 6, 2}},
		{"drop last", true, []int{6, 6, 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var badPaths []string
			l := NewLoader(s, tr, LoaderOptions{BatchSize: 6, Workers: 3, Seed: 1, Shuffle: true, DropLast: tc.dropLast,
				OnBad: func(p string, err error) {
					mu.Lock()
					defer mu.Unlock()
					require.Error(t, err)
					badPaths = append(badPaths, p)
				}})
			batches := collect(t, l, 0)
			var sizes []int
			seen := map[string]bool{}
			for _, b := range batches {
				sizes = append(sizes, b.Size)
				require.Len(t, b.Images, b.Size*8*8*3)
				require.Len(t, b.Labels, b.Size)
				require.Len(t, b.Names, b.Size)
				for i, n := range b.Names {
					require.False(t, seen[n])
					seen[n] = true
					require.Equal(t, int32(s[b.Indices[i]].Label), b.Labels[i])
					require.Equal(t, s[b.Indices[i]].Name, n)
				}
			}
			require.Equal(t, tc.sizes, sizes)
			require.Len(t, badPaths, 3)
		})
	}
}

func TestLoaderDeterministic(t *testing.T) {
	s := loaderFixture(t, 17, map[int][]byte{5: []byte("junk")})
	a := DefaultConfig().Augment
	a.Rotation = 10
	a.Jitter = JitterConfig{Brightness: 0.2, Contrast: 0.2, Saturation: 0.2, Hue: 0.05}
	tr := TrainTransform(a, 12, imageNetNormalize())
	ref := collect(t, NewLoader(s, tr, LoaderOptions{BatchSize: 4, Workers: 1, Seed: 9, Shuffle: true}), 2)
	for _, workers := range []int{2, 5} {
		got := collect(t, NewLoader(s, tr, LoaderOptions{BatchSize: 4, Workers: workers, Prefetch: 1, Seed: 9, Shuffle: true}), 2)
		require.Equal(t, ref, got, "workers=%d", workers)
	}
	other := collect(t, NewLoader(s, tr, LoaderOptions{BatchSize: 4, Workers: 2, Seed: 9, Shuffle: true}), 3)
	require.NotEqual(t, ref[0].Names, other[0].Names, "epochs should be shuffled differently")
	// The same sample in two epochs gets different augmentation.
	l := NewLoader(s, tr, LoaderOptions{BatchSize: 4, Seed: 9})
	e0, e1 := collect(t, l, 0), collect(t, l, 1)
	require.Equal(t, e0[0].Names, e1[0].Names)
	require.NotEqual(t, e0[0].Images, e1[0].Images)
}

func TestLoaderCancel(t *testing.T) {
	s := loaderFixture(t, 30, nil)
	tr := EvalTransform(8, 8, Normalize{})
	l := NewLoader(s, tr, LoaderOptions{BatchSize: 2, Workers: 2, Prefetch: 1})
	ctx, cancel := context.WithCancel(context.Background())
	ch := l.Epoch(ctx, 0)
	b := <-ch
	require.Equal(t, 2, b.Size)
	l.Release(b)
	cancel()
	for range ch { // must terminate
	}
}

func TestLoaderEvalValues(t *testing.T) {
	// A solid image must come out as the normalised colour everywhere.
	dir := t.TempDir()
	p := writeFile(t, dir, "x.png", encodePNG(t, solid(30, 20, color.RGBA{255, 0, 51, 255})))
	l := NewLoader([]Sample{{Path: p, Name: "x.png", Label: -1}}, EvalTransform(10, 8, imageNetNormalize()), LoaderOptions{})
	bs := collect(t, l, 0)
	require.Len(t, bs, 1)
	n := imageNetNormalize()
	want := [3]float32{(1 - n.Mean[0]) / n.Std[0], (0 - n.Mean[1]) / n.Std[1], (0.2 - n.Mean[2]) / n.Std[2]}
	for i, v := range bs[0].Images {
		require.InDelta(t, want[i%3], v, 1e-4)
	}
	require.Equal(t, []int32{-1}, bs[0].Labels)
}

// TestLoaderJPEGRegionMatchesFullDecode compares loader output (which plans
// the crop from the header and decodes only the region) with the obviously
// correct path: full decode, then Apply. Pure Go gives identical results;
// with libjpeg (build tag) pixels differ slightly (smooth chroma upsampling).
func TestLoaderJPEGRegionMatchesFullDecode(t *testing.T) {
	dir := t.TempDir()
	var s []Sample
	for i := 0; i < 8; i++ {
		img := testImage(120+10*i, 90+7*i)
		for k := 2; k < len(img.Pix); k += 4 {
			img.Pix[k] = img.Pix[k-2] / 2 // smooth chroma
		}
		s = append(s, Sample{Path: writeFile(t, dir, fmt.Sprintf("%d.jpg", i), encodeJPEG(t, img, 95)), Name: fmt.Sprint(i), Label: 0})
	}
	for name, tr := range map[string]Transform{
		"train": TrainTransform(DefaultConfig().Augment, 32, Normalize{}),
		"eval":  EvalTransform(80, 64, Normalize{}),
	} {
		t.Run(name, func(t *testing.T) {
			l := NewLoader(s, tr, LoaderOptions{BatchSize: 8, Seed: 4})
			b := <-l.Epoch(context.Background(), 1)
			require.Equal(t, 8, b.Size)
			for i, idx := range b.Indices {
				src, info, err := decodeRawFile(s[idx].Path)
				require.NoError(t, err)
				want := make([]float32, tr.Len())
				var rng *rand.Rand
				if tr.train {
					rng = l.SampleRNG(1, idx)
				}
				tr.Apply(want, toRGB(src, info, DecodeOptions{}), rng)
				got := b.Images[i*tr.Len() : (i+1)*tr.Len()]
				if !haveLibjpeg {
					require.Equal(t, want, got, "sample %d", idx)
					continue
				}
				var sum float64
				for k := range want {
					d := float64(got[k] - want[k])
					sum += d * d
				}
				require.Less(t, sum/float64(len(want)), 1e-4, "sample %d: mean squared difference (in [0,1] units)", idx)
			}
		})
	}
}

func TestLoaderEmptyAndAllBad(t *testing.T) {
	tr := EvalTransform(8, 8, Normalize{})
	require.Empty(t, collect(t, NewLoader(nil, tr, LoaderOptions{}), 0))
	s := loaderFixture(t, 3, map[int][]byte{0: {}, 1: []byte("x"), 2: []byte("\xff\xd8\xff")})
	n := 0
	l := NewLoader(s, tr, LoaderOptions{BatchSize: 2, OnBad: func(string, error) { n++ }})
	require.Empty(t, collect(t, l, 0))
	require.Equal(t, 3, n)
	require.Equal(t, 2, l.NumBatches())
}
