package train

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/predict"
	"github.com/gocls/gocls/preprocess"
)

// The training loader cuts data.augment.crop crops (uint8 pixels) while the
// validation loader keeps the data.eval crop; augment.crop 0 trains on the
// eval crop.
func TestLoadersTrainCrop(t *testing.T) {
	p := preprocess.TorchvisionImageNet
	torchvisionNorm := dataset.Normalize{Mean: p.Mean, Std: p.Std, Scale: p.Scale, BGR: p.BGR}
	for _, tc := range []struct {
		name            string
		augCrop, wantTr int
	}{
		{"augment.crop 12", 12, 12},
		{"augment.crop 0", 0, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			cfg.Data.Augment.Crop = tc.augCrop
			trainSet, valSet, err := loadSplit(cfg, t.TempDir(), false, io.Discard)
			require.NoError(t, err)
			tr, val, err := loaders(cfg, trainSet, valSet, torchvisionNorm, io.Discard)
			require.NoError(t, err)
			n := 0
			for b := range tr.Epoch(context.Background(), 0) {
				require.Nil(t, b.Images)
				require.Len(t, b.Pixels, b.Size*tc.wantTr*tc.wantTr*3)
				n += b.Size
				tr.Release(b)
			}
			require.Equal(t, 12, n)
			n = 0
			for b := range val.Epoch(context.Background(), 0) {
				require.Nil(t, b.Pixels)
				require.Len(t, b.Images, b.Size*16*16*3)
				n += b.Size
				val.Release(b)
			}
			require.Equal(t, 3, n)
		})
	}
}

// A run trains on smaller crops than it evaluates and predicts on, CutMix
// boxes included; model.json records the evaluation sizes.
func TestRunTrainCrop(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Run.Epochs = 1
	cfg.Data.Augment.Crop = 12
	cfg.Mixup.CutmixAlpha = 1
	res := mustRun(t, cfg, hooks{})
	require.Len(t, res.History, 1)
	require.Equal(t, 3, res.History[0].ValN)
	info, err := checkpoint.ReadModelInfo(res.RunDir)
	require.NoError(t, err)
	require.Equal(t, 16, info.Preprocessing.Crop)
	require.Equal(t, 18, info.Preprocessing.Resize)
	out := filepath.Join(t.TempDir(), "result.csv")
	_, err = predict.Run(context.Background(), predict.Options{Checkpoint: res.RunDir, Step: -1,
		Images: cfg.Data.TestPath(), Out: out, Backend: "go", BatchSize: 4, Workers: 1}, io.Discard)
	require.NoError(t, err)
	require.FileExists(t, out)
	saved, err := LoadConfig(filepath.Join(res.RunDir, "config.yaml"), nil)
	require.NoError(t, err)
	require.Equal(t, 12, saved.Data.Augment.Crop)
}
