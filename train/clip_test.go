package train

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/models/resnet"
)

// refClip is torch.nn.utils.clip_grad_norm_ in float64.
func refClip(grads [][]float64, maxNorm float64) [][]float64 {
	sum := 0.0
	for _, g := range grads {
		for _, x := range g {
			sum += x * x
		}
	}
	scale := math.Min(1, maxNorm/(math.Sqrt(sum)+1e-6))
	out := make([][]float64, len(grads))
	for i, g := range grads {
		for _, x := range g {
			out[i] = append(out[i], x*scale)
		}
	}
	return out
}

// TestClipGradNorm checks optimizer.clip against refClip: a norm above the
// limit is scaled down to it, one below is untouched, clipping off changes
// nothing, and a frozen-backbone step (the head's parameters only) clips by
// the head's norm.
func TestClipGradNorm(t *testing.T) {
	grads := [][]float64{{3, -4}, {1, 2}, {0.5, -0.25}, {2}}
	for _, tc := range []struct {
		name     string
		maxNorm  float64
		headOnly bool
	}{
		{"scaled", 1, false},
		{"under the limit", 100, false},
		{"off", 0, false},
		{"frozen backbone: head only", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be, err := backend.New("go")
			require.NoError(t, err)
			store := model.NewStore()
			var vars []*model.Variable
			var want [][]float64
			for i, p := range optParams {
				if tc.headOnly && !resnet.IsHead(p.path) {
					continue
				}
				v, err := store.CreateVariable(p.path, tensors.FromFlatDataAndDimensions(f32(p.init), len(p.init)))
				require.NoError(t, err)
				vars, want = append(vars, v), append(want, grads[i])
			}
			var args []any
			for _, gr := range want {
				args = append(args, tensors.FromFlatDataAndDimensions(f32(gr), len(gr)))
			}
			if tc.maxNorm > 0 {
				want = refClip(want, tc.maxNorm)
			}
			opt := newOptimizer(OptimConfig{ClipGradNorm: tc.maxNorm})
			exec := model.MustNewExec(be, store, func(_ *model.Scope, inputs []*Node) []*Node {
				out := opt.clip(vars, inputs)
				if tc.maxNorm == 0 {
					// Off: the very same nodes come back (copied, so that
					// the graph's outputs are not its parameters).
					for i := range out {
						require.Same(t, inputs[i], out[i])
						out[i] = AddScalar(out[i], 0)
					}
				}
				return out
			})
			outs, err := exec.Call(args...)
			require.NoError(t, err)
			for i := range want {
				got := tensors.MustCopyFlatData[float32](outs[i])
				for j := range got {
					require.InDelta(t, want[i][j], float64(got[j]), 1e-6, "param %d elem %d", i, j)
				}
			}
		})
	}
}

// TestClipGradNormTraining: in a real run, a limit no gradient reaches
// changes nothing (bit-identical history), and a tiny one changes the
// training.
func TestClipGradNormTraining(t *testing.T) {
	off := mustRun(t, tinyConfig(t), hooks{})
	loose := tinyConfig(t)
	loose.Optim.ClipGradNorm = 1e9
	requireSameHistory(t, off.History, mustRun(t, loose, hooks{}).History)
	tight := tinyConfig(t)
	tight.Optim.ClipGradNorm = 1e-3
	clipped := mustRun(t, tight, hooks{})
	for i := range off.History {
		require.NotEqual(t, off.History[i].TrainLoss, clipped.History[i].TrainLoss, "epoch %d", i+1)
	}
}
