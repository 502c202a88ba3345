package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/predict/predicttest"
)

// TestInspectOwnCheckpoint: inspecting a run or checkpoint of this project
// describes the network from model.json, with no problems.
func TestInspectOwnCheckpoint(t *testing.T) {
	runDir := filepath.Join(t.TempDir(), "run")
	require.NoError(t, predicttest.SaveRun(runDir, "resnet18", 4, predicttest.TinyPreprocessing, 2))
	for _, spec := range []string{runDir, filepath.Join(runDir, checkpoint.Best, "model.safetensors")} {
		var out, errb bytes.Buffer
		code := run([]string{"inspect", spec}, &out, &errb)
		require.Equal(t, 0, code, errb.String())
		require.Empty(t, errb.String())
		for _, line := range []string{
			"arch:          resnet18\n", "layout:        v1.5\n", "classes:       4\n", "labels:        4\n",
			"tensors:       102 (", // resnet18's variables, no optimizer state
		} {
			require.Contains(t, out.String(), line)
		}
	}
}
