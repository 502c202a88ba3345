package resnet

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

var (
	flagConvBenchBackend = flag.String("conv.backend", "go:ops_sequential",
		"backend configuration for BenchmarkConvResNet50 (default: the pure-Go backend as the trainer runs it; onnxruntime needs -tags onnx)")
	flagConvBenchBatch = flag.Int("conv.batch", 8, "batch size for BenchmarkConvResNet50")
)

// resnet50ConvShape is one distinct convolution of ResNet50 v1.5 (torchvision layout) at 224x224.
type resnet50ConvShape struct {
	name                string
	hw, cin, cout, k, s int // input height = width
	count               int // how many times the shape occurs in the network
	noInputGrad         bool
}

// resnet50ConvShapes lists every distinct conv of ResNet50 v1.5 at 224x224 (53 convolutions in all).
var resnet50ConvShapes = []resnet50ConvShape{
	{"stem_7x7s2_3-64_224", 224, 3, 64, 7, 2, 1, true},
	{"l1_1x1_64-64_56", 56, 64, 64, 1, 1, 1, false},
	{"l1_3x3_64-64_56", 56, 64, 64, 3, 1, 3, false},
	{"l1_1x1_64-256_56", 56, 64, 256, 1, 1, 4, false}, // 3 conv3 + downsample
	{"l1_1x1_256-64_56", 56, 256, 64, 1, 1, 2, false},
	{"l2_1x1_256-128_56", 56, 256, 128, 1, 1, 1, false},
	{"l2_3x3s2_128-128_56", 56, 128, 128, 3, 2, 1, false},
	{"l2_1x1s2_256-512_56", 56, 256, 512, 1, 2, 1, false},
	{"l2_1x1_128-512_28", 28, 128, 512, 1, 1, 4, false},
	{"l2_1x1_512-128_28", 28, 512, 128, 1, 1, 3, false},
	{"l2_3x3_128-128_28", 28, 128, 128, 3, 1, 3, false},
	{"l3_1x1_512-256_28", 28, 512, 256, 1, 1, 1, false},
	{"l3_3x3s2_256-256_28", 28, 256, 256, 3, 2, 1, false},
	{"l3_1x1s2_512-1024_28", 28, 512, 1024, 1, 2, 1, false},
	{"l3_1x1_256-1024_14", 14, 256, 1024, 1, 1, 6, false},
	{"l3_1x1_1024-256_14", 14, 1024, 256, 1, 1, 5, false},
	{"l3_3x3_256-256_14", 14, 256, 256, 3, 1, 5, false},
	{"l4_1x1_1024-512_14", 14, 1024, 512, 1, 1, 1, false},
	{"l4_3x3s2_512-512_14", 14, 512, 512, 3, 2, 1, false},
	{"l4_1x1s2_1024-2048_14", 14, 1024, 2048, 1, 2, 1, false},
	{"l4_1x1_512-2048_7", 7, 512, 2048, 1, 1, 3, false},
	{"l4_1x1_2048-512_7", 7, 2048, 512, 1, 1, 2, false},
	{"l4_3x3_512-512_7", 7, 512, 512, 3, 1, 2, false},
}

// TestResNet50ConvShapesCount keeps the benchmark table honest: 53 convolutions with ~4.09 G
// multiply-adds per 224x224 image (torchvision's ResNet50 figure; the fc layer adds only 2 M).
func TestResNet50ConvShapesCount(t *testing.T) {
	n, macs := 0, 0.0
	for _, s := range resnet50ConvShapes {
		n += s.count
		pad := s.k / 2
		ho := (s.hw+2*pad-s.k)/s.s + 1
		macs += float64(s.count * ho * ho * s.cout * s.k * s.k * s.cin)
	}
	if n != 53 {
		t.Fatalf("ResNet50 has 53 convolutions, table has %d", n)
	}
	if macs < 4.05e9 || macs > 4.12e9 {
		t.Fatalf("ResNet50 convolutions have ~4.09 GMACs per image, table has %.3g", macs)
	}
}

// BenchmarkConvResNet50 times every distinct ResNet50 convolution (batch -conv.batch, default 8) on
// -conv.backend: "fwd" returns y, "bwd" returns the gradients w.r.t. input and kernel
// (kernel only for the stem, whose input needs none) of sum(y*r). It reports GFLOP/s (2 per
// multiply-add; the backward counts 2x the forward FLOPs, 1x for the stem).
//
//	GOEXPERIMENT=simd go test ./models/resnet -run '^$' -bench ConvResNet50 -benchtime 3x
func BenchmarkConvResNet50(b *testing.B) {
	backend, err := compute.NewWithConfig(*flagConvBenchBackend)
	if err != nil {
		b.Fatal(err)
	}
	batch := *flagConvBenchBatch
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range resnet50ConvShapes {
		pad := s.k / 2
		ho := (s.hw+2*pad-s.k)/s.s + 1
		x := convRandom(rng, batch, s.hw, s.hw, s.cin)
		k := convRandom(rng, s.k, s.k, s.cin, s.cout)
		r := convRandom(rng, batch, ho, ho, s.cout)
		flops := 2 * float64(batch*ho*ho*s.cout*s.k*s.k*s.cin)
		bytes := int64(4 * (x.Shape().Size() + k.Shape().Size() + r.Shape().Size()))
		for _, mode := range []string{"fwd", "bwd"} {
			b.Run(fmt.Sprintf("%s/%s", s.name, mode), func(b *testing.B) {
				exec, err := NewExec(backend, func(x, k, r *Node) []*Node {
					y := Conv2D(x, k, s.s, pad)
					if mode == "fwd" {
						return []*Node{y}
					}
					loss := ReduceAllSum(Mul(y, r))
					if s.noInputGrad {
						return Gradient(loss, k)
					}
					return Gradient(loss, x, k)
				})
				if err != nil {
					b.Fatal(err)
				}
				run := func() {
					out, err := exec.Exec(x, k, r)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range out {
						tensors.MustCopyFlatData[float32](o)
						o.FinalizeAll()
					}
				}
				run() // compile and warm up
				modeFlops := flops
				if mode == "bwd" && !s.noInputGrad {
					modeFlops *= 2
				}
				b.ReportAllocs()
				b.SetBytes(bytes)
				b.ResetTimer()
				for b.Loop() {
					run()
				}
				b.ReportMetric(modeFlops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
