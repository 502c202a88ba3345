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
			cfgPath := filepath.Join(dir, "c.yaml")
			result := filepath.Join(dir, "result.csv")
			require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`run:
  name: r
  dir: %[1]s/runs
  epochs: 1
  batch_size: 2
  max_steps: %[3]d
synthetic:
  enabled: true
  classes: 3
  per_class: 3
  test: 3
  size: 16
data:
  root: %[1]s/data
  num_classes: 3
  workers: 1
  eval:
    resize_shorter: 18
    crop: 16
model:
  arch: resnet18
predict:
  images: %[1]s/data/cat_12_test
  out: %[2]s
`, dir, result, tc.maxSteps)), 0o644))
			var out, errOut bytes.Buffer
			require.Equal(t, 0, run([]string{"-config", cfgPath, "-quiet"}, &out, &errOut), "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
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
			require.Regexp(t, `^test0000\.jpg,[0-2]$`, lines[0])
		})
	}
}
