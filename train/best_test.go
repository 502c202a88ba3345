package train

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
)

// TestBestIsHighestValTop1 checks that best/ holds the epoch with the highest validation top-1: its
// saved state names such an epoch and its weights are exactly that epoch's checkpoint. The run
// (4 classes, 8 validation images, a rate high enough to make validation accuracy move) is
// deterministic; its last epoch scores below an earlier one, so that best/ differs from the latest
// checkpoint.
func TestBestIsHighestValTop1(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Data.Root = tinyData(t, 4)
	cfg.Data.NumClasses = 4
	cfg.Data.ValRatio = 0.4
	cfg.Run.Epochs = 8
	cfg.Run.KeepLast = 8 // every epoch's checkpoint stays, to compare with best/
	cfg.Optim.LR = 0.5
	res := mustRun(t, cfg, hooks{})
	runDir := filepath.Join(cfg.Run.Dir, cfg.Run.Name)

	require.Len(t, res.History, cfg.Run.Epochs)
	highest := float64(res.History[0].ValTop1)
	for _, r := range res.History {
		require.Positive(t, r.ValN, "epoch %d has no validation", r.Epoch)
		highest = max(highest, float64(r.ValTop1))
	}
	last := res.History[len(res.History)-1]
	require.Less(t, float64(last.ValTop1), highest,
		"the run no longer ends below its best epoch (history %v): change it so that best/ and the latest checkpoint differ",
		valTop1s(res.History))

	var st state
	bestDir := filepath.Join(runDir, checkpoint.Best)
	require.NoError(t, checkpoint.Load(bestDir, model.NewStore(), &st))
	require.GreaterOrEqual(t, st.Epoch, 1)
	require.Equal(t, highest, float64(res.History[st.Epoch-1].ValTop1),
		"best/ holds epoch %d; validation top-1 by epoch: %v", st.Epoch, valTop1s(res.History))
	require.Equal(t, st.Epoch, res.BestEpoch)
	require.Equal(t, highest, res.BestTop1)
	require.Equal(t, loadVars(t, filepath.Join(runDir, checkpoint.Name(st.Epoch))), loadVars(t, bestDir),
		"best/ weights differ from epoch %d's checkpoint", st.Epoch)
	require.NotEqual(t, loadVars(t, filepath.Join(runDir, checkpoint.Name(last.Epoch))), loadVars(t, bestDir),
		"best/ holds the last epoch's weights")
}

func valTop1s(h []EpochRecord) []float64 {
	out := make([]float64, len(h))
	for i, r := range h {
		out[i] = float64(r.ValTop1)
	}
	return out
}
