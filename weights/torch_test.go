package weights

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// python is the Debian interpreter that has python3-torch; tests that need it
// skip when it or torch is missing.
const python = "/usr/bin/python3"

func requireTorch(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the PyTorch comparison")
	}
	if err := exec.Command(python, "-c", "import torch, torchvision").Run(); err != nil {
		t.Skipf("%s with torch and torchvision not available: %v", python, err)
	}
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// A torchvision resnet18 with random weights and BN statistics, saved as
// .pth and .safetensors by PyTorch, must give PyTorch's logits once loaded
// into our torchvision-layout model.
func TestTorchvisionResNet18MatchesPyTorch(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	out, err := exec.Command(python, "testdata/make_testdata.py", "resnet18", dir).CombinedOutput()
	require.NoError(t, err, string(out))

	pth, err := Open(filepath.Join(dir, "resnet18.pth"), "")
	require.NoError(t, err)
	st, err := Open(filepath.Join(dir, "resnet18.safetensors"), "")
	require.NoError(t, err)
	require.Equal(t, pth.Tensors, st.Tensors)
	legacy, err := Open(filepath.Join(dir, "resnet18_legacy.pth"), "")
	require.NoError(t, err)
	require.Equal(t, pth.Tensors, legacy.Tensors)
	require.Equal(t, "resnet18", pth.Arch)
	require.Equal(t, resnet.LayoutTorchvision, pth.Layout)
	require.Equal(t, 10, pth.NumClasses)
	require.Equal(t, preprocess.TorchvisionImageNet, pth.Preprocessing)

	store := model.NewStore()
	require.NoError(t, pth.Assign(store.RootScope().In("model"), false))
	m, err := resnet.New("resnet18", 10, resnet.LayoutTorchvision)
	require.NoError(t, err)
	e, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		return m.Logits(scope.In("model"), images)
	})
	require.NoError(t, err)
	input := readF32(t, filepath.Join(dir, "input.f32"))
	got, err := e.Call1(tensors.FromFlatDataAndDimensions(input, 2, 64, 64, 3))
	require.NoError(t, err)
	want := readF32(t, filepath.Join(dir, "logits.f32"))
	gotData := tensors.MustCopyFlatData[float32](got)
	require.Len(t, gotData, len(want))
	var maxDiff float64
	for i := range want {
		maxDiff = max(maxDiff, math.Abs(float64(gotData[i]-want[i])))
	}
	t.Logf("max |Δlogit| vs PyTorch: %.2e (logits %v)", maxDiff, want[:3])
	require.Less(t, maxDiff, 1e-3)
}
