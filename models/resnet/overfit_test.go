package resnet

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// TestOverfitTinyBatch trains ResNet18 on 4 random 32x32 images with plain SGD written inline
// (graph.Gradient over the trainable variables) and requires two steps to drive the loss down.
func TestOverfitTinyBatch(t *testing.T) {
	backend := testBackend(t)
	tests := []struct {
		layout           Layout
		zeroInitResidual bool
	}{
		{LayoutTorchvision, false},
		{LayoutKeras, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/zero_init_residual=%v", tc.layout, tc.zeroInitResidual), func(t *testing.T) {
			const (
				numClasses   = 4
				learningRate = 0.01
			)
			m, err := New("resnet18", numClasses, tc.layout)
			require.NoError(t, err)
			m.ZeroInitResidual = tc.zeroInitResidual
			store := model.NewStore()
			store.RootScope().SetParam(model.ParamInitialSeed, int64(7))
			trainStep, err := model.NewExec(backend, store, func(scope *model.Scope, images, labels *Node) *Node {
				g := images.Graph()
				store.SetTraining(g, true)
				modelScope := scope.In("model")
				logits := m.Logits(modelScope, images)
				onehot := OneHot(labels, numClasses, dtypes.Float32)
				loss := Neg(ReduceAllMean(ReduceSum(Mul(onehot, LogSoftmax(logits, -1)), -1)))

				var vars []*model.Variable
				var nodes []*Node
				for v := range modelScope.IterVariables() {
					if v.Trainable && v.InUseByGraph(g) {
						vars = append(vars, v)
						nodes = append(nodes, v.NodeValue(g))
					}
				}
				grads := Gradient(loss, nodes...)
				for i, v := range vars {
					v.SetNodeValue(Sub(nodes[i], MulScalar(grads[i], learningRate)))
				}
				return loss
			})
			require.NoError(t, err)

			images := randomImages(4, 32, 3)
			labels := tensors.FromValue([]int32{0, 1, 2, 3})
			var losses []float32
			for range 3 { // Each call returns the loss before its update: 2 updates between the first and last.
				loss, err := trainStep.Call1(images, labels)
				require.NoError(t, err)
				losses = append(losses, loss.Value().(float32))
			}
			t.Logf("losses: %v", losses)
			require.Less(t, losses[2], losses[0])
			require.Less(t, losses[2], 0.9*losses[0], "two SGD steps must cut the loss by at least 10%")
		})
	}
}
