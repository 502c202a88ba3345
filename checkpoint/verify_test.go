package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// Every damage to a saved checkpoint's files is found by Load (and
// LoadTensors), named, and leaves the store untouched.
func TestLoadRefusesDamage(t *testing.T) {
	flip := func(path string) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		b[len(b)-3] ^= 0x10 // a bit of the last tensor's data: parses fine
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
	truncate := func(path string) {
		st, err := os.Stat(path)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(path, st.Size()/2))
	}
	tests := []struct {
		name   string
		damage func(dir string)
		file   string // named in the error
	}{
		{"bit flip in weights", func(d string) { flip(filepath.Join(d, weightsFile)) }, weightsFile},
		{"truncated weights", func(d string) { truncate(filepath.Join(d, weightsFile)) }, weightsFile},
		{"truncated state", func(d string) { truncate(filepath.Join(d, stateFile)) }, stateFile},
		{"bit flip in state", func(d string) { flip(filepath.Join(d, stateFile)) }, stateFile},
		{"weights missing", func(d string) { require.NoError(t, os.Remove(filepath.Join(d, weightsFile))) }, weightsFile},
		{"manifest garbage", func(d string) { require.NoError(t, os.WriteFile(filepath.Join(d, ManifestFile), []byte("{"), 0o644)) }, ManifestFile},
		{"manifest lacks a file", func(d string) {
			require.NoError(t, os.WriteFile(filepath.Join(d, ManifestFile), []byte(`{"files":{}}`), 0o644))
		}, ManifestFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), Name(1))
			require.NoError(t, Saver{}.Save(dir, newStore(t, []float32{1, 2, 3, 4}, []uint64{1, 2, 3}), trainState{Epoch: 1}))
			tc.damage(dir)
			dst := newStore(t, []float32{0, 0, 0, 0}, []uint64{0, 0, 0})
			err := Load(dir, dst, &trainState{})
			require.ErrorIs(t, err, ErrDamaged)
			require.ErrorContains(t, err, filepath.Join(dir, tc.file))
			require.Equal(t, []float32{0, 0, 0, 0}, tensors.MustCopyFlatData[float32](dst.GetVariable("/model/fc/weights").MustValue()))
			if tc.file != stateFile {
				_, err = LoadTensors(dir)
				require.True(t, errors.Is(err, ErrDamaged), "LoadTensors: %v", err)
			}
		})
	}
}

// A checkpoint of an older version (no manifest) still loads, unverified.
func TestLoadWithoutManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Name(1))
	require.NoError(t, Saver{}.Save(dir, newStore(t, []float32{1, 2, 3, 4}, []uint64{1, 2, 3}), trainState{Epoch: 1}))
	require.True(t, Verified(dir))
	require.NoError(t, os.Remove(filepath.Join(dir, ManifestFile)))
	require.False(t, Verified(dir))
	var st trainState
	dst := newStore(t, []float32{0, 0, 0, 0}, []uint64{0, 0, 0})
	require.NoError(t, Load(dir, dst, &st))
	require.Equal(t, 1, st.Epoch)
}
