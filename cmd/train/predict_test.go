package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPredictSection: after training, the predict section classifies
// predict.images with the run's newest epoch checkpoint into predict.out;
// a run stopped inside its first epoch has no checkpoint to predict with,
// says so and writes nothing.
func TestPredictSection(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxSteps int
		want     string
		written  bool
	}{
		{"after training", 0, "predicting ", true},
		{"no epoch checkpoint", 1, "predict section skipped: no epoch checkpoint in ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			result := filepath.Join(dir, "result.csv")
			args := []string{"-config", writeTinyConfig(t, dir), "-quiet", "-set", "predict.out=" + result,
				"-set", "synthetic.per_class=4", "-set", "synthetic.test=3", "-set", fmt.Sprintf("run.max_steps=%d", tc.maxSteps)}
			var out, errOut bytes.Buffer
			require.Equal(t, 0, run(args, &out, &errOut), "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
			require.Contains(t, out.String(), tc.want)
			if !tc.written {
				require.NoFileExists(t, result)
				require.NotContains(t, out.String(), "predictions:")
				return
			}
			require.Contains(t, out.String(), "predictions: "+result+"\n")
			b, err := os.ReadFile(result)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			require.Len(t, lines, 3, "one NAME.jpg,class line per test image")
			require.Regexp(t, `^test0000\.jpg,[01]$`, lines[0])
		})
	}
}
