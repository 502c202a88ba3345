package weights

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/internal/safetensors"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/predict/predicttest"
)

// TestOpenOwnCheckpoint: a run directory, checkpoint directory or
// model.safetensors of this project opens as the network it holds, described
// by model.json, without the optimizer state and with no problems.
func TestOpenOwnCheckpoint(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	require.NoError(t, predicttest.SaveRun(run, "resnet18", 3, predicttest.TinyPreprocessing, 1))
	want := mustShapes(t, "resnet18", resnet.LayoutTorchvision, 3)
	for _, spec := range []string{run, filepath.Join(run, checkpoint.Best), filepath.Join(run, checkpoint.Name(1)), filepath.Join(run, checkpoint.Best, "model.safetensors")} {
		t.Run(strings.TrimPrefix(spec, dir), func(t *testing.T) {
			s, err := Open(spec, "")
			require.NoError(t, err)
			require.Equal(t, "resnet18", s.Arch)
			require.Equal(t, resnet.LayoutTorchvision, s.Layout)
			require.Equal(t, 3, s.NumClasses)
			require.Equal(t, predicttest.TinyPreprocessing, s.Preprocessing)
			require.Equal(t, []string{predicttest.ClassName(0), predicttest.ClassName(1), predicttest.ClassName(2)}, s.Labels)
			require.Len(t, s.Tensors, len(want))
			for name, tensor := range s.Tensors {
				require.Equal(t, want[name], tensor.Shape, name)
			}
		})
	}

	// As training writes it: the optimizer's momentum beside the network.
	raw, meta, err := safetensors.ReadFile(filepath.Join(run, checkpoint.Best, "model.safetensors"))
	require.NoError(t, err)
	require.Equal(t, "gocls", meta["format"])
	withOpt := map[string]safetensors.Tensor{}
	for name, tensor := range raw {
		withOpt[name] = tensor
		withOpt["/optimizer/momentum/"+strings.ReplaceAll(strings.TrimPrefix(name, "/"), "/", "~")] = tensor
	}
	alone := filepath.Join(dir, "copy", "ckpt", "model.safetensors")
	require.NoError(t, os.MkdirAll(filepath.Dir(alone), 0o755))
	writeSafetensors(t, alone, withOpt, meta)
	s, err := Open(alone, "")
	require.NoError(t, err, "without model.json the layout is inferred")
	require.Equal(t, "resnet18", s.Arch)
	require.Equal(t, 3, s.NumClasses)
	require.Len(t, s.Tensors, len(want), "optimizer state left out")

	// A model.json that contradicts the tensors is an error naming it.
	info, err := checkpoint.ReadModelInfo(run)
	require.NoError(t, err)
	info.Arch = "resnet34"
	b, err := json.Marshal(info)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "copy", checkpoint.ModelInfoFile), b, 0o644))
	_, err = Open(alone, "")
	require.ErrorContains(t, err, "holds a 3-class resnet18, but "+filepath.Join(dir, "copy", checkpoint.ModelInfoFile)+" says a 3-class resnet34")

	// A run directory without any checkpoint says so (not "no weightsManifest").
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	require.NoError(t, checkpoint.WriteModelInfo(empty, info))
	_, err = Open(empty, "")
	require.ErrorContains(t, err, "no checkpoint found")
}

func writeSafetensors(t *testing.T, path string, ts map[string]safetensors.Tensor, meta map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, safetensors.Write(f, ts, meta))
	require.NoError(t, f.Close())
}
