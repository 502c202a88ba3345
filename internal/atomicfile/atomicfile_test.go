package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.csv")
	require.NoError(t, WriteFile(p, []byte("old\n")))
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "old\n", string(got), "a failed write must leave the old file")
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "temporary file must be removed")
	require.NoError(t, WriteFile(p, []byte("new\n")))
	got, _ = os.ReadFile(p)
	require.Equal(t, "new\n", string(got))
}

func TestWriteBadDir(t *testing.T) {
	err := WriteFile(filepath.Join(t.TempDir(), "missing", "x"), nil)
	require.Error(t, err)
}
