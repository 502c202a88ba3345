package dataset

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestListsRejectBinary: every list reader stops at the first line that is
// not text, with one line naming the file and the line.
func TestListsRejectBinary(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.jpg"), []byte("x"), 0o644))
	list := filepath.Join(dir, "list.txt")
	require.NoError(t, os.WriteFile(list, []byte("a.jpg\t0\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n"), 0o644))
	want := "dataset: " + list + ":2: not a text list file (binary data)"
	_, _, err := ReadList(list, dir, 2)
	require.EqualError(t, err, want)
	_, _, _, err = ParseList(list, dir, 0)
	require.EqualError(t, err, want)
	_, err = ReadNames(list, dir)
	require.EqualError(t, err, want)
}

func TestReadNames(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	require.NoError(t, os.WriteFile(list, []byte("\ufeffsub/x y.jpg\t3\r\n# c\n\n b.jpg \nname 2 spaces.jpg\n/abs/z.jpg 1\n"), 0o644))
	got, err := ReadNames(list, "/r")
	require.NoError(t, err)
	require.Equal(t, []Sample{
		{Path: filepath.Join("/r", "sub", "x y.jpg"), Name: "sub/x y.jpg", Label: -1},
		{Path: filepath.Join("/r", "b.jpg"), Name: "b.jpg", Label: -1},
		{Path: filepath.Join("/r", "name 2 spaces.jpg"), Name: "name 2 spaces.jpg", Label: -1},
		{Path: "/abs/z.jpg", Name: "/abs/z.jpg", Label: -1},
	}, got)
	for _, tc := range []struct{ content, want string }{
		{"# only a comment\n", "dataset: " + list + ": no images listed"},
		{"a.jpg\n./a.jpg 2\n", "dataset: " + list + `:2: duplicate entry "./a.jpg" (first on line 1)`},
	} {
		require.NoError(t, os.WriteFile(list, []byte(tc.content), 0o644))
		_, err := ReadNames(list, "/r")
		require.EqualError(t, err, tc.want)
	}
}
