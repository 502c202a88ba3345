package train

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
)

// TestBestIsHighestValTop1 checks that best/ holds the epoch with the highest validation top-1: its
// saved state names that epoch and its weights are exactly that epoch's checkpoint. The validation
// top-1 of each epoch is scripted through a hook (a tiny run's real accuracy moves with any change to
// the numerics), so the selection is tested whatever the model learns; the last epoch scores below
// the best, so that best/ differs from the latest checkpoint.
func TestBestIsHighestValTop1(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Run.Epochs = 4
	cfg.Run.KeepLast = 4 // every epoch's checkpoint stays, to compare with best/
	scripted := []float64{0.5, 0.75, 0.25, 0.6}
	const bestEpoch = 2
	hk := hooks{valTop1: func(epoch int, measured float64) float64 {
		require.True(t, measured >= 0 && measured <= 1, "measured top-1 %v", measured)
		return scripted[epoch-1]
	}}
	res := mustRun(t, cfg, hk)
	runDir := filepath.Join(cfg.Run.Dir, cfg.Run.Name)

	require.Len(t, res.History, cfg.Run.Epochs)
	for _, r := range res.History {
		require.Positive(t, r.ValN, "epoch %d has no validation", r.Epoch)
	}
	require.Equal(t, scripted, valTop1s(res.History))

	var st state
	bestDir := filepath.Join(runDir, checkpoint.Best)
	require.NoError(t, checkpoint.Load(bestDir, model.NewStore(), &st))
	require.Equal(t, bestEpoch, st.Epoch, "best/ holds epoch %d; validation top-1 by epoch: %v", st.Epoch, scripted)
	require.Equal(t, bestEpoch, res.BestEpoch)
	require.Equal(t, scripted[bestEpoch-1], res.BestTop1)
	require.Equal(t, loadVars(t, filepath.Join(runDir, checkpoint.Name(bestEpoch))), loadVars(t, bestDir),
		"best/ weights differ from epoch %d's checkpoint", bestEpoch)
	require.NotEqual(t, loadVars(t, filepath.Join(runDir, checkpoint.Name(cfg.Run.Epochs))), loadVars(t, bestDir),
		"best/ holds the last epoch's weights")
}

func valTop1s(h []EpochRecord) []float64 {
	out := make([]float64, len(h))
	for i, r := range h {
		out[i] = float64(r.ValTop1)
	}
	return out
}
