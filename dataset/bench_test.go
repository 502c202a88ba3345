package dataset

import (
	"context"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gocls/gocls/preprocess"
)

// cat12Samples returns the labelled cat12 samples or skips.
func cat12Samples(tb testing.TB) []Sample {
	d := cat12Dir(tb)
	s, _, err := ReadList(filepath.Join(d, "train_list.txt"), d, 12)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func totalBytes(tb testing.TB, s []Sample) int64 {
	var n int64
	for _, x := range s {
		st, err := os.Stat(x.Path)
		if err != nil {
			tb.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// BenchmarkPipelineCat12 is decode + random-resized-crop(224) + flip +
// ImageNet normalisation over the cat12 training images with GOMAXPROCS
// workers; it reports img/s (compare with testdata/bench_pil.py).
func BenchmarkPipelineCat12(b *testing.B) {
	benchPipeline(b, TrainTransform(DefaultConfig().Augment, 224, imageNetNormalize()))
}

// BenchmarkPipelineCat12Steps is BenchmarkPipelineCat12 without and with a
// data.preprocess step: a trivial one (swap R and B), which measures the cost
// of decoding whole JPEGs, and a 5x5 Gaussian blur.
func BenchmarkPipelineCat12Steps(b *testing.B) {
	for _, tc := range []struct {
		name  string
		steps []preprocess.StepConfig
	}{
		{"none", nil},
		{"bgr", []preprocess.StepConfig{{"op": "cvtcolor", "code": "bgr"}}}, // the cost of decoding whole images
		{"gaussian5", []preprocess.StepConfig{{"op": "gaussian", "ksize": 5}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			t, err := TrainTransform(DefaultConfig().Augment, 224, imageNetNormalize()).WithSteps(tc.steps)
			if err != nil {
				b.Fatal(err)
			}
			benchPipeline(b, t)
		})
	}
}

func benchPipeline(b *testing.B, t Transform) {
	s := cat12Samples(b)
	if testing.Short() {
		s = s[:200]
	}
	l := NewLoader(s, t, LoaderOptions{BatchSize: 32, Workers: runtime.GOMAXPROCS(0), Shuffle: true, Seed: 1})
	b.SetBytes(totalBytes(b, s))
	n, cpu := runEpochs(b, l)
	b.ReportMetric(cpu.Seconds()*1000/float64(n), "cpu-ms/img")
}

// runEpochs runs b.N epochs of l, timed from here, reports img/s (wall) and
// returns the images loaded and the process CPU time they took.
func runEpochs(b *testing.B, l *Loader) (n int, cpu time.Duration) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for batch := range l.Epoch(context.Background(), i) {
			n += batch.Size
			l.Release(batch)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "img/s")
	return n, cpuTime() - cpu0
}

// cpuTime is the process's user+system CPU time: on a shared machine it is a
// steadier measure than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeCat12 measures decoding alone (to RGB), one goroutine.
func BenchmarkDecodeCat12(b *testing.B) {
	s := cat12Samples(b)[:200]
	var files [][]byte
	var total int64
	for _, x := range s {
		d, err := os.ReadFile(x.Path)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, d)
		total += int64(len(d))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range files {
			if _, _, err := DecodeBytes(d, DecodeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(files))/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkResample224 is the crop+resize kernel alone: a 400x300 box of a
// 500x375 image to 224x224.
func BenchmarkResample224(b *testing.B) {
	src := testImage(500, 375)
	job := resampleJob{box: image.Rect(50, 40, 450, 340), fullW: 224, fullH: 224, outW: 224, outH: 224}
	benchResample(b, src, job)
}

// BenchmarkResampleUp224 upsamples a 150x120 crop to 224x224 (the common
// case for RandomResizedCrop on the cat12 images).
func BenchmarkResampleUp224(b *testing.B) {
	src := testImage(500, 375)
	job := resampleJob{box: image.Rect(50, 40, 200, 160), fullW: 224, fullH: 224, outW: 224, outH: 224}
	benchResample(b, src, job)
}

// benchResample runs job repeatedly and also reports CPU time per op, which a
// loaded machine disturbs less than wall time.
func benchResample(b *testing.B, src *image.RGBA, job resampleJob) {
	dst := make([]float32, job.outW*job.outH*3)
	b.SetBytes(int64(len(dst) * 4))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		resampleRGBA(dst, src, job)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkTrainTransformCat12 is the training transform alone (random
// resized crop 224 + flip + normalisation, one goroutine) on 100 decoded
// cat12 photos; it reports CPU µs per image.
func BenchmarkTrainTransformCat12(b *testing.B) {
	s := cat12Samples(b)[:100]
	imgs := make([]image.Image, len(s))
	for i, x := range s {
		imgs[i], _ = decodeFile(b, x.Path)
	}
	t := TrainTransform(DefaultConfig().Augment, 224, imageNetNormalize())
	dst := make([]float32, t.Len())
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		for _, img := range imgs {
			t.Apply(dst, img, rng)
			n++
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/img")
}
