package resnet

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// BenchmarkBatchNormTrain times a training-mode batch norm forward plus its gradient with respect to
// x, scale and offset on ResNet-like activations, for the backend's op ("backend": BatchNormForTraining
// and BatchNormGradient) and the elementary-op formula other backends get. Bytes are those of x.
func BenchmarkBatchNormTrain(b *testing.B) {
	backend := testBackend(b)
	impls := []struct {
		name string
		fn   func(x, scale, offset *Node, epsilon float64) (y, mean, variance *Node)
	}{
		{"backend", batchNormTraining},
		{"elementary", batchNormTrainingElementary},
	}
	for _, dims := range [][]int{{8, 56, 56, 64}, {8, 7, 7, 2048}} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("%s/%v", impl.name, dims), func(b *testing.B) {
				c := dims[len(dims)-1]
				exec, err := NewExec(backend, func(x, scale, offset *Node) []*Node {
					y, _, _ := impl.fn(x, scale, offset, EpsilonTorchvision)
					return Gradient(ReduceAllSum(Mul(y, y)), x, scale, offset)
				})
				if err != nil {
					b.Fatal(err)
				}
				x := tensors.FromShape(shapes.Make(dtypes.Float32, dims...))
				tensors.MustMutableFlatData(x, func(flat []float32) {
					for i := range flat {
						flat[i] = float32(i%97) / 97
					}
				})
				scale := tensors.FromFlatDataAndDimensions(make([]float32, c), c)
				offset := tensors.FromFlatDataAndDimensions(make([]float32, c), c)
				if _, err := exec.Exec(x, scale, offset); err != nil { // Compile outside the timer.
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.SetBytes(int64(x.Shape().ByteSize()))
				b.ResetTimer()
				for range b.N {
					if _, err := exec.Exec(x, scale, offset); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkLogits times one inference forward pass of each model on a batch of 2 images of 64x64.
// Bytes are those of the input images.
func BenchmarkLogits(b *testing.B) {
	backend := testBackend(b)
	for _, name := range []string{"resnet18", "resnet50"} {
		b.Run(name, func(b *testing.B) {
			m, err := New(name, 10, LayoutTorchvision)
			if err != nil {
				b.Fatal(err)
			}
			store := model.NewStore()
			exec, err := model.NewExec(backend, store, func(scope *model.Scope, images *Node) *Node {
				return m.Logits(scope.In("model"), images)
			})
			if err != nil {
				b.Fatal(err)
			}
			images := randomImages(2, 64, 1)
			if _, err := exec.Call1(images); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(images.Shape().ByteSize()))
			b.ResetTimer()
			for range b.N {
				if _, err := exec.Call1(images); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
