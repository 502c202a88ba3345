package resnet

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

func TestParamDType(t *testing.T) {
	for _, tc := range []struct{ in, want dtypes.DType }{
		{dtypes.Float32, dtypes.Float32},
		{dtypes.Float64, dtypes.Float64},
		{dtypes.BFloat16, dtypes.Float32},
		{dtypes.Float16, dtypes.Float32},
	} {
		t.Run(tc.in.String(), func(t *testing.T) { require.Equal(t, tc.want, ParamDType(tc.in)) })
	}
}

// TestMixedPrecision runs ResNet18 (both layouts) with bfloat16 activations on the same float32
// variables as a float32 run: the variables stay float32, the logits come out float32 and agree with
// the float32 logits to bfloat16 accuracy (eval mode), and the gradients that reach float32 master
// weights agree with the float32 run's gradients to bfloat16 accuracy (see mixedGradChecks).
func TestMixedPrecision(t *testing.T) {
	backend := testBackend(t)
	for _, layout := range []Layout{LayoutTorchvision, LayoutKeras} {
		t.Run(string(layout), func(t *testing.T) {
			m, err := New("resnet18", 5, layout)
			require.NoError(t, err)
			store := model.NewStore()
			require.NoError(t, store.SetRNGStateFromSeed(7))
			// run returns the logits, their dtype and the gradients of sum(logits²) w.r.t. the
			// mixedGradChecks variables, on 2 images of 32x32 (eval) or 4 of 64x64 (training: batch
			// norm then averages at least 16 values).
			run := func(dt dtypes.DType, training bool) ([]float32, dtypes.DType, [][]float32) {
				e := model.MustNewExec(backend, store, func(root *model.Scope, images *Node) []*Node {
					g := images.Graph()
					store.SetTraining(g, training)
					logits := m.Logits(store.Scope("/model"), ConvertDType(images, dt))
					var wrt []*Node
					for _, c := range mixedGradChecks {
						wrt = append(wrt, store.GetVariable(c.path).NodeValue(g))
					}
					return append([]*Node{logits}, Gradient(ReduceAllSum(Square(logits)), wrt...)...)
				})
				batch, size := 2, 32
				if training {
					batch, size = 4, 64
				}
				data := make([]float32, batch*size*size*3)
				for i := range data {
					data[i] = float32(math.Sin(float64(i) * 0.37))
				}
				out := e.MustCall(tensors.FromFlatDataAndDimensions(data, batch, size, size, 3))
				var grads [][]float32
				for _, g := range out[1:] {
					require.Equal(t, dtypes.Float32, g.DType(), "gradient dtype")
					grads = append(grads, tensors.MustCopyFlatData[float32](g))
				}
				return tensors.MustCopyFlatData[float32](out[0]), out[0].DType(), grads
			}
			want, _, _ := run(dtypes.Float32, false) // initialises the float32 variables
			got, dt, _ := run(dtypes.BFloat16, false)
			require.Equal(t, dtypes.Float32, dt, "logits dtype")
			for v := range store.IterVariables() {
				if v.Path() != "/#rngState" {
					require.Equal(t, dtypes.Float32, v.DType(), v.Path())
				}
			}
			scale := 0.0
			for _, w := range want {
				scale = math.Max(scale, math.Abs(float64(w)))
			}
			for i := range want {
				require.InDelta(t, want[i], got[i], 0.05*scale+1e-3, "logit %d", i)
			}
			for _, training := range []bool{false, true} {
				_, _, grads32 := run(dtypes.Float32, training)
				_, _, grads16 := run(dtypes.BFloat16, training)
				for i, c := range mixedGradChecks {
					rel := relativeL2(grads32[i], grads16[i])
					t.Logf("training=%v: bfloat16 gradient of %s vs float32: relative L2 error %.3g", training, c.path, rel)
					require.Greater(t, l2(grads16[i]), 0.0, "the bfloat16 gradient must reach %s", c.path)
					if tol := c.tol[btoi(training)]; tol > 0 {
						require.LessOrEqual(t, rel, tol, "training=%v: bfloat16 gradient of %s vs float32", training, c.path)
					}
				}
			}
		})
	}
}

// mixedGradChecks are the variables whose bfloat16 gradients TestMixedPrecision compares with float32,
// with the relative L2 error allowed in eval and in training mode (0: only checked to be non-zero).
// bfloat16 rounds to 8-bit mantissas (2^-9 ~ 0.2% relative per op): a few percent is its accuracy
// after a few layers, and deeper backward paths lose more (the first convolution's gradient is ~16%
// off in eval mode). In training mode, batch norm's backward pass subtracts nearly equal terms, and
// the convolution kernels' bfloat16 gradients are 40-70% off (relative L2, float32 run as reference)
// on this small batch: only the classifier's gradient, before any batch norm, is bounded there.
var mixedGradChecks = []struct {
	path string
	tol  [2]float64 // eval, training
}{
	{"/model/fc/weights", [2]float64{0.05, 0.08}},
	{"/model/layer4/block_1/conv2/kernel", [2]float64{0.06, 0}},
	{"/model/layer1/block_0/conv1/kernel", [2]float64{0.3, 0}},
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// relativeL2 returns ||got - want|| / ||want||.
func relativeL2(want, got []float32) float64 {
	diff := make([]float32, len(want))
	for i := range want {
		diff[i] = got[i] - want[i]
	}
	return l2(diff) / l2(want)
}

func l2(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}
