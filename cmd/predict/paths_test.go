package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/synth"
	"github.com/gocls/gocls/predict/predicttest"
)

// TestPathsCheckedFirst: a missing input or an output that could not be
// written fails before the model is loaded or any image classified, with one
// line naming the flag.
func TestPathsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	run, data := filepath.Join(dir, "run"), filepath.Join(dir, "data")
	require.NoError(t, synth.Generate(data, synth.Options{Classes: 3, PerClass: 1, Test: 2, Size: 32}))
	require.NoError(t, predicttest.SaveRun(run, "resnet18", 3, predicttest.TinyPreprocessing, 3))
	images, labels := filepath.Join(data, "cat_12_test"), filepath.Join(data, "train_list.txt")
	missing := filepath.Join(dir, "missing")
	file := filepath.Join(dir, "afile")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"out dir missing", []string{"-images", images, "-out", filepath.Join(missing, "r.csv")},
			"predict: -out " + filepath.Join(missing, "r.csv") + ": output directory " + missing + " does not exist"},
		{"out dir is a file", []string{"-images", images, "-out", filepath.Join(file, "r.csv")}, "predict: -out " + filepath.Join(file, "r.csv") + ": output directory " + file + " is not a directory"},
		{"out dir not writable", []string{"-images", images, "-out", "/proc/r.csv"}, "predict: -out /proc/r.csv: output directory /proc is not writable"},
		{"jsonl out", []string{"-images", images, "-format", "jsonl", "-out", filepath.Join(missing, "r.jsonl")}, "predict: -out " + filepath.Join(missing, "r.jsonl")},
		{"topk out", []string{"-images", images, "-out", filepath.Join(dir, "r.csv"), "-topk", "2", "-topk-out", filepath.Join(missing, "k.csv")}, "predict: -topk-out"},
		{"confusion", []string{"-labels", labels, "-confusion", filepath.Join(missing, "cm.csv")}, "predict: -confusion " + filepath.Join(missing, "cm.csv")},
		{"images missing", []string{"-images", missing, "-out", filepath.Join(dir, "r.csv")}, "predict: -images: stat " + missing + ": no such file or directory"},
		{"labels missing", []string{"-labels", missing}, "predict: -labels: stat " + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, weights := range []string{run, missing} { // a missing checkpoint is not even looked at
				code, stdout, stderr := call(append([]string{"-checkpoint", weights}, tc.args...)...)
				require.Equal(t, 1, code, stderr)
				require.Contains(t, stderr, tc.want)
				require.True(t, strings.HasPrefix(stderr, "predict: -"), "the error names the flag: %q", stderr)
				require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
				require.NotContains(t, stdout, "on 2 images", "nothing was classified")
			}
		})
	}
	code, _, stderr := call("-checkpoint", run, "-images", images, "-out", filepath.Join(dir, "r.csv"))
	require.Equal(t, 0, code, stderr)
	require.FileExists(t, filepath.Join(dir, "r.csv"))
}
