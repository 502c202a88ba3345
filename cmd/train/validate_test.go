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

// TestPredictPathsCheckedBeforeTraining: a predict section that could only
// fail after training (missing images, unwritable output directory) is a
// config error (exit 2) before anything is trained or written.
func TestPredictPathsCheckedBeforeTraining(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	data := filepath.Join(dir, "data")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`run:
  name: r
  dir: %[1]s/runs
  epochs: 1
  batch_size: 2
synthetic:
  enabled: true
  classes: 2
  per_class: 2
  test: 1
  size: 16
data:
  root: %[2]s
  num_classes: 2
  eval:
    resize_shorter: 16
    crop: 16
model:
  arch: resnet18
predict:
  images: %[2]s/cat_12_test
`, dir, data)), 0o644))
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"images missing", []string{"predict.images=" + missing}, "train: config: predict.images: stat " + missing + ": no such file or directory"},
		{"out directory missing", []string{"predict.out=" + filepath.Join(missing, "r.csv")},
			"train: config: predict.out " + filepath.Join(missing, "r.csv") + ": output directory " + missing + " does not exist"},
		{"out directory not writable", []string{"predict.out=/proc/r.csv"}, "train: config: predict.out /proc/r.csv: output directory /proc is not writable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-config", cfgPath, "-quiet"}
			for _, s := range tc.sets {
				args = append(args, "-set", s)
			}
			var out, errOut bytes.Buffer
			require.Equal(t, 2, run(args, &out, &errOut), errOut.String())
			require.True(t, strings.HasPrefix(errOut.String(), tc.want), errOut.String())
			require.Equal(t, 1, strings.Count(errOut.String(), "\n"))
			require.NoDirExists(t, filepath.Join(dir, "runs"), "nothing trained")
			require.NoDirExists(t, data, "no data generated")
		})
	}
}
