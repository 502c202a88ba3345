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
	args := []string{"-config", writeTinyConfig(t, dir), "-quiet"}
	for _, set := range []string{"run.epochs=2", "run.batch_size=4", "run.max_steps=4", "synthetic.classes=6", "data.num_classes=6",
		"data.val_ratio=0", "data.workers=1", "optim.lr=0.01", "predict.images="} {
		args = append(args, "-set", set)
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(args, &out, &errOut), "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
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
