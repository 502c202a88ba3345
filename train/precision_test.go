package train

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBFloat16Precision trains the tiny run with bfloat16 activations: it
// must train (finite losses), keep float32 master weights in the checkpoint,
// and move them.
func TestBFloat16Precision(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Run.Epochs = 1
	cfg.Run.Precision = "bfloat16"
	res := mustRun(t, cfg, hooks{})
	require.Equal(t, 1, res.Epochs)
	vars := loadVars(t, latest(t, res.RunDir))
	require.Contains(t, vars, "/model/stem/conv/kernel", "float32 master weights are saved as float32 tensors")

	ref := tinyConfig(t)
	ref.Run.Epochs = 1
	refRes := mustRun(t, ref, hooks{})
	refVars := loadVars(t, latest(t, refRes.RunDir))
	a, b := vars["/model/fc/weights"], refVars["/model/fc/weights"]
	require.Equal(t, len(b), len(a))
	diff := 0.0
	for i := range a {
		d := float64(a[i] - b[i])
		diff += d * d
	}
	require.Greater(t, diff, 0.0, "bfloat16 activations must change the arithmetic")
}

func TestPrecisionConfigError(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Run.Precision = "fp8"
	require.ErrorContains(t, cfg.Validate(), "run.precision must be float32 or bfloat16")
}
