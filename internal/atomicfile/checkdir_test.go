package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	require.NoError(t, CheckDir(dir))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the probe file is removed")
	for _, tc := range []struct{ dir, want string }{
		{filepath.Join(dir, "missing"), "output directory " + filepath.Join(dir, "missing") + " does not exist"},
		{file, "output directory " + file + " is not a directory"},
		{"/proc", "output directory /proc is not writable: "},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			err := CheckDir(tc.dir)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	ro := filepath.Join(dir, "ro")
	require.NoError(t, os.Mkdir(ro, 0o555))
	if os.Geteuid() != 0 { // root writes anywhere; /proc above covers the case then
		require.ErrorContains(t, CheckDir(ro), "is not writable: permission denied")
	}
}
