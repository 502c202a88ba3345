package predict

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/models/resnet"
)

// setHead rewrites best/ of runDir (a valid checkpoint, manifest and all)
// with the classifier weights replaced by f(weights).
func setHead(t *testing.T, runDir string, f func([]float32)) {
	t.Helper()
	best := filepath.Join(runDir, checkpoint.Best)
	store := model.NewStore()
	require.NoError(t, checkpoint.Load(best, store, nil))
	v := store.GetVariable(resnet.RootScope + "/fc/weights")
	w := tensors.MustCopyFlatData[float32](v.MustValue())
	f(w)
	require.NoError(t, v.SetValue(tensors.FromFlatDataAndDimensions(w, v.Shape().Dimensions...)))
	require.NoError(t, checkpoint.Saver{}.Save(best, store, nil))
}

// Predict refuses a damaged checkpoint, weights that are not finite and
// outputs that are not finite, with one line naming the checkpoint.
func TestPredictRefusesDamage(t *testing.T) {
	fixtureRun, data := fixture(t)
	tests := []struct {
		name   string
		damage func(runDir string)
		want   string
	}{
		{"bit flip", func(runDir string) {
			p := filepath.Join(runDir, checkpoint.Best, "model.safetensors")
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			b[len(b)/2] ^= 1
			require.NoError(t, os.WriteFile(p, b, 0o644))
		}, filepath.Join(checkpoint.Best, "model.safetensors") + " is damaged"},
		{"NaN weight", func(runDir string) {
			setHead(t, runDir, func(w []float32) { w[1] = float32(math.NaN()) })
		}, "damaged weights: variable /model/fc/weights holds NaN (element 1)"},
		{"infinite output", func(runDir string) {
			setHead(t, runDir, func(w []float32) {
				for i := range w {
					w[i] = 3e38 * float32(i%2*2-1)
				}
			})
		}, "the network's output is NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runDir := filepath.Join(t.TempDir(), "run")
			require.NoError(t, os.CopyFS(runDir, os.DirFS(fixtureRun)))
			tc.damage(runDir)
			_, _, _, err := run(t, Options{Checkpoint: runDir, Images: filepath.Join(data, "cat_12_test"), Out: filepath.Join(t.TempDir(), "r.csv")})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, filepath.Join(runDir, checkpoint.Best))
			require.NotContains(t, err.Error(), "\n")
		})
	}
}
