package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

type trainState struct {
	Epoch int     `json:"epoch"`
	LR    float64 `json:"lr"`
}

func newStore(t *testing.T, w []float32, rng []uint64) *model.Store {
	s := model.NewStore()
	_, err := s.CreateVariable("/model/fc/weights", tensors.FromFlatDataAndDimensions(w, 2, 2))
	require.NoError(t, err)
	_, err = s.CreateVariable("/#rngState", tensors.FromFlatDataAndDimensions(rng, 3))
	require.NoError(t, err)
	return s
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", Name(3))
	src := newStore(t, []float32{1, 2, 3, 4}, []uint64{7, 8, 1 << 60})
	require.NoError(t, Saver{}.Save(dir, src, trainState{Epoch: 3, LR: 0.01}))

	// Into an empty store: variables are created.
	dst := model.NewStore()
	var st trainState
	require.NoError(t, Load(dir, dst, &st))
	require.Equal(t, trainState{Epoch: 3, LR: 0.01}, st)
	require.Equal(t, []float32{1, 2, 3, 4}, tensors.MustCopyFlatData[float32](dst.GetVariable("/model/fc/weights").MustValue()))
	require.Equal(t, []uint64{7, 8, 1 << 60}, tensors.MustCopyFlatData[uint64](dst.GetVariable("/#rngState").MustValue()))

	// Into a store with existing variables: values replaced.
	dst2 := newStore(t, []float32{0, 0, 0, 0}, []uint64{0, 0, 0})
	require.NoError(t, Load(dir, dst2, nil))
	require.Equal(t, []float32{1, 2, 3, 4}, tensors.MustCopyFlatData[float32](dst2.GetVariable("/model/fc/weights").MustValue()))
}

func TestLoadShapeMismatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Name(1))
	require.NoError(t, Saver{}.Save(dir, newStore(t, []float32{1, 2, 3, 4}, []uint64{1, 2, 3}), nil))
	s := model.NewStore()
	_, err := s.CreateVariable("/model/fc/weights", tensors.FromFlatDataAndDimensions([]float32{1, 2}, 2))
	require.NoError(t, err)
	require.ErrorContains(t, Load(dir, s, nil), "/model/fc/weights")
}

func TestSaveReplacesAndPrune(t *testing.T) {
	run := t.TempDir()
	for e := 1; e <= 4; e++ {
		require.NoError(t, Saver{}.Save(filepath.Join(run, Name(e)), newStore(t, []float32{float32(e), 0, 0, 0}, []uint64{1, 2, 3}), trainState{Epoch: e}))
	}
	// Overwrite epoch 4 in place.
	require.NoError(t, Saver{}.Save(filepath.Join(run, Name(4)), newStore(t, []float32{40, 0, 0, 0}, []uint64{1, 2, 3}), trainState{Epoch: 4}))
	require.NoError(t, Saver{}.Prune(run, 2))
	l, err := List(run)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(run, Name(3)), filepath.Join(run, Name(4))}, l)
	ts, err := LoadTensors(filepath.Join(run, Name(4)))
	require.NoError(t, err)
	require.Equal(t, float32(40), ts["/model/fc/weights"].Data[0])
	entries, _ := os.ReadDir(run)
	require.Len(t, entries, 2, "no temporary directories left behind")

	// A half-written directory (no state.json) is ignored.
	require.NoError(t, os.MkdirAll(filepath.Join(run, Name(9)), 0o755))
	latest, err := Latest(run)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(run, Name(4)), latest)
}

func TestResolve(t *testing.T) {
	run := t.TempDir()
	_, err := Resolve(run, -1)
	require.ErrorContains(t, err, "no checkpoint found")
	require.NoError(t, Saver{}.Save(filepath.Join(run, Name(1)), newStore(t, []float32{1, 0, 0, 0}, []uint64{1, 2, 3}), nil))
	require.NoError(t, Saver{}.Save(filepath.Join(run, Name(2)), newStore(t, []float32{2, 0, 0, 0}, []uint64{1, 2, 3}), nil))
	got, err := Resolve(run, -1)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(run, Name(2)), got)
	require.NoError(t, Saver{}.Save(filepath.Join(run, Best), newStore(t, []float32{1, 0, 0, 0}, []uint64{1, 2, 3}), nil))
	got, _ = Resolve(run, -1)
	require.Equal(t, filepath.Join(run, Best), got)
	// Killed between Save's two renames: only best.old is left.
	require.NoError(t, os.Rename(filepath.Join(run, Best), filepath.Join(run, Best+".old")))
	got, _ = Resolve(run, -1)
	require.Equal(t, filepath.Join(run, Best+".old"), got)
	require.NoError(t, os.Rename(filepath.Join(run, Best+".old"), filepath.Join(run, Best)))
	got, _ = Resolve(run, 1)
	require.Equal(t, filepath.Join(run, Name(1)), got)
	_, err = Resolve(run, 7)
	require.ErrorContains(t, err, "no checkpoint for step 7")
	got, _ = Resolve(filepath.Join(run, Name(1)), -1)
	require.Equal(t, filepath.Join(run, Name(1)), got)
	_, err = Resolve(filepath.Join(run, "nope"), -1)
	require.ErrorContains(t, err, "nope")
}

func TestModelInfo(t *testing.T) {
	run := t.TempDir()
	_, err := ReadModelInfo(run)
	require.ErrorContains(t, err, ModelInfoFile)
	in := ModelInfo{Arch: "resnet18", Layout: "v1.5", NumClasses: 12, Scope: "/model"}
	in.Preprocessing.Crop = 224
	require.NoError(t, WriteModelInfo(run, in))
	out, err := ReadModelInfo(run)
	require.NoError(t, err)
	require.Equal(t, in, out)
	require.Equal(t, run, RunDirOf(filepath.Join(run, Best)))
	require.NoError(t, os.WriteFile(filepath.Join(run, ModelInfoFile), []byte("{}"), 0o644))
	_, err = ReadModelInfo(run)
	require.ErrorContains(t, err, "missing arch")
}
