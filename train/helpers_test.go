package train

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/internal/synth"
)

// Synthetic datasets shared by the tests of this package, generated once.
var (
	dataOnce sync.Once
	dataBase string
	dataErr  error
)

// tinyData returns a synthetic dataset directory with the given number of
// classes (3 or 4): 5 images of 20x20 pixels per class.
func tinyData(t testing.TB, classes int) string {
	t.Helper()
	dataOnce.Do(func() {
		dataBase, dataErr = os.MkdirTemp("", "train-test-data-")
		if dataErr != nil {
			return
		}
		for _, c := range []int{3, 4} {
			dir := filepath.Join(dataBase, "c"+string(rune('0'+c)))
			if dataErr = synth.Generate(dir, synth.Options{Classes: c, PerClass: 5, Test: 3, Size: 20, Seed: 3}); dataErr != nil {
				return
			}
		}
	})
	require.NoError(t, dataErr)
	return filepath.Join(dataBase, "c"+string(rune('0'+classes)))
}

func TestMain(m *testing.M) {
	if os.Getenv(saverEnv) != "" {
		saverMain()
		return
	}
	code := m.Run()
	if dataBase != "" {
		os.RemoveAll(dataBase)
	}
	os.Exit(code)
}

// tinyConfig is a run small enough for unit tests: ResNet18 on 16x16 crops,
// 12 training and 3 validation images of 3 classes, batches of 4 (3 steps
// per epoch), 2 epochs, in a fresh temporary run directory.
func tinyConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Run.Name = "run"
	cfg.Run.Dir = t.TempDir()
	cfg.Run.Seed = 7
	cfg.Run.Epochs = 2
	cfg.Run.BatchSize = 4
	cfg.Run.KeepLast = 2
	cfg.Run.Progress = "off"
	cfg.Data.Root = tinyData(t, 3)
	cfg.Data.NumClasses = 3
	cfg.Data.ValRatio = 0.2
	cfg.Data.Workers = 2
	cfg.Data.Augment.Scale = [2]float64{0.5, 1}
	cfg.Data.Eval.ResizeShorter = 18
	cfg.Data.Eval.Crop = 16
	cfg.Model.Arch = "resnet18"
	cfg.Optim.LR = 0.01
	return cfg
}

// mustRun runs cfg and fails the test on error.
func mustRun(t testing.TB, cfg Config, hk hooks) *Result {
	t.Helper()
	res, err := run(context.Background(), cfg, io.Discard, hk)
	require.NoError(t, err)
	return res
}

// comparable strips the wall-clock fields of a history.
func comparable(h []EpochRecord) []EpochRecord {
	out := make([]EpochRecord, len(h))
	for i, r := range h {
		r.Seconds, r.ImgPerSec = 0, 0
		out[i] = r
	}
	return out
}

// requireSameHistory compares histories exactly, NaN equal to NaN.
func requireSameHistory(t testing.TB, want, got []EpochRecord) {
	t.Helper()
	want, got = comparable(want), comparable(got)
	require.Equal(t, len(want), len(got))
	for i := range want {
		w, g := want[i], got[i]
		for j := range w.ValPerClass {
			if math.IsNaN(float64(w.ValPerClass[j])) && math.IsNaN(float64(g.ValPerClass[j])) {
				w.ValPerClass[j], g.ValPerClass[j] = 0, 0
			}
		}
		require.Equal(t, w, g, "epoch %d", i+1)
	}
}

// loadVars returns every float32 variable of a checkpoint directory.
func loadVars(t testing.TB, dir string) map[string][]float32 {
	t.Helper()
	ts, err := checkpoint.LoadTensors(dir)
	require.NoError(t, err)
	out := map[string][]float32{}
	for k, v := range ts {
		out[k] = v.Data
	}
	return out
}

// latest returns the newest numbered checkpoint of a run directory.
func latest(t testing.TB, runDir string) string {
	t.Helper()
	l, err := checkpoint.Latest(runDir)
	require.NoError(t, err)
	require.NotEmpty(t, l, "no checkpoint in %s", runDir)
	return l
}

var _ = model.NewStore
