package predict

import (
	"os"
	"testing"

	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/predict/predicttest"
	"github.com/gocls/gocls/preprocess"
)

// BenchmarkEngine measures inference throughput (img/s) of preprocessed
// batches, graph compiled beforehand:
//
//	go test ./predict -run XXX -bench Engine -benchtime 3x
//
// PREDICT_BENCH_BACKEND picks the backend (default "go").
func BenchmarkEngine(b *testing.B) {
	for _, bc := range []struct {
		name        string
		arch        string
		batch, crop int
		classes     int
		flip        bool
	}{
		{"resnet50_224_b8", "resnet50", 8, 224, 1000, false},
		{"resnet18_32_b16", "resnet18", 16, 32, 12, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			be, err := backend.New(os.Getenv("PREDICT_BENCH_BACKEND"))
			if err != nil {
				b.Fatal(err)
			}
			store, net, err := predicttest.NewStore(be, bc.arch, bc.classes, bc.crop, 1)
			if err != nil {
				b.Fatal(err)
			}
			c := &Classifier{Net: net, Store: store, Scope: resnet.RootScope, Preprocessing: preprocess.TorchvisionImageNet, Source: "bench"}
			eng, err := NewEngine(be, c, bc.batch, bc.crop, bc.flip)
			if err != nil {
				b.Fatal(err)
			}
			images := make([]float32, bc.batch*bc.crop*bc.crop*3)
			for i := range images {
				images[i] = float32(i%255)/128 - 1
			}
			if _, err := eng.Run(images, bc.batch); err != nil { // warm-up
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(images) * 4))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := eng.Run(images, bc.batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*bc.batch)/b.Elapsed().Seconds(), "img/s")
		})
	}
}
