package train

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/models/resnet"
)

// isHeadState reports whether a checkpoint variable is the classifier's or
// its optimizer state (momentum, moments, accumulation buffers, AdamW step
// count of the head group).
func isHeadState(name string) bool {
	return resnet.IsHead(name) || strings.Contains(name, "~fc~") || name == optimizerScope+"/adam_steps/head"
}

// requireFrozenBetween checks two checkpoints' variables around frozen
// epochs: every backbone weight, BN running statistic and optimizer state of
// the backbone is bit-identical, while the head's weights and optimizer
// state changed (its accumulation buffers, empty at both ends, aside). The
// weight average is left out: it moves towards the unchanged backbone.
func requireFrozenBetween(t *testing.T, before, after map[string][]float32) {
	t.Helper()
	require.Len(t, after, len(before), "same variables")
	backbone, head := 0, 0
	for name, b := range before {
		switch {
		case strings.HasPrefix(name, emaScope+"/"), strings.HasPrefix(name, optimizerScope+"/accum/"):
		case isHeadState(name):
			require.NotEqual(t, b, after[name], "%s did not train", name)
			head++
		default:
			require.Equal(t, b, after[name], "%s changed in a frozen epoch", name)
			backbone++
		}
	}
	require.GreaterOrEqual(t, backbone, 100+60, "ResNet18: 100 backbone variables, 60 of them with optimizer state")
	require.GreaterOrEqual(t, head, 4, "head weights and biases and their optimizer state")
}

// TestFrozenEpochKeepsBackbone trains one epoch in full, then resumes with
// model.freeze_backbone_epochs covering the second: between the two
// checkpoints on disk the backbone, its BN statistics and its optimizer
// state are bit-identical while the head trains, with every option that
// acts on a step.
func TestFrozenEpochKeepsBackbone(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"sgd nesterov", func(c *Config) { c.Optim.Nesterov = true }},
		{"adamw", func(c *Config) { c.Optim.Name, c.Optim.LR = "adamw", 1e-3 }},
		{"adamw mixup smoothing clip ema", func(c *Config) {
			c.Optim.Name, c.Optim.LR = "adamw", 1e-3
			c.Optim.LabelSmoothing, c.Optim.ClipGradNorm = 0.1, 0.5
			c.Optim.EMADecay, c.Optim.EMAWarmup = 0.9, true
			c.Mixup.MixupAlpha, c.Mixup.CutmixAlpha = 0.8, 1
		}},
		{"sgd accumulation", func(c *Config) { c.Optim.AccumSteps = 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			tc.edit(&cfg)
			cfg.Run.Epochs = 1
			mustRun(t, cfg, hooks{})
			cfg.Run.Epochs, cfg.Model.FreezeBackboneEpochs = 2, 2
			res := mustRun(t, cfg, hooks{})
			require.Equal(t, 2, res.Epochs)
			requireFrozenBetween(t, loadVars(t, filepath.Join(res.RunDir, checkpoint.Name(1))),
				loadVars(t, filepath.Join(res.RunDir, checkpoint.Name(2))))
		})
	}
}
