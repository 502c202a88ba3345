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
	cfgPath := writeTinyConfig(t, dir)
	data := filepath.Join(dir, "data")
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

// writeTinyConfig writes dir/c.yaml: one epoch of resnet18 on a synthetic
// dataset of 2 classes generated in dir/data, whose test images are the
// predict section's (predict.out is left to -set).
func writeTinyConfig(t *testing.T, dir string) string {
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
	return cfgPath
}

// TestNoValidationSet: with data.val_ratio 0 the log says so instead of
// printing NaN metrics, and the metrics files hold no NaN.
func TestNoValidationSet(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`run:
  name: r
  dir: %[1]s/runs
  epochs: 2
  batch_size: 4
  max_steps: 4
synthetic:
  enabled: true
  classes: 6
  per_class: 2
  test: 1
  size: 16
data:
  root: %[1]s/data
  num_classes: 6
  val_ratio: 0
  workers: 1
  eval:
    resize_shorter: 16
    crop: 16
model:
  arch: resnet18
optim:
  lr: 0.01
`, dir)), 0o644))
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-config", cfgPath, "-quiet"}, &out, &errOut), "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	log := out.String()
	require.NotContains(t, strings.ToLower(log), "nan", log)
	require.Contains(t, log, "top-1 0.", "the training metrics are still printed")
	require.Contains(t, log, "| no validation set |", "the epoch line")
	require.Contains(t, log, "run.max_steps=4 reached in epoch 2: no validation set; saved", "the max_steps line")
	require.Contains(t, log, "done: 1 epochs, 4 steps, ")
	for _, f := range []string{"metrics.csv", "metrics.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, "runs", "r", f))
		require.NoError(t, err)
		require.NotContains(t, strings.ToLower(string(b)), "nan", f)
	}
}
