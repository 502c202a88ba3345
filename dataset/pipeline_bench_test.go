package dataset

import (
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// photoLike is a w x h image with smooth gradients plus noise, so that its
// JPEG has about the entropy (and decoding cost) of a photo rather than of a
// flat test pattern.
func photoLike(w, h int, seed uint64) *image.RGBA {
	img := testImage(w, h)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < len(img.Pix); i += 4 {
		for c := range 3 {
			v := int(img.Pix[i+c]) + rng.IntN(48) - 24
			img.Pix[i+c] = uint8(min(255, max(0, v)))
		}
	}
	return img
}

// generated500x375 writes n cat12-size JPEGs (500x375, quality 90) and
// returns them as samples.
func generated500x375(b *testing.B, n int) []Sample {
	dir := b.TempDir()
	s := make([]Sample, n)
	for i := range s {
		p := filepath.Join(dir, fmt.Sprintf("%03d.jpg", i))
		if err := os.WriteFile(p, encodeJPEG(b, photoLike(500, 375, uint64(i)), 90), 0o644); err != nil {
			b.Fatal(err)
		}
		s[i] = Sample{Path: p, Name: filepath.Base(p), Label: i % 12}
	}
	return s
}

// benchWorkers runs whole epochs of decode + RandomResizedCrop(224) + flip +
// normalisation with the given workers and reports img/s (wall) and
// img/s/core (images per CPU-second of the process: the per-worker rate,
// steadier than wall time on a shared machine).
func benchWorkers(b *testing.B, s []Sample, workers int) {
	t := TrainTransform(DefaultConfig().Augment, 224, imageNetNormalize())
	l := NewLoader(s, t, LoaderOptions{BatchSize: 32, Workers: workers, Shuffle: true, Seed: 1})
	n, cpu := runEpochs(b, l)
	b.ReportMetric(float64(n)/cpu.Seconds(), "img/s/core")
}

// BenchmarkPipeline500x375 is the training pipeline on generated cat12-size
// JPEGs, with one worker and with GOMAXPROCS workers (runs without the dev
// data).
func BenchmarkPipeline500x375(b *testing.B) {
	s := generated500x375(b, 128)
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { benchWorkers(b, s, w) })
	}
}

// BenchmarkPipelineCat12Workers is the same on the first 256 cat12 images.
func BenchmarkPipelineCat12Workers(b *testing.B) {
	s := cat12Samples(b)[:256]
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { benchWorkers(b, s, w) })
	}
}
