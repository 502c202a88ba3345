package resnet

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/stretchr/testify/require"
)

// TestRelu checks relu's value against activation.Relu and its gradient against the plain-loop
// reference (torch's convention: 0 at x == 0), for one and two differentiations of a graph.
func TestRelu(t *testing.T) {
	backend := testBackend(t)
	tests := []struct {
		name string
		x    []float32
		dims []int
	}{
		{"mixed with zeros", []float32{-2, -0.5, 0, 0, 0.25, 3, -1e-30, 1e-30}, []int{2, 4}},
		{"nhwc", []float32{1, -1, 2, -2, 0, 5, -5, 0.5, -0.5, 7, 0, -3}, []int{1, 2, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.x)
			w1 := make([]float32, n)
			w2 := make([]float32, n)
			for i := range w1 {
				w1[i] = float32(i+1) / 3
				w2[i] = float32(n-i) / 7
			}
			exec, err := NewExec(backend, func(x, w1, w2 *Node) []*Node {
				y := relu(x)
				g1 := Gradient(ReduceAllSum(Mul(y, w1)), x)[0]
				g2 := Gradient(ReduceAllSum(Mul(Square(y), w2)), x)[0]
				return []*Node{y, activation.Relu(x), g1, g2}
			})
			require.NoError(t, err)
			mk := func(v []float32) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(v, tc.dims...) }
			out, err := exec.Exec(mk(tc.x), mk(w1), mk(w2))
			require.NoError(t, err)
			y := tensors.MustCopyFlatData[float32](out[0])
			require.Equal(t, tensors.MustCopyFlatData[float32](out[1]), y)
			g1 := tensors.MustCopyFlatData[float32](out[2])
			g2 := tensors.MustCopyFlatData[float32](out[3])
			for i, x := range tc.x {
				want1, want2 := float32(0), float32(0)
				if x > 0 {
					want1, want2 = w1[i], 2*x*w2[i]
				}
				require.Equal(t, want1, g1[i], fmt.Sprintf("first gradient at x=%g", x))
				require.InDelta(t, want2, g2[i], 1e-6, fmt.Sprintf("second gradient at x=%g", x))
			}
		})
	}
}

// BenchmarkRelu times ReLU forward plus gradient, hand-written versus activation.Relu's autodiff.
// Bytes are those of x.
func BenchmarkRelu(b *testing.B) {
	backend := testBackend(b)
	dims := []int{8, 56, 56, 64}
	for _, impl := range []struct {
		name string
		fn   func(*Node) *Node
	}{{"relu", relu}, {"autodiff", activation.Relu}} {
		b.Run(impl.name, func(b *testing.B) {
			exec, err := NewExec(backend, func(x *Node) *Node {
				return Gradient(ReduceAllSum(impl.fn(x)), x)[0]
			})
			if err != nil {
				b.Fatal(err)
			}
			x := tensors.FromShape(shapes.Make(dtypes.Float32, dims...))
			tensors.MustMutableFlatData(x, func(flat []float32) {
				for i := range flat {
					flat[i] = float32(i%13) - 6
				}
			})
			if _, err := exec.Exec(x); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(x.Shape().ByteSize()))
			b.ResetTimer()
			for range b.N {
				if _, err := exec.Exec(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
