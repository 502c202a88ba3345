package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/preprocess"
)

func TestModelInfoPreprocess(t *testing.T) {
	dir := t.TempDir()
	steps, err := preprocess.ResolveSteps([]preprocess.StepConfig{{"op": "gaussian", "ksize": 5}, {"op": "cvtcolor", "code": "hsv"}})
	require.NoError(t, err)
	info := ModelInfo{Arch: "resnet18", Layout: "v1.5", NumClasses: 3, Scope: "/model",
		Preprocessing: preprocess.TorchvisionImageNet, Preprocess: steps}
	require.NoError(t, WriteModelInfo(dir, info))
	back, err := ReadModelInfo(dir)
	require.NoError(t, err)
	again, err := preprocess.ResolveSteps(back.Preprocess)
	require.NoError(t, err)
	require.Equal(t, steps, again, "JSON numbers come back as float64; resolving restores the ints")

	require.NoError(t, WriteModelInfo(dir, ModelInfo{Arch: "resnet18", NumClasses: 3}))
	b, err := os.ReadFile(filepath.Join(dir, ModelInfoFile))
	require.NoError(t, err)
	require.NotContains(t, string(b), "preprocess\"", "no steps: no key, as in model.json files written before steps existed")

	bad := `{"arch": "resnet18", "num_classes": 3, "preprocess": [{"op": "gaussian", "ksize": 4}]}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, ModelInfoFile), []byte(bad), 0o644))
	_, err = ReadModelInfo(dir)
	require.ErrorContains(t, err, "model.json: preprocess: step 1 (gaussian): ksize must be odd")
}
