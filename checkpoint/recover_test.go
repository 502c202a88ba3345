package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// Recover removes what a kill during a save leaves and puts back a
// checkpoint that was moved aside when its replacement never arrived.
func TestRecover(t *testing.T) {
	run := t.TempDir()
	store := newStore(t, []float32{1, 2, 3, 4}, []uint64{1, 2, 3})
	for _, d := range []string{Name(1), Best, "best.old", "interrupted.old"} {
		require.NoError(t, Saver{}.Save(filepath.Join(run, d), store, trainState{Epoch: 1}))
	}
	leftovers := []string{".ckpt-00000002.tmp-123", ".best.tmp-9", ".interrupted.tmp-removing"}
	for _, d := range leftovers {
		require.NoError(t, os.MkdirAll(filepath.Join(run, d), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(run, d, weightsFile), []byte("partial"), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(run, ".metrics.csv.tmp-5"), []byte("partial"), 0o644))

	done, err := Recover(run)
	require.NoError(t, err)
	require.Len(t, done, 6)
	entries, err := os.ReadDir(run)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{Name(1), Best, "interrupted"}, names)
	var st trainState
	require.NoError(t, Load(filepath.Join(run, "interrupted"), model.NewStore(), &st))
	require.Equal(t, 1, st.Epoch)

	done, err = Recover(run)
	require.NoError(t, err)
	require.Empty(t, done)
}
