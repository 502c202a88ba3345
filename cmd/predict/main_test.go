package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/synth"
	"github.com/gocls/gocls/predict/predicttest"
)

func call(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = runArgs(context.Background(), args, &o, &e, false)
	return code, o.String(), e.String()
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"bad int", []string{"-topk", "x"}, `invalid value "x" for flag -topk`},
		{"no weights", []string{"-images", "x"}, "-checkpoint DIR or -pretrained SPEC is required"},
		{"both weights", []string{"-checkpoint", "a", "-pretrained", "imagenet", "-images", "x"}, "exclude each other"},
		{"no images", []string{"-checkpoint", "a"}, "no images"},
		{"images and labels", []string{"-checkpoint", "a", "-images", "x", "-labels", "y"}, "-images and -labels exclude each other"},
		{"files and images", []string{"-checkpoint", "a", "-images", "x", "f.jpg"}, "image arguments"},
		{"format", []string{"-checkpoint", "a", "-images", "x", "-format", "xml"}, `-format "xml"`},
		{"batch", []string{"-checkpoint", "a", "-images", "x", "-batch", "0"}, "-batch 0"},
		{"step", []string{"-checkpoint", "a", "-images", "x", "-step", "-3"}, "-step -3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := call(tc.args...)
			require.Equal(t, 2, code)
			require.Empty(t, stdout)
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
	code, stdout, _ := call("-h")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "-checkpoint")
}

func TestPredictCommand(t *testing.T) {
	dir := t.TempDir()
	run, data := filepath.Join(dir, "run"), filepath.Join(dir, "data")
	require.NoError(t, synth.Generate(data, synth.Options{Classes: 3, PerClass: 1, Test: 3, Size: 32}))
	require.NoError(t, predicttest.SaveRun(run, "resnet18", 3, predicttest.TinyPreprocessing, 3))
	t.Chdir(dir)

	// Defaults: result.csv in the working directory; settings printed.
	code, stdout, stderr := call("-checkpoint", run, "-images", filepath.Join(data, "cat_12_test"), "-batch", "2")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "settings in effect:")
	require.Contains(t, stdout, "-out=result.csv")
	require.Contains(t, stdout, "-step=-1")
	b, err := os.ReadFile(filepath.Join(dir, "result.csv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Len(t, lines, 3)
	require.True(t, strings.HasPrefix(lines[0], "test0000.jpg,"), lines[0])

	// Evaluation mode.
	code, stdout, stderr = call("-checkpoint", run, "-labels", filepath.Join(data, "train_list.txt"), "-confusion", filepath.Join(dir, "cm.csv"))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "top-1")
	require.FileExists(t, filepath.Join(dir, "cm.csv"))
	require.FileExists(t, filepath.Join(dir, "cm.png"))

	// JSON lines on stdout: nothing else there.
	img := filepath.Join(data, "cat_12_test", "test0001.jpg")
	code, stdout, stderr = call("-checkpoint", run, "-format", "jsonl", "-topk", "2", img)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, 1, strings.Count(stdout, "\n"), stdout)
	require.True(t, strings.HasPrefix(stdout, `{"file":"`+img+`","top":[[`), stdout)
	require.Contains(t, stderr, "settings in effect:")

	// A failure exits 1 with the reason.
	code, _, stderr = call("-checkpoint", filepath.Join(dir, "missing"), "-images", data)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "missing")
}
