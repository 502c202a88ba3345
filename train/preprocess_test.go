package train

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/preprocess"
)

// A run records its data.preprocess steps, complete, in model.json and
// config.yaml; a resumed run keeps the recorded steps whatever its config
// says, with a warning.
func TestRunRecordsSteps(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Run.Epochs = 1
	cfg.Data.Preprocess = []preprocess.StepConfig{{"op": "gaussian", "ksize": 3}, {"op": "cvtcolor", "code": "hsv"}}
	mustRun(t, cfg, hooks{})
	runDir := filepath.Join(cfg.Run.Dir, cfg.Run.Name)
	want, err := preprocess.ResolveSteps(cfg.Data.Preprocess)
	require.NoError(t, err)
	requireRecorded(t, runDir, want)
	saved, err := LoadConfig(filepath.Join(runDir, "config.yaml"), nil)
	require.NoError(t, err)
	require.Equal(t, cfg.Data.Preprocess, saved.Data.Preprocess)

	cfg.Run.Epochs = 2
	cfg.Data.Preprocess = nil
	var log strings.Builder
	_, err = run(context.Background(), cfg, &log, hooks{})
	require.NoError(t, err)
	require.Contains(t, log.String(), `warning: data.preprocess is [] in the config but [{"ksize":3,"op":"gaussian","sigma":0,"sigma_y":0},{"code":"hsv","op":"cvtcolor"}]`)
	requireRecorded(t, runDir, want)

	// Fine-tuning from the run with other steps: the config's, with a warning.
	cfg.Run.Name, cfg.Run.MaxSteps, cfg.Model.Pretrained = "finetune", 1, runDir
	log.Reset()
	_, err = run(context.Background(), cfg, &log, hooks{})
	require.NoError(t, err)
	require.Contains(t, log.String(), `was trained with data.preprocess [{"ksize":3,"op":"gaussian","sigma":0,"sigma_y":0},{"code":"hsv","op":"cvtcolor"}]; this run uses []`)
	requireRecorded(t, filepath.Join(cfg.Run.Dir, "finetune"), nil)
}

func requireRecorded(t *testing.T, runDir string, want []preprocess.StepConfig) {
	t.Helper()
	info, err := checkpoint.ReadModelInfo(runDir)
	require.NoError(t, err)
	require.Len(t, info.Preprocess, len(want))
	got, err := preprocess.ResolveSteps(info.Preprocess)
	require.NoError(t, err)
	if len(want) > 0 {
		require.Equal(t, want, got)
	}
}

// Bad steps stop the run before anything is written, with one line naming
// the step, the operation and the valid names.
func TestRunBadSteps(t *testing.T) {
	for _, tc := range []struct {
		step preprocess.StepConfig
		want string
	}{
		{preprocess.StepConfig{"op": "sharpen"}, `data.preprocess: step 2 (sharpen): unknown operation "sharpen" (valid: adaptive, bilateral,`},
		{preprocess.StepConfig{"op": "median", "size": 3}, `data.preprocess: step 2 (median): unknown key "size" (valid: ksize)`},
		{preprocess.StepConfig{"op": "median", "ksize": 2001}, "data.preprocess: step 2 (median): ksize must be <= 1001, got 2001"},
		{preprocess.StepConfig{"op": "morph", "shape": "disc"}, "data.preprocess: step 2 (morph): shape: unknown value disc (valid: rect, ellipse, cross)"},
		{preprocess.StepConfig{"op": "swap"}, "data.preprocess: step 2 (swap): swap is not a preprocessing step (it needs a second image)"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			cfg := tinyConfig(t)
			cfg.Data.Preprocess = []preprocess.StepConfig{{"op": "gray"}, tc.step}
			_, err := Run(context.Background(), cfg, io.Discard)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "\n")
			_, statErr := os.Stat(filepath.Join(cfg.Run.Dir, cfg.Run.Name))
			require.True(t, os.IsNotExist(statErr), "nothing may be written")
		})
	}
}

// -set takes a list of steps in YAML flow syntax.
func TestSetPreprocess(t *testing.T) {
	cfg, err := LoadConfig("", []string{"data.preprocess=[{op: gaussian, ksize: 5}, {op: cvtcolor, code: hsv}]"})
	require.NoError(t, err)
	require.Equal(t, []preprocess.StepConfig{{"op": "gaussian", "ksize": 5}, {"op": "cvtcolor", "code": "hsv"}}, cfg.Data.Preprocess)
	cfg, err = LoadConfig("", []string{"data.preprocess=[{op: gray}]", "data.preprocess=[]"})
	require.NoError(t, err)
	require.Empty(t, cfg.Data.Preprocess)
	_, err = LoadConfig("", []string{"data.preprocess=[{op: gaussian, ksize: 4}]"})
	require.EqualError(t, err, "config: -set data.preprocess=[{op: gaussian, ksize: 4}]: data.preprocess: step 1 (gaussian): ksize must be odd (or 0 with sigma > 0), got 4")
}

// docs/CONFIG.md's table of steps lists every operation with each of its
// keys and defaults.
func TestStepsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "CONFIG.md"))
	require.NoError(t, err)
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if op, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " | "); ok && strings.HasPrefix(line, "| `") {
			for _, name := range strings.Split(op, ", ") {
				rows[strings.Trim(name, "`")] = line
			}
		}
	}
	for _, d := range preprocess.Ops {
		row, ok := rows[d.Name]
		require.True(t, ok, "no row for %s", d.Name)
		for _, p := range d.Params {
			if p.Kind == preprocess.MatrixParam {
				require.Contains(t, row, "`"+p.Key+"` (", "%s.%s", d.Name, p.Key)
				require.Contains(t, row, p.Format(p.Default), "%s.%s", d.Name, p.Key)
			} else {
				require.Contains(t, row, "`"+p.Key+"` (`"+p.Format(p.Default), "%s.%s", d.Name, p.Key)
			}
			for _, c := range p.Choices {
				require.Contains(t, row, "`"+c+"`", "%s.%s", d.Name, p.Key)
			}
		}
	}
}

// A list from -set replaces the file's list (no merging of steps), and odd
// YAML gives one-line errors.
func TestPreprocessYAML(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte("data:\n  preprocess:\n    - {op: gaussian, ksize: 5}\n    - {op: gray}\n"), 0o644))
	cfg, err := LoadConfig(p, []string{"data.preprocess=[{op: median}]"})
	require.NoError(t, err)
	require.Equal(t, []preprocess.StepConfig{{"op": "median"}}, cfg.Data.Preprocess)
	for _, tc := range []struct{ body, want string }{
		{"data:\n  preprocess: [5]\n", "c.yaml"},
		{"data:\n  preprocess: gaussian\n", "c.yaml"},
		{"data:\n  preprocess: [null]\n", "data.preprocess: step 1: missing op"},
		{"data:\n  preprocess: [{op: [gaussian]}]\n", "data.preprocess: step 1 ([gaussian]): op must be a name"},
		{"data:\n  preprocess: [{op: median, ksize: .inf}]\n", "ksize: want an integer, got +Inf"},
		{"data:\n  preprocess: [{op: filter2d, kernel: [[1, 2], []]}]\n", "kernel: row 2 has 0 values, want 2"},
		{"data:\n  preprocess: [{op: filter2d, kernel: [[1e400]]}]\n", "kernel: want numbers, got 1e400"},
		{"data:\n  preprocess: [{op: cvtcolor, code: 3}]\n", "code: unknown value 3 (valid: hsv, hls, lab, bgr, gray)"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			require.NoError(t, os.WriteFile(p, []byte(tc.body), 0o644))
			_, err := LoadConfig(p, nil)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}
