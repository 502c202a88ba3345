package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
)

// resumeConfig exercises every piece of state a resume must restore:
// momentum, gradient accumulation across a cut, a warm-up + cosine schedule
// (position inside the epoch), label smoothing, augmentation, the weight
// average (whose warm-up depends on the step count) and gradient clipping.
func resumeConfig(t *testing.T) Config {
	cfg := tinyConfig(t)
	cfg.Run.Epochs = 3
	cfg.Optim.AccumSteps = 2 // 3 micro-batches per epoch: groups {0,1}, {2}
	cfg.Optim.Nesterov = true
	cfg.Optim.LabelSmoothing = 0.1
	cfg.Optim.EMADecay = 0.9
	cfg.Optim.EMAWarmup = true
	cfg.Optim.ClipGradNorm = 2
	cfg.Schedule = ScheduleConfig{Name: "cosine", WarmupEpochs: 0.5, WarmupLR: 0.001, MinLR: 0.0001}
	return cfg
}

// TestResumeEquivalence: 3 epochs straight = 1 epoch + resume to 3 = a run
// cancelled in the middle of an accumulation group of epoch 2 + resume: same
// metrics every epoch and bit-identical final weights (pure-Go backend). The
// fresh first invocations also show that the same config and seed give the
// same first-epoch metrics.
func TestResumeEquivalence(t *testing.T) {
	straightCfg := resumeConfig(t)
	straight := mustRun(t, straightCfg, hooks{})
	require.Equal(t, 3, straight.Epochs)
	require.Equal(t, 6, straight.Steps) // 2 optimizer steps per epoch
	require.Len(t, straight.History, 3)
	want := loadVars(t, filepath.Join(straight.RunDir, checkpoint.Name(3)))
	require.Contains(t, want, emaScope+"/fc/weights") // the average is part of the compared state

	t.Run("epoch boundary", func(t *testing.T) {
		cfg := resumeConfig(t)
		cfg.Run.MaxSteps = 2
		first := mustRun(t, cfg, hooks{})
		require.Equal(t, 1, first.Epochs)
		// Determinism: an independent fresh run gives the same first epoch.
		requireSameHistory(t, straight.History[:1], first.History)

		cfg.Run.MaxSteps = 0
		second := mustRun(t, cfg, hooks{})
		requireSameHistory(t, straight.History, second.History)
		require.Equal(t, want, loadVars(t, filepath.Join(second.RunDir, checkpoint.Name(3))))
		requireSameHistory(t, straight.History, readJSONL(t, filepath.Join(second.RunDir, "metrics.jsonl")))
	})

	t.Run("cancelled mid-group", func(t *testing.T) {
		cfg := resumeConfig(t)
		runDir := cancelAtMicroStep(t, cfg, 4) // epoch 2, first micro-batch of a group of two
		require.Equal(t, filepath.Join(runDir, checkpoint.Name(1)), latest(t, runDir))

		second := mustRun(t, cfg, hooks{})
		requireSameHistory(t, straight.History, second.History)
		require.Equal(t, want, loadVars(t, filepath.Join(runDir, checkpoint.Name(3))))
		require.NoDirExists(t, filepath.Join(runDir, interruptedDir))
	})
}

func readJSONL(t *testing.T, path string) []EpochRecord {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []EpochRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r EpochRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		out = append(out, r)
	}
	return out
}

// TestRunDirectory checks the files of a run directory and that a finished
// run re-run does nothing more.
func TestRunDirectory(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Run.KeepLast = 1
	res := mustRun(t, cfg, hooks{})
	for _, name := range []string{"config.yaml", "model.json", "split.json", "metrics.csv", "metrics.jsonl", "curves.png",
		"confusion.csv", "confusion.png", checkpoint.Name(2) + "/model.safetensors", "best/model.safetensors"} {
		require.FileExists(t, filepath.Join(res.RunDir, name))
	}
	require.NoDirExists(t, filepath.Join(res.RunDir, checkpoint.Name(1)), "keep_last 1")
	info, err := checkpoint.ReadModelInfo(res.RunDir)
	require.NoError(t, err)
	require.Equal(t, "resnet18", info.Arch)
	require.Equal(t, 16, info.Preprocessing.Crop)
	require.Equal(t, 18, info.Preprocessing.Resize)

	// metrics.csv: header plus one row per epoch, no NaN text.
	b, err := os.ReadFile(filepath.Join(res.RunDir, "metrics.csv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 3)
	require.True(t, strings.HasPrefix(lines[0], "epoch,step,lr,train_loss,train_top1,val_loss,val_top1,seconds"), lines[0])
	require.NotContains(t, string(b), "NaN")

	// Re-running a finished run trains nothing.
	again := mustRun(t, cfg, hooks{})
	require.Equal(t, res.Steps, again.Steps)
	requireSameHistory(t, res.History, again.History)
}

// TestNonFiniteLoss: an exploding rate stops the run naming the step and
// keeps the last good checkpoint loadable.
func TestNonFiniteLoss(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Optim.Momentum = 0
	cfg.Schedule = ScheduleConfig{Name: "piecewise", Boundaries: []float64{1}, Values: []float64{0.01, 1e38}}
	_, err := run(context.Background(), cfg, io.Discard, hooks{})
	require.Error(t, err)
	require.Regexp(t, `loss is (NaN|\+Inf|-Inf) at step [5-6] \(epoch 2, batch [2-3]\)`, err.Error())
	require.Contains(t, err.Error(), "last good checkpoint")
	runDir := filepath.Join(cfg.Run.Dir, cfg.Run.Name)
	l := latest(t, runDir)
	require.Equal(t, filepath.Join(runDir, checkpoint.Name(1)), l)
	var st state
	require.NoError(t, checkpoint.Load(l, model.NewStore(), &st))
	require.Equal(t, 1, st.Epoch)
	require.NoDirExists(t, filepath.Join(runDir, interruptedDir))
}

// TestFineTuneFrozenBackbone fine-tunes a 4-class model from a 3-class run:
// the head is replaced, the preprocessing comes from the source run, and a
// frozen backbone keeps its weights and BatchNorm running statistics.
func TestFineTuneFrozenBackbone(t *testing.T) {
	src := tinyConfig(t)
	src.Run.Epochs = 1
	srcRes := mustRun(t, src, hooks{})
	// Give the source run a distinctive preprocessing.
	info, err := checkpoint.ReadModelInfo(srcRes.RunDir)
	require.NoError(t, err)
	info.Preprocessing.Mean = [3]float32{0.5, 0.5, 0.5}
	info.Preprocessing.Std = [3]float32{0.25, 0.25, 0.25}
	require.NoError(t, checkpoint.WriteModelInfo(srcRes.RunDir, info))

	cfg := tinyConfig(t)
	cfg.Run.Epochs = 1
	cfg.Data.Root = tinyData(t, 4)
	cfg.Data.NumClasses = 4
	cfg.Data.Eval.ResizeShorter, cfg.Data.Eval.Crop = 20, 16
	cfg.Model.Pretrained = srcRes.RunDir
	cfg.Model.FreezeBackboneEpochs = 1
	res := mustRun(t, cfg, hooks{})
	require.Equal(t, 1, res.Epochs)

	got, err := checkpoint.ReadModelInfo(res.RunDir)
	require.NoError(t, err)
	require.Equal(t, [3]float32{0.5, 0.5, 0.5}, got.Preprocessing.Mean)
	require.Equal(t, 20, got.Preprocessing.Resize)
	require.Equal(t, 4, got.NumClasses)

	before := loadVars(t, filepath.Join(srcRes.RunDir, checkpoint.Best))
	after := loadVars(t, filepath.Join(res.RunDir, checkpoint.Name(1)))
	require.Len(t, after["/model/fc/biases"], 4)
	checked := 0
	for name, v := range after {
		switch {
		case strings.HasPrefix(name, optimizerScope+"/"):
			require.Contains(t, name, "~fc~", "the frozen step keeps optimizer state for the head only")
		case strings.HasPrefix(name, "/model/") && !resnet.IsHead(name):
			require.Equal(t, before[name], v, "%s changed while frozen", name)
			checked++
		}
	}
	require.Greater(t, checked, 80, "weights and BN running statistics")
}

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"missing dataset", func(c *Config) { c.Data.Root = filepath.Join(c.Run.Dir, "nowhere") }, []string{"dataset not found", "train_list.txt", "cat12"}},
		{"bad pretrained path", func(c *Config) { c.Model.Pretrained = filepath.Join(c.Run.Dir, "none.safetensors") }, []string{"model.pretrained", "none.safetensors"}},
		{"invalid config", func(c *Config) { c.Run.Epochs = 0 }, []string{"run.epochs must be positive"}},
		{"unknown backend", func(c *Config) { c.Run.Backend = "tpu" }, []string{`backend "tpu" unknown`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			tc.edit(&cfg)
			_, err := Run(context.Background(), cfg, io.Discard)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.False(t, errors.Is(err, context.Canceled))
		})
	}
}

func TestFindResume(t *testing.T) {
	runDir := t.TempDir()
	store := model.NewStore()
	for _, d := range []string{checkpoint.Name(1), checkpoint.Name(2), checkpoint.Best} {
		require.NoError(t, checkpoint.Saver{}.Save(filepath.Join(runDir, d), store, state{}))
	}
	require.NoError(t, os.WriteFile(filepath.Join(runDir, "split.json"), []byte("{}"), 0o644))
	cfg := DefaultConfig()

	got, err := findResume(cfg, runDir, io.Discard)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(runDir, checkpoint.Name(2)), got, "latest numbered")

	require.NoError(t, checkpoint.Saver{}.Save(filepath.Join(runDir, interruptedDir), store, state{Epoch: 2, Batch: 1}))
	got, err = findResume(cfg, runDir, io.Discard)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(runDir, interruptedDir), got, "interrupted is newer")

	cfg.Run.Resume = false
	var log strings.Builder
	got, err = findResume(cfg, runDir, &log)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Contains(t, log.String(), "removing 4 old checkpoints")
	entries, err := os.ReadDir(runDir)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestArchFromCheckpoint(t *testing.T) {
	runDir := t.TempDir()
	prep := preprocess.KerasCaffeImageNet
	prep.Resize, prep.Crop = 40, 32
	require.NoError(t, checkpoint.WriteModelInfo(runDir, checkpoint.ModelInfo{Arch: "resnet34", Layout: string(resnet.LayoutKeras),
		NumClasses: 5, Scope: resnet.RootScope, Preprocessing: prep}))
	cfg := DefaultConfig()
	var log strings.Builder
	got, gotPrep, ok := archFromCheckpoint(cfg, runDir, &log)
	require.True(t, ok)
	require.Equal(t, prep, gotPrep)
	require.Equal(t, "resnet34", got.Model.Arch)
	require.Equal(t, resnet.LayoutKeras, got.Model.Layout)
	require.Equal(t, 5, got.Data.NumClasses)
	require.Equal(t, 32, got.Data.Eval.Crop)
	require.Equal(t, 40, got.Data.Eval.ResizeShorter)
	for _, key := range []string{"model.arch", "model.layout", "data.num_classes", "data.eval.crop", "data.eval.resize_shorter"} {
		require.Contains(t, log.String(), "warning: "+key)
	}

	// Same settings: no warning.
	log.Reset()
	_, _, ok = archFromCheckpoint(got, runDir, &log)
	require.True(t, ok)
	require.Empty(t, log.String())

	// No model.json: the config stands, with a warning.
	log.Reset()
	same, _, ok := archFromCheckpoint(cfg, t.TempDir(), &log)
	require.False(t, ok)
	require.Equal(t, cfg, same)
	require.Contains(t, log.String(), "warning")
}
