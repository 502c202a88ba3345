package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/synth"
)

// TestLoopOnData runs the real loader and training loop on a generated
// dataset in the list-file layout.
func TestLoopOnData(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, synth.Generate(dir, synth.Options{Classes: 3, PerClass: 6, Test: 1, Size: 40, Seed: 1}))
	var out, errOut bytes.Buffer
	code := run([]string{"-model", "resnet18", "-size", "32", "-batch", "4", "-steps", "1", "-warmup", "1",
		"-data", dir, "-epochs", "2", "-workers", "2"}, &out, &errOut)
	require.Equal(t, 0, code, "stderr: %s", errOut.String())
	var res result
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), "output: %s", out.String())
	require.Equal(t, dir, res.Data)
	require.Greater(t, res.LoopImgPerS, 0.0)
	require.InDelta(t, res.LoopImgPerS/res.ImgPerS, res.LoopOverModel, 0.01)
	require.Contains(t, errOut.String(), "epoch 2/2", "the run's log goes to stderr")
}

// TestBFloat16 trains a tiny ResNet18 with bfloat16 activations.
func TestBFloat16(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-model", "resnet18", "-size", "32", "-batch", "2", "-classes", "3",
		"-steps", "1", "-warmup", "1", "-precision", "bfloat16"}, &out, &errOut)
	require.Equal(t, 0, code, "stderr: %s", errOut.String())
	var res result
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), "output: %s", out.String())
	require.Equal(t, "bfloat16", res.Precision)
	require.Greater(t, res.ImgPerS, 0.0)
}

// TestRunTiny runs both modes on a tiny ResNet18 and checks the JSON line.
func TestRunTiny(t *testing.T) {
	for _, mode := range []string{"train", "infer"} {
		t.Run(mode, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run([]string{"-model", "resnet18", "-size", "32", "-batch", "2", "-classes", "3",
				"-steps", "2", "-warmup", "1", "-mode", mode}, &out, &errOut)
			require.Equal(t, 0, code, "stderr: %s", errOut.String())
			var res result
			require.NoError(t, json.Unmarshal(out.Bytes(), &res), "output: %s", out.String())
			require.Equal(t, "resnet18", res.Model)
			require.Equal(t, mode, res.Mode)
			require.Equal(t, "go", res.Backend)
			require.Equal(t, 2, res.Steps)
			require.Len(t, res.StepsMs, 2)
			require.Greater(t, res.ImgPerS, 0.0)
			require.Greater(t, res.PeakMemMB, 0.0)
		})
	}
}

func TestRunErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"mode", []string{"-mode", "eval"}, `bench: -mode "eval": want train or infer`},
		{"model", []string{"-model", "resnet51", "-size", "32"}, `resnet: unknown model "resnet51"`},
		{"size", []string{"-size", "8"}, "bench: need -size >= 32"},
		{"data missing", []string{"-data", "/nonexistent"}, "bench: -data: open /nonexistent/train_list.txt"},
		{"data infer", []string{"-data", "/nonexistent", "-mode", "infer"}, "bench: -data needs -mode train and -epochs >= 2"},
		{"precision", []string{"-precision", "fp8"}, `bench: -precision "fp8": want float32 or bfloat16`},
		{"args", []string{"extra"}, `bench: unexpected arguments ["extra"]`},
		{"flag", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"backend", []string{"-backend", "nosuchbackend", "-model", "resnet18", "-size", "32"}, `backend "nosuchbackend"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(c.args, &out, &errOut)
			require.Equal(t, 1, code)
			require.Empty(t, out.String())
			require.Contains(t, errOut.String(), c.want)
		})
	}
}
