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
// variables as a float32 run: the variables stay float32, the logits come out float32, and they
// agree with the float32 logits to bfloat16 accuracy, in eval and in training mode (where the
// gradients must reach the float32 master weights).
func TestMixedPrecision(t *testing.T) {
	backend := testBackend(t)
	for _, layout := range []Layout{LayoutTorchvision, LayoutKeras} {
		t.Run(string(layout), func(t *testing.T) {
			m, err := New("resnet18", 5, layout)
			require.NoError(t, err)
			store := model.NewStore()
			require.NoError(t, store.SetRNGStateFromSeed(7))
			run := func(dt dtypes.DType, training bool) ([]float32, dtypes.DType, float32) {
				e := model.MustNewExec(backend, store, func(root *model.Scope, images *Node) (*Node, *Node) {
					g := images.Graph()
					store.SetTraining(g, training)
					scope := store.Scope("/model")
					logits := m.Logits(scope, ConvertDType(images, dt))
					kernel := store.GetVariable("/model/layer1/block_0/conv1/kernel")
					grad := Gradient(ReduceAllSum(Square(logits)), kernel.NodeValue(g))[0]
					return logits, ReduceAllSum(Abs(grad))
				})
				data := make([]float32, 2*32*32*3)
				for i := range data {
					data[i] = float32(math.Sin(float64(i) * 0.37))
				}
				out := e.MustCall(tensors.FromFlatDataAndDimensions(data, 2, 32, 32, 3))
				return tensors.MustCopyFlatData[float32](out[0]), out[0].DType(), tensors.ToScalar[float32](out[1])
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
			_, _, gradSum := run(dtypes.BFloat16, true)
			require.Greater(t, gradSum, float32(0), "gradient must reach the float32 kernel")
		})
	}
}
