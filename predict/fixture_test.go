package predict

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/devdata"
	"github.com/gocls/gocls/internal/synth"
	"github.com/gocls/gocls/predict/predicttest"
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
	return predicttest.SaveRun(fixtureRun, "resnet18", fixtureClasses, predicttest.TinyPreprocessing, 7)
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

// repoRoot returns the module root.
func repoRoot(t testing.TB) string { t.Helper(); return devdata.RepoRoot(t) }
