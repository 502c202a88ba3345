package train

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/internal/synth"
)

// ownData generates a private copy of tinyConfig's dataset (3 classes, 5
// images each) that a test may damage, and points cfg at it.
func ownData(t *testing.T, cfg *Config) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "data")
	require.NoError(t, synth.Generate(root, synth.Options{Classes: 3, PerClass: 5, Test: 3, Size: 20, Seed: 3}))
	cfg.Data.Root = root
	return root
}

// spoil overwrites image files with bytes no decoder accepts.
func spoil(t *testing.T, samples []dataset.Sample) {
	t.Helper()
	for _, s := range samples {
		require.NoError(t, os.WriteFile(s.Path, []byte("not an image"), 0o644))
	}
}

// requireNoCheckpoints fails if runDir holds any checkpoint directory.
func requireNoCheckpoints(t *testing.T, runDir string) {
	t.Helper()
	l, err := checkpoint.List(runDir)
	require.NoError(t, err)
	require.Empty(t, l)
	require.NoDirExists(t, filepath.Join(runDir, checkpoint.Best))
	require.NoDirExists(t, filepath.Join(runDir, interruptedDir))
}

// An epoch without a single usable training image is an error, and no
// (empty) checkpoint is written.
func TestZeroImageEpochFails(t *testing.T) {
	cfg := tinyConfig(t)
	root := ownData(t, &cfg)
	samples, _, err := dataset.ReadList(filepath.Join(root, cfg.Data.TrainList), root, 3)
	require.NoError(t, err)
	spoil(t, samples)
	_, err = run(context.Background(), cfg, io.Discard, hooks{})
	require.ErrorContains(t, err, "epoch 1 has no usable training image")
	requireNoCheckpoints(t, filepath.Join(cfg.Run.Dir, cfg.Run.Name))
	require.NoDirExists(t, filepath.Join(cfg.Run.Dir, cfg.Run.Name), "a new run that saved nothing leaves no run directory")
}

// Only a validated epoch can be "best": without validation images there is
// no best/ (predict takes the latest), and an epoch whose validation images
// became unreadable does not replace the best one.
func TestBestNeedsValidation(t *testing.T) {
	t.Run("no validation split", func(t *testing.T) {
		cfg := tinyConfig(t)
		cfg.Run.Epochs = 1
		cfg.Data.ValRatio = 0
		res := mustRun(t, cfg, hooks{})
		require.Equal(t, 0, res.BestEpoch)
		require.NoDirExists(t, filepath.Join(res.RunDir, checkpoint.Best))
		dir, err := checkpoint.Resolve(res.RunDir, -1)
		require.NoError(t, err)
		require.Equal(t, filepath.Join(res.RunDir, checkpoint.Name(1)), dir)
	})
	t.Run("validation images unreadable", func(t *testing.T) {
		cfg := tinyConfig(t)
		ownData(t, &cfg)
		cfg.Run.Epochs = 1
		res := mustRun(t, cfg, hooks{})
		require.Equal(t, 1, res.BestEpoch)
		_, _, val, err := dataset.LoadSplit(filepath.Join(res.RunDir, "split.json"), cfg.Data.Root)
		require.NoError(t, err)
		spoil(t, val)
		cfg.Run.Epochs = 2
		res = mustRun(t, cfg, hooks{})
		require.Equal(t, 1, res.BestEpoch)
		var st state
		require.NoError(t, checkpoint.Load(filepath.Join(res.RunDir, checkpoint.Best), model.NewStore(), &st))
		require.Equal(t, 1, st.Epoch)
	})
}

// A trainer starts by removing what a kill during a save left in its run
// directory (a checkpoint's temporary directory here).
func TestLeftoversRemovedOnStart(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Run.Epochs = 1
	res := mustRun(t, cfg, hooks{})
	tmp := filepath.Join(res.RunDir, ".ckpt-00000002.tmp-77")
	require.NoError(t, os.MkdirAll(tmp, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "model.safetensors"), []byte("partial"), 0o644))
	cfg.Run.Epochs = 2
	mustRun(t, cfg, hooks{})
	require.NoDirExists(t, tmp)
}

// flipBit flips one bit in the middle of a file.
func flipBit(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[len(b)/2] ^= 1
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// A resume passes over a damaged checkpoint (bit flip, truncation) to the
// newest intact one, with a warning naming the damaged file; with nothing
// intact it stops, naming run.resume=false.
func TestResumeFallsBackToIntactCheckpoint(t *testing.T) {
	cfg := tinyConfig(t)
	res := mustRun(t, cfg, hooks{})
	ckpt2 := filepath.Join(res.RunDir, checkpoint.Name(2))
	flipBit(t, filepath.Join(ckpt2, "model.safetensors"))

	cfg.Run.Epochs = 3
	var log strings.Builder
	res, err := run(context.Background(), cfg, &log, hooks{})
	require.NoError(t, err)
	require.Contains(t, log.String(), "warning: checkpoint: "+filepath.Join(ckpt2, "model.safetensors")+" is damaged")
	require.Contains(t, log.String(), "resuming from "+filepath.Join(res.RunDir, checkpoint.Name(1)))
	require.Equal(t, 3, res.Epochs)
	require.NoError(t, checkpoint.Load(ckpt2, model.NewStore(), &state{}), "epoch 2 retrained and saved again")

	for _, d := range []string{checkpoint.Name(2), checkpoint.Name(3)} {
		require.NoError(t, os.Truncate(filepath.Join(res.RunDir, d, "state.json"), 10))
	}
	cfg.Run.Epochs = 4
	_, err = run(context.Background(), cfg, io.Discard, hooks{})
	require.ErrorContains(t, err, "every checkpoint of "+res.RunDir+" is damaged")
	require.ErrorContains(t, err, "-set run.resume=false")
}

// fullDisk is a checkpoint.Saver whose writes fail with ENOSPC in the
// file-th file of a save (0: the weights, 1: state.json, 2: the manifest),
// after 64 bytes, as on a full disk.
func fullDisk(file int) checkpoint.Saver {
	n := 0
	return checkpoint.Saver{WrapWriter: func(w io.Writer) io.Writer {
		n++
		if (n-1)%3 != file {
			return w
		}
		return &limitedWriter{w: w, left: 64}
	}}
}

type limitedWriter struct {
	w    io.Writer
	left int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > l.left {
		n, _ := l.w.Write(p[:l.left])
		l.left = 0
		return n, syscall.ENOSPC
	}
	l.left -= len(p)
	return l.w.Write(p)
}

// A full disk while saving an epoch's checkpoint stops the run with the
// error, loses nothing (the previous checkpoints load, nothing half
// written is left) and the run resumes once there is space.
func TestFullDiskDuringSave(t *testing.T) {
	base := tinyConfig(t)
	base.Run.Epochs = 1
	baseRun := mustRun(t, base, hooks{}).RunDir
	for file, name := range []string{"weights", "state", "manifest"} {
		t.Run(name, func(t *testing.T) {
			cfg := base
			cfg.Run.Dir = t.TempDir()
			res := &Result{RunDir: filepath.Join(cfg.Run.Dir, cfg.Run.Name)}
			require.NoError(t, os.CopyFS(res.RunDir, os.DirFS(baseRun)))
			cfg.Run.Epochs = 2
			_, err := run(context.Background(), cfg, io.Discard, hooks{saver: fullDisk(file)})
			require.ErrorIs(t, err, syscall.ENOSPC)
			require.ErrorContains(t, err, checkpoint.Name(2))

			entries, err := os.ReadDir(res.RunDir)
			require.NoError(t, err)
			for _, e := range entries {
				require.NotContains(t, e.Name(), ".tmp-")
			}
			require.NoDirExists(t, filepath.Join(res.RunDir, checkpoint.Name(2)))
			var st state
			require.NoError(t, checkpoint.Load(latest(t, res.RunDir), model.NewStore(), &st))
			require.Equal(t, 1, st.Epoch)
			best, err := checkpoint.Resolve(res.RunDir, -1)
			require.NoError(t, err)
			require.NoError(t, checkpoint.Load(best, model.NewStore(), &state{}))

			if file == 0 { // once is enough: resuming after a failed save
				res = mustRun(t, cfg, hooks{})
				require.Equal(t, 2, res.Epochs)
			}
		})
	}
}
