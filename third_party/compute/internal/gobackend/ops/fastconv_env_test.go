// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// envChildOut names the file TestFastConvEnvChild writes its envResult to; unset, that test skips.
const envChildOut = "FASTCONV_ENV_TEST_OUT"

// envResult is what a test binary started with some GOMLX_FASTCONV* setting computed and used.
type envResult struct {
	Kernel      string    // sgemmKernelName
	AsmEpilogue bool      // the AVX-512 epilogues are in use
	Fused       bool      // convBNFusion fused the batch norm into the convolution
	Out         []float32 // ReLU(BN(conv)) of envGraphInputs
}

// TestFastConvEnv starts this test binary with GOMLX_FASTCONV and GOMLX_FASTCONV_KERNEL set, as the
// executors read them once at start-up, and checks what each setting runs and that the results agree
// with a float64 reference (and so with the default fast path): off, every micro-kernel the CPU has,
// and values that must stop the program with a message naming the variable.
func TestFastConvEnv(t *testing.T) {
	ref := envGraphReference(t)
	def := runEnvChild(t, nil)
	if def.Kernel != sgemmKernelName || !def.Fused {
		t.Fatalf("default: kernel %q, fused %v; want %q, fused", def.Kernel, def.Fused, sgemmKernelName)
	}
	checkEnvOutput(t, "default", def.Out, ref)

	t.Run("GOMLX_FASTCONV=false", func(t *testing.T) {
		off := runEnvChild(t, []string{fastConvEnv + "=false"})
		if off.Fused {
			t.Error("the batch norm was fused into the convolution with the fast executors off")
		}
		checkEnvOutput(t, "GOMLX_FASTCONV=false", off.Out, ref)
		checkEnvOutput(t, "GOMLX_FASTCONV=false vs the fast path", off.Out, float64s(def.Out))
	})
	for _, v := range kernelVariants {
		t.Run(fastConvKernelEnv+"="+v.name, func(t *testing.T) {
			if sgemmKernels()[v.name] == nil {
				t.Skipf("this CPU lacks %s: not tested on this machine", v.covers)
			}
			got := runEnvChild(t, []string{fastConvKernelEnv + "=" + v.name})
			if got.Kernel != v.name || got.AsmEpilogue != (v.name == "avx512") || !got.Fused {
				t.Errorf("kernel %q, AVX-512 epilogues %v, fused %v; want %q, %v, fused", got.Kernel, got.AsmEpilogue,
					got.Fused, v.name, v.name == "avx512")
			}
			checkEnvOutput(t, v.name, got.Out, ref)
			checkEnvOutput(t, v.name+" vs the default kernel", got.Out, float64s(def.Out))
		})
	}
	for _, tc := range []struct{ env, wantErr string }{
		{fastConvEnv + "=maybe", `invalid value "maybe" for environment variable "GOMLX_FASTCONV"`},
		{fastConvKernelEnv + "=sse", `GOMLX_FASTCONV_KERNEL="sse": this CPU runs [`},
	} {
		t.Run(tc.env, func(t *testing.T) {
			out, err := envChild(t, []string{tc.env}).CombinedOutput()
			if err == nil {
				t.Fatalf("the program ran with %s; output:\n%s", tc.env, out)
			}
			if !strings.Contains(string(out), tc.wantErr) {
				t.Fatalf("output does not say %q:\n%s", tc.wantErr, out)
			}
		})
	}
}

// TestFastConvEnvChild is TestFastConvEnv's child process: it runs the graph and writes an envResult.
func TestFastConvEnvChild(t *testing.T) {
	path := os.Getenv(envChildOut)
	if path == "" {
		t.Skip("runs only as TestFastConvEnv's child process")
	}
	res := envResult{Kernel: sgemmKernelName, AsmEpilogue: epilogueAsm != nil}
	res.Out, res.Fused = runEnvGraph(t)
	data, err := json.Marshal(res)
	must(t, err)
	must(t, os.WriteFile(path, data, 0o644))
}

// envChild returns the command that runs TestFastConvEnvChild with env added to this environment (less
// its GOMLX_FASTCONV settings).
func envChild(t *testing.T, env []string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFastConvEnvChild$", "-test.count=1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, fastConvEnv) && !strings.HasPrefix(kv, envChildOut+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func runEnvChild(t *testing.T, env []string) envResult {
	t.Helper()
	path := filepath.Join(t.TempDir(), "result.json")
	cmd := envChild(t, env)
	cmd.Env = append(cmd.Env, envChildOut+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child with %v: %v\n%s", env, err, out)
	}
	data, err := os.ReadFile(path)
	must(t, err)
	var res envResult
	must(t, json.Unmarshal(data, &res))
	return res
}

// The graph the env tests run is ReLU(BatchNorm(conv(x, k))) over a 64-channel convolution (the AVX-512
// epilogue where in use).
const envGraphCase, envGraphEps = "3x3_s2_p1", 1e-3

// envGraphInputs returns its inputs, from a fixed seed: x, k, scale, offset, mean, variance.
func envGraphInputs(c fcCase) [][]float32 {
	rng := rand.New(rand.NewPCG(8, 8))
	n := c.kDims[3]
	in := [][]float32{randFloat32s(rng, shapes.Make(dtypes.Float32, c.inDims...).Size()),
		randFloat32s(rng, shapes.Make(dtypes.Float32, c.kDims...).Size())}
	for range 4 {
		in = append(in, randFloat32s(rng, n))
	}
	for j := range in[5] {
		in[5][j] = 0.5 + in[5][j]*in[5][j] // variance > 0
	}
	return in
}

// runEnvGraph compiles and runs the graph on the Go backend; it also reports whether the batch norm was
// fused into the convolution.
func runEnvGraph(t *testing.T) ([]float32, bool) {
	backend, f := testFunction(t)
	c := fcCaseNamed(t, envGraphCase)
	inShape, kShape := shapes.Make(dtypes.Float32, c.inDims...), shapes.Make(dtypes.Float32, c.kDims...)
	vec := shapes.Make(dtypes.Float32, c.kDims[3])
	params := []compute.Value{testParameter(t, f, "x", inShape), testParameter(t, f, "k", kShape)}
	for _, name := range []string{"scale", "offset", "mean", "variance"} {
		params = append(params, testParameter(t, f, name, vec))
	}
	conv, err := ConvGeneral(f, params[0], params[1], c.axes, c.strides, c.paddings, nil, nil, 1, 1)
	must(t, err)
	y, err := BatchNormForInference(f, conv, params[2], params[3], params[4], params[5], envGraphEps, 3)
	must(t, err)
	zero, err := f.Constant([]float32{0})
	must(t, err)
	y, err = Max(f, y, zero)
	must(t, err)
	must(t, f.Return([]compute.Value{y}, nil))
	exec, err := f.RawBuilder.Compile()
	must(t, err)
	var args []compute.Buffer
	for i, v := range envGraphInputs(c) {
		args = append(args, testBuffer(t, backend, []shapes.Shape{inShape, kShape, vec, vec, vec, vec}[i], v))
	}
	out, err := exec.Execute(args, nil, 0)
	must(t, err)
	fused := conv.(*gobackend.Node).Data.(*convNode).epilogue != nil
	return out[0].(*gobackend.Buffer).Flat.([]float32), fused
}

// envGraphReference is the graph computed in float64.
func envGraphReference(t *testing.T) []float64 {
	c := fcCaseNamed(t, envGraphCase)
	in := envGraphInputs(c)
	_, _, _, outShape := c.build(t)
	ref := naiveConv(c, in[0], in[1], outShape)
	n := c.kDims[3]
	for i, v := range ref {
		j := i % n
		bn := (v-float64(in[4][j]))/math.Sqrt(float64(in[5][j])+envGraphEps)*float64(in[2][j]) + float64(in[3][j])
		ref[i] = max(bn, 0)
	}
	return ref
}

func checkEnvOutput(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		if math.Abs(float64(got[i])-w) > 1e-4*(1+math.Abs(w)) {
			t.Fatalf("%s: output %d is %g, want %g", what, i, got[i], w)
		}
	}
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
