package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/dataset"
)

// TestEmptyList: a list without entries is refused as training refuses it
// (dataset.ReadList), with the same message, exit 1.
func TestEmptyList(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content string }{
		{"empty", ""},
		{"comments and blanks", "# header\n\n   \n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := filepath.Join(dir, "list.txt")
			require.NoError(t, os.WriteFile(list, []byte(tc.content), 0o644))
			_, _, trainErr := dataset.ReadList(list, dir, 2)
			require.Error(t, trainErr)
			var out, errb bytes.Buffer
			code := run([]string{"-list", list}, &out, &errb)
			require.Equal(t, 1, code, out.String())
			require.Equal(t, "datacheck: "+trainErr.Error()+"\n", errb.String())
			require.Empty(t, out.String())
		})
	}
}
