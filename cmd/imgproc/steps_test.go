package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/preprocess"
)

// Every operation of preprocess.Ops is a command whose flags are the
// config keys: the command's PNG equals the training step's result (gray
// outputs replicated into R, G, B) with the same values.
func TestCommandsMatchSteps(t *testing.T) {
	dir := t.TempDir()
	in, rgba := writeTestPNG(t, dir, "in.png", 3)
	nonDefault := map[string][]string{
		"cvtcolor":  {"code", "lab"},
		"threshold": {"thresh", "90"},
		"adaptive":  {"block", "5"},
		"blur":      {"ksize", "3"},
		"gaussian":  {"sigma_y", "2.5"},
		"median":    {"ksize", "3"},
		"bilateral": {"sigma_color", "30"},
		"filter2d":  {"kernel", "1,2,1;2,4,2;1,2,1"},
		"sobel":     {"dy", "1"},
		"laplacian": {"ksize", "3"},
		"morph":     {"morph", "gradient"},
		"fft":       {"filter", "highpass"},
	}
	for _, d := range preprocess.Ops {
		t.Run(d.Name, func(t *testing.T) {
			_, ok := ops[d.Name]
			require.True(t, ok, "no command for %s", d.Name)
			args, cfg := []string{d.Name}, preprocess.StepConfig{"op": d.Name}
			if kv := nonDefault[d.Name]; kv != nil {
				args = append(args, "-"+kv[0], kv[1])
				cfg[kv[0]] = kv[1]
			}
			out := filepath.Join(dir, d.Name+".png")
			code, _, stderr := runCLI(append(args, in, out)...)
			require.Equal(t, 0, code, stderr)
			steps, err := preprocess.ParseSteps([]preprocess.StepConfig{cfg})
			require.NoError(t, err)
			require.Equal(t, steps[0](rgba).Pix, preprocess.ToRGBA(readPNG(t, out)).Pix)
		})
	}
}

func TestStepFlagErrors(t *testing.T) {
	dir := t.TempDir()
	in, _ := writeTestPNG(t, dir, "in.png", 1)
	out := filepath.Join(dir, "out.png")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"gaussian", "-ksize", "x"}, `invalid value "x" for flag -ksize: want an integer, got "x"`},
		{[]string{"gaussian", "-sigma", "inf"}, `invalid value "inf" for flag -sigma: want a finite number`},
		{[]string{"filter2d", "-kernel", "1,2;3"}, "kernel: row 2 has 1 values, want 2"},
		{[]string{"morph", "-op", "open"}, "flag provided but not defined: -op"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			code, _, stderr := runCLI(append(tc.args, in, out)...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, tc.msg)
		})
	}
	code, _, stderr := runCLI("help")
	require.Equal(t, 0, code)
	require.Contains(t, stderr, "imgproc gaussian [-ksize 7] [-sigma 0] [-sigma_y 0] IN OUT.png\n")
	require.Contains(t, stderr, "imgproc filter2d [-kernel '0,-1,0;-1,5,-1;0,-1,0'] IN OUT.png\n")
	require.Contains(t, stderr, "imgproc sobel [-dx 1] [-dy 0] [-ksize 3] IN OUT.png|OUT.npy")
	require.Contains(t, stderr, "imgproc morph [-morph erode|dilate|open|close|gradient|tophat|blackhat] [-shape rect|ellipse|cross]")
}
