package train

import (
	"context"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/predict"
)

// TestEMADecay checks emaDecay against timm's ModelEmaV3.get_decay worked
// by hand: 0 at the first update, then the warm-up 1-(1+s)^(-2/3) with
// s = t-1, capped at the configured decay.
func TestEMADecay(t *testing.T) {
	for _, tc := range []struct {
		decay  float64
		warmup bool
		t      int
		want   float64
	}{
		{0.99, false, 0, 0},
		{0.99, false, 1, 0},
		{0.99, false, 2, 0.99},
		{0.99, true, 1, 0},
		{0.99, true, 2, 1 - math.Pow(2, -2.0/3)}, // 0.370
		{0.99, true, 9, 1 - math.Pow(9, -2.0/3)}, // s=8: 0.767
		{0.5, true, 9, 0.5},                      // capped
		{0.99, true, 1001, 0.99},                 // 1-1001^(-2/3) = 0.990 > 0.99
		{0.9999, true, 1001, 1 - math.Pow(1001, -2.0/3)},
	} {
		require.InDelta(t, tc.want, emaDecay(tc.decay, tc.warmup, tc.t), 1e-12, "%+v", tc)
	}
}

// emaConfig is tinyConfig with a moving average that moves visibly.
func emaConfig(t *testing.T) Config {
	cfg := tinyConfig(t)
	cfg.Optim.EMADecay = 0.8
	cfg.Optim.EMAWarmup = true
	return cfg
}

// TestEMAFollowsReference trains 1, 2 and 3 steps (fresh, deterministic
// runs) and checks the average saved in each checkpoint against the
// recurrence computed here from the saved network variables, for every
// variable under /model: trainable parameters and BatchNorm statistics.
func TestEMAFollowsReference(t *testing.T) {
	var ref map[string][]float64
	for k := 1; k <= 3; k++ {
		cfg := emaConfig(t)
		cfg.Run.Epochs = 1
		cfg.Run.MaxSteps = k
		res := mustRun(t, cfg, hooks{})
		dir := filepath.Join(res.RunDir, interruptedDir)
		if k == 3 { // the epoch's last step: an epoch checkpoint
			dir = filepath.Join(res.RunDir, checkpoint.Name(1))
		}
		vars := loadVars(t, dir)
		d := emaDecay(cfg.Optim.EMADecay, true, k)
		next := map[string][]float64{}
		nModel := 0
		for name, w := range vars {
			rel, ok := strings.CutPrefix(name, resnet.RootScope+"/")
			if !ok {
				continue
			}
			nModel++
			e, ok := vars[emaScope+"/"+rel]
			require.True(t, ok, "%s has no average", name)
			r := make([]float64, len(w))
			for i := range w {
				prev := 0.0
				if ref != nil {
					prev = ref[rel][i]
				}
				r[i] = d*prev + (1-d)*float64(w[i])
				require.InDelta(t, r[i], float64(e[i]), 1e-5*(1+math.Abs(r[i])), "step %d: %s[%d]", k, name, i)
			}
			next[rel] = r
		}
		require.Greater(t, nModel, 0)
		ref = next
	}
}

// TestEMATraining: the average changes neither the training (same losses as
// without it) nor, after a single step (where it equals the weights), the
// validation; later the validation is the average's. model.json names the
// averaged scope, so predict and best/ use it.
func TestEMATraining(t *testing.T) {
	plain := mustRun(t, tinyConfig(t), hooks{})
	withEMA := mustRun(t, emaConfig(t), hooks{})
	require.Len(t, withEMA.History, len(plain.History))
	for i := range plain.History {
		require.Equal(t, plain.History[i].TrainLoss, withEMA.History[i].TrainLoss, "epoch %d", i+1)
		require.Equal(t, plain.History[i].TrainTop1, withEMA.History[i].TrainTop1, "epoch %d", i+1)
	}
	require.NotEqual(t, plain.History[1].ValLoss, withEMA.History[1].ValLoss)
	info, err := checkpoint.ReadModelInfo(withEMA.RunDir)
	require.NoError(t, err)
	require.Equal(t, emaScope, info.Scope)
	c, err := predict.LoadCheckpoint(withEMA.RunDir, -1)
	require.NoError(t, err)
	require.Equal(t, emaScope, c.Scope)
	out := filepath.Join(t.TempDir(), "result.csv")
	_, err = predict.Run(context.Background(), predict.Options{Checkpoint: withEMA.RunDir, Step: -1,
		Images: emaConfig(t).Data.TestPath(), Out: out, Backend: "go", BatchSize: 4, Workers: 1}, io.Discard)
	require.NoError(t, err)
	require.FileExists(t, out)

	one := func(cfg Config) float64 {
		cfg.Run.MaxSteps = 1
		return mustRun(t, cfg, hooks{}).Val.Loss
	}
	require.Equal(t, one(tinyConfig(t)), one(emaConfig(t)))
}
