package train

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/internal/backend"
)

// TestDeferredMetrics: reading the loss and top-1 count every few steps (or
// once an epoch) gives exactly the metrics and weights of reading them after
// every step, with and without gradient accumulation.
func TestDeferredMetrics(t *testing.T) {
	for _, accum := range []int{1, 2} {
		cfg := tinyConfig(t)
		cfg.Optim.AccumSteps = accum
		perStep := mustRun(t, cfg, hooks{readEvery: 1})
		want := loadVars(t, latest(t, perStep.RunDir))
		for _, every := range []int{2} {
			cfg.Run.Dir = t.TempDir()
			res := mustRun(t, cfg, hooks{readEvery: every})
			requireSameHistory(t, comparable(perStep.History), comparable(res.History))
			require.Equal(t, want, loadVars(t, latest(t, res.RunDir)), "accumulation %d, read every %d", accum, every)
		}
	}
}

// TestNonFiniteLossDeferred: with the loss read every 4 steps, an exploding
// rate still stops the run, naming the first bad step and the steps that ran
// after it; no checkpoint is written after it.
func TestNonFiniteLossDeferred(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Run.Epochs = 3
	cfg.Optim.Momentum = 0
	cfg.Schedule = ScheduleConfig{Name: "piecewise", Boundaries: []float64{1}, Values: []float64{0.01, 1e38}}
	_, err := run(context.Background(), cfg, io.Discard, hooks{readEvery: 4})
	require.Error(t, err)
	require.Regexp(t, `loss is (NaN|\+Inf|-Inf) at step 5 \(epoch 2, batch 2\); step 6 ran before it was read \(the loss is read every 4 steps\)`, err.Error())
	runDir := filepath.Join(cfg.Run.Dir, cfg.Run.Name)
	require.Equal(t, filepath.Join(runDir, checkpoint.Name(1)), latest(t, runDir))
	require.NoDirExists(t, filepath.Join(runDir, interruptedDir))
}

// TestNormalizeNode: uint8 pixels normalised in the graph equal the loader's
// normalisation (dataset.Normalize.Affine), RGB and BGR.
func TestNormalizeNode(t *testing.T) {
	be, err := backend.New("go")
	require.NoError(t, err)
	pix := make([]uint8, 2*3*3)
	for i := range pix {
		pix[i] = uint8(i * 37 % 256)
	}
	torch := dataset.Normalize{Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}, Scale: 1}
	caffe := dataset.Normalize{Mean: [3]float32{103.939, 116.779, 123.68}, Std: [3]float32{1, 1, 1}, Scale: 255, BGR: true}
	for _, norm := range []dataset.Normalize{torch, caffe} {
		got := tensors.MustCopyFlatData[float32](MustExecOnce(be, func(x *Node) *Node { return normalizeNode(x, norm) },
			tensors.FromFlatDataAndDimensions(pix, 2, 3, 3)))
		scale, offset, src := norm.Affine()
		for i := 0; i < len(pix); i += 3 {
			for c := range 3 {
				require.InDelta(t, float32(pix[i+src[c]])*scale[c]+offset[c], got[i+c], 1e-5, "value %d channel %d", i, c)
			}
		}
	}
}
