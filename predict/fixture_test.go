package predict

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/internal/synth"
	"github.com/gocls/gocls/models/resnet"
)

// The fixture is built once per test binary: a tiny ResNet18 run directory
// (3 classes, 32x32 inputs, "best" plus ckpt-00000001 with negated head) and
// a synthetic dataset.
var (
	fixtureOnce sync.Once
	fixtureErr  error
	fixtureRun  string // run directory
	fixtureData string // synth dataset directory
)

const fixtureClasses = 3

var fixturePrep = resnet.Preprocessing{Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.25, 0.25, 0.25}, Scale: 1, Resize: 32, Crop: 32}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureRun != "" {
		os.RemoveAll(filepath.Dir(fixtureRun))
	}
	os.Exit(code)
}

// fixture returns the run directory and the synthetic dataset directory.
func fixture(t testing.TB) (runDir, dataDir string) {
	t.Helper()
	fixtureOnce.Do(func() { fixtureErr = buildFixture() })
	require.NoError(t, fixtureErr)
	return fixtureRun, fixtureData
}

func buildFixture() error {
	base, err := os.MkdirTemp("", "predict-test-")
	if err != nil {
		return err
	}
	fixtureRun = filepath.Join(base, "run")
	fixtureData = filepath.Join(base, "data")
	if err := synth.Generate(fixtureData, synth.Options{Classes: fixtureClasses, PerClass: 2, Test: 5, Size: 32}); err != nil {
		return err
	}
	return saveTinyRun(fixtureRun, "resnet18", fixtureClasses, fixturePrep, 7)
}

// saveTinyRun initialises a network, scales its head so that predictions
// are decisive, and saves it as run/best (and, with the head negated, as
// run/ckpt-00000001) together with model.json.
func saveTinyRun(run, arch string, classes int, prep resnet.Preprocessing, seed int64) error {
	net, err := resnet.New(arch, classes, resnet.LayoutTorchvision)
	if err != nil {
		return err
	}
	be, err := backend.New("go")
	if err != nil {
		return err
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(seed); err != nil {
		return err
	}
	exec, err := model.NewExec(be, store, func(root *model.Scope, images *Node) *Node {
		return net.Logits(store.Scope(DefaultScope), images)
	})
	if err != nil {
		return err
	}
	if _, err := exec.Exec(tensors.FromShape(tensorShape(1, prep.Crop))); err != nil {
		return err
	}
	scaleVar := func(path string, f float32) error {
		v := store.GetVariable(path)
		vals, err := tensors.CopyFlatData[float32](v.MustValue())
		if err != nil {
			return err
		}
		for i := range vals {
			vals[i] *= f
		}
		return v.SetValue(tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...))
	}
	if err := scaleVar(DefaultScope+"/fc/weights", 20); err != nil {
		return err
	}
	if err := checkpoint.Save(filepath.Join(run, checkpoint.Best), store, nil); err != nil {
		return err
	}
	if err := scaleVar(DefaultScope+"/fc/weights", -1); err != nil {
		return err
	}
	if err := checkpoint.Save(filepath.Join(run, checkpoint.Name(1)), store, nil); err != nil {
		return err
	}
	names := make([]string, classes)
	for i := range names {
		names[i] = string(rune('a'+i)) + "cat"
	}
	return checkpoint.WriteModelInfo(run, checkpoint.ModelInfo{Arch: arch, Layout: resnet.LayoutTorchvision,
		NumClasses: classes, Classes: names, Scope: DefaultScope, Preprocessing: prep})
}

// writePNG writes a size x size image whose left half is c1 and right half c2
// (plus a diagonal, so that it is not symmetric in any way); mirrored swaps
// left and right.
func writePNG(t testing.TB, path string, size int, c1, c2 color.RGBA, mirrored bool) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			col := c1
			if x >= size/2 {
				col = c2
			}
			if x == y || x == y+1 {
				col = color.RGBA{255, 255, 255, 255}
			}
			xx := x
			if mirrored {
				xx = size - 1 - x
			}
			img.SetRGBA(xx, y, col)
		}
	}
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}
