package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A bad data.preprocess step is a config error: exit 2, one line naming the
// step, its operation and the valid names, and no run directory.
func TestBadPreprocessStep(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	body := "run:\n  dir: " + dir + "/runs\ndata:\n  preprocess:\n    - {op: gaussian, ksize: 5}\n    - {op: cvtcolor, code: yuv}\n"
	require.NoError(t, os.WriteFile(cfg, []byte(body), 0o644))
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{nil, "data.preprocess: step 2 (cvtcolor): code: unknown value yuv (valid: hsv, hls, lab, bgr, gray)\n"},
		{[]string{"-set", "data.preprocess=[{op: sharpen}]"}, `data.preprocess: step 1 (sharpen): unknown operation "sharpen" (valid: adaptive,`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, 2, run(append([]string{"-config", cfg}, tc.sets...), &out, &errOut))
			require.Contains(t, errOut.String(), tc.want)
			require.Equal(t, 1, strings.Count(errOut.String(), "\n"), errOut.String())
			_, err := os.Stat(filepath.Join(dir, "runs"))
			require.True(t, os.IsNotExist(err), "nothing may be written")
		})
	}
}
