package train

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/dataset"
)

// The split is stored relative to data.root: a run resumes after its data
// moved (or from another working directory, with data.root set accordingly)
// and trains on every image.
func TestResumeAfterDataMoved(t *testing.T) {
	cfg := tinyConfig(t)
	root := ownData(t, &cfg)
	cfg.Run.Epochs = 1
	mustRun(t, cfg, hooks{})

	moved := filepath.Join(t.TempDir(), "moved")
	require.NoError(t, os.Rename(root, moved))
	cfg.Data.Root = moved
	cfg.Run.Epochs = 2
	res := mustRun(t, cfg, hooks{})
	require.Len(t, res.History, 2)
	require.Equal(t, 2*res.History[0].Step, res.History[1].Step, "epoch 2 trained on fewer images")
	require.Equal(t, res.History[0].ValN, res.History[1].ValN)
	_, trainSet, _, err := dataset.LoadSplit(filepath.Join(res.RunDir, "split.json"), moved)
	require.NoError(t, err)
	for _, s := range trainSet {
		require.FileExists(t, s.Path)
	}
}

// A resumed run refuses a split made from another list, val_ratio or
// split_seed, naming the way out; run.resume=false starts over.
func TestResumeRefusesStaleSplit(t *testing.T) {
	base := tinyConfig(t)
	root := ownData(t, &base)
	base.Run.Epochs = 1
	mustRun(t, base, hooks{})
	base.Run.Epochs = 2

	listPath := filepath.Join(root, base.Data.TrainList)
	tests := []struct {
		name   string
		change func(cfg *Config)
		want   string
	}{
		{"val_ratio", func(cfg *Config) { cfg.Data.ValRatio = 0.4 }, "data.val_ratio is 0.4, the split was made with 0.2"},
		{"split_seed", func(cfg *Config) { cfg.Data.SplitSeed++ }, "data.split_seed is"},
		{"list", func(cfg *Config) {
			b, err := os.ReadFile(listPath)
			require.NoError(t, err)
			lines := strings.SplitAfter(string(b), "\n")
			require.NoError(t, os.WriteFile(listPath, []byte(strings.Join(lines[1:], "")), 0o644))
		}, "the list file changed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.change(&cfg)
			_, err := run(context.Background(), cfg, io.Discard, hooks{})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "split.json")
			require.ErrorContains(t, err, "-set run.resume=false")
		})
	}
	cfg := base
	cfg.Run.Resume = false
	res := mustRun(t, cfg, hooks{})
	require.Len(t, res.History, 2)
}

// A version 1 split.json (resolved paths, no source) of an older run is
// checked against a fresh split and rewritten as version 2.
func TestResumeUpgradesVersion1Split(t *testing.T) {
	cfg := tinyConfig(t)
	ownData(t, &cfg)
	cfg.Run.Epochs = 1
	res := mustRun(t, cfg, hooks{})
	splitPath := filepath.Join(res.RunDir, "split.json")
	_, trainSet, valSet, err := dataset.LoadSplit(splitPath, cfg.Data.Root)
	require.NoError(t, err)
	v1, err := json.Marshal(map[string]any{"version": 1, "train": trainSet, "val": valSet})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(splitPath, v1, 0o644))

	cfg.Run.Epochs = 2
	mustRun(t, cfg, hooks{})
	src, _, _, err := dataset.LoadSplit(splitPath, cfg.Data.Root)
	require.NoError(t, err)
	require.NotEmpty(t, src.ListSHA256)
}
