package train

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/internal/safetensors"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
)

// writeWeightsFile writes a complete resnet18 weight set named as this
// project's tree (what weights.Open reads from a .safetensors file); tensor
// number i is filled with i+1.
func writeWeightsFile(t *testing.T, layout resnet.Layout, classes int) (string, map[string]float32) {
	t.Helper()
	net, err := resnet.New("resnet18", classes, layout)
	require.NoError(t, err)
	vars := net.Variables()
	slices.SortFunc(vars, func(a, b resnet.Var) int { return strings.Compare(a.Path, b.Path) })
	ts := map[string]safetensors.Tensor{}
	values := map[string]float32{}
	for i, v := range vars {
		size := 1
		for _, d := range v.Dims {
			size *= d
		}
		data := make([]float32, size)
		for j := range data {
			data[j] = float32(i + 1)
		}
		ts[v.Path] = safetensors.Tensor{Shape: v.Dims, Data: data}
		values[v.Path] = float32(i + 1)
	}
	p := filepath.Join(t.TempDir(), "w.safetensors")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, safetensors.Write(f, ts, map[string]string{"layout": string(layout)}))
	require.NoError(t, f.Close())
	return p, values
}

func TestLoadPretrainedWeightsFile(t *testing.T) {
	for _, tc := range []struct {
		name       string
		layout     resnet.Layout
		fileClass  int
		classes    int
		wantPrep   preprocess.Convention
		headLoaded bool
	}{
		{"torchvision same classes", resnet.LayoutTorchvision, 3, 3, preprocess.TorchvisionImageNet, true},
		{"keras new head", resnet.LayoutKeras, 5, 3, preprocess.KerasCaffeImageNet, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, values := writeWeightsFile(t, tc.layout, tc.fileClass)
			cfg := tinyConfig(t)
			cfg.Model.Layout = tc.layout
			cfg.Model.Pretrained = path
			cfg.Data.NumClasses = tc.classes
			store := model.NewStore()
			prep, err := loadPretrained(cfg, store, io.Discard)
			require.NoError(t, err)
			require.Equal(t, tc.wantPrep, prep)
			for name, want := range values {
				v := store.GetVariable(resnet.RootScope + "/" + name)
				if resnet.IsHead("/" + name) {
					require.Equal(t, tc.headLoaded, v != nil, name)
					if v == nil {
						continue
					}
				}
				require.NotNil(t, v, name)
				require.Equal(t, want, tensors.MustCopyFlatData[float32](v.MustValue())[0], name)
			}
		})
	}
}

func TestLoadPretrainedErrors(t *testing.T) {
	wfile, _ := writeWeightsFile(t, resnet.LayoutTorchvision, 3)
	src := tinyConfig(t)
	src.Run.MaxSteps = 1
	srcRes := mustRun(t, src, hooks{})
	require.FileExists(t, filepath.Join(srcRes.RunDir, interruptedDir, "state.json"))
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"weights arch mismatch", func(c *Config) { c.Model.Pretrained, c.Model.Arch = wfile, "resnet34" }, []string{"holds resnet18", "model.arch is resnet34"}},
		{"weights layout mismatch", func(c *Config) { c.Model.Pretrained, c.Model.Layout = wfile, resnet.LayoutKeras }, []string{`layout "v1.5"`}},
		{"run without a numbered checkpoint", func(c *Config) { c.Model.Pretrained = srcRes.RunDir }, []string{"model.pretrained", "no checkpoint found"}},
		{"missing", func(c *Config) { c.Model.Pretrained = filepath.Join(t.TempDir(), "none") }, []string{"model.pretrained", "none"}},
		{"bad format", func(c *Config) {
			p := filepath.Join(t.TempDir(), "w.bin.txt")
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
			c.Model.Pretrained = p
		}, []string{"model.pretrained", "w.bin.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			tc.edit(&cfg)
			_, err := loadPretrained(cfg, model.NewStore(), io.Discard)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	// A run directory with a numbered checkpoint of another architecture.
	cfg := tinyConfig(t)
	cfg.Model.Arch = "resnet34"
	cfg.Model.Pretrained = srcRes.RunDir
	require.NoError(t, os.Rename(filepath.Join(srcRes.RunDir, interruptedDir), filepath.Join(srcRes.RunDir, checkpoint.Name(1))))
	_, err := loadPretrained(cfg, model.NewStore(), io.Discard)
	require.ErrorContains(t, err, "holds resnet18 weights")
}

// TestFineTuneFromWeightsFile trains one step from Keras-layout weights with
// a new head: model.json gets the weights' preprocessing (caffe: BGR, mean
// subtraction) with the eval sizes of the config.
func TestFineTuneFromWeightsFile(t *testing.T) {
	path, _ := writeWeightsFile(t, resnet.LayoutKeras, 5)
	cfg := tinyConfig(t)
	cfg.Model.Layout = resnet.LayoutKeras
	cfg.Model.Pretrained = path
	cfg.Run.MaxSteps = 1
	res := mustRun(t, cfg, hooks{})
	info, err := checkpoint.ReadModelInfo(res.RunDir)
	require.NoError(t, err)
	want := preprocess.KerasCaffeImageNet
	want.Resize, want.Crop = 18, 16
	require.Equal(t, want, info.Preprocessing)
	require.Equal(t, 3, info.NumClasses)
	require.Equal(t, string(resnet.LayoutKeras), info.Layout)
}
