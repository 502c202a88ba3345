// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
)

// wgMaxRelError is the accuracy asked of the Winograd path: max |got - ref| / max |ref| over the output,
// against a float64 direct convolution.
const wgMaxRelError = 1e-3

// wgCases are 3x3 stride-1 convolutions: odd sizes (partial edge tiles), padding 0, 1, 2 and
// asymmetric, batch 1 and 3, channel counts that are not multiples of 8 or 16, other axes layouts (the
// input gradient's swapped kernel axes, NCHW), more input channels than fcKC and more output channels
// than one NR panel.
func wgCases() []fcCase {
	p := func(lo, hi int) [][2]int { return [][2]int{{lo, hi}, {lo, hi}} }
	return []fcCase{
		{"p1_odd", nhwc, []int{3, 9, 11, 13}, []int{3, 3, 13, 33}, nil, p(1, 1), nil, nil},
		{"p0", nhwc, []int{1, 10, 7, 20}, []int{3, 3, 20, 17}, nil, p(0, 0), nil, nil},
		{"p2", nhwc, []int{3, 5, 6, 7}, []int{3, 3, 7, 40}, nil, p(2, 2), nil, nil},
		{"asym_pad", nhwc, []int{1, 8, 9, 16}, []int{3, 3, 16, 64}, nil, [][2]int{{2, 0}, {0, 1}}, nil, nil},
		{"tiny_1x1_out", nhwc, []int{3, 3, 3, 5}, []int{3, 3, 5, 3}, nil, p(0, 0), nil, nil},
		{"cin_over_kc", nhwc, []int{1, 7, 7, 300}, []int{3, 3, 300, 70}, nil, p(1, 1), nil, nil},
		{"many_tiles", nhwc, []int{3, 30, 29, 24}, []int{3, 3, 24, 100}, nil, p(1, 1), nil, nil},
		{"input_grad", inputGrad, []int{3, 13, 13, 40}, []int{3, 3, 24, 40}, nil, p(1, 1), nil, nil},
		{"nchw", nchw, []int{3, 12, 10, 9}, []int{19, 12, 3, 3}, nil, p(1, 1), nil, nil},
	}
}

// relError returns max |got - want| / max |want|.
func relError(got []float32, want []float64) float64 {
	var maxErr, maxRef float64
	for i, w := range want {
		maxErr = max(maxErr, math.Abs(float64(got[i])-w))
		maxRef = max(maxRef, math.Abs(w))
	}
	return maxErr / maxRef
}

// forEachWgTransform runs f with the AVX2 transforms (where this build and CPU have them) and the Go ones.
func forEachWgTransform(t *testing.T, f func(t *testing.T)) {
	for _, simd := range []bool{true, false} {
		t.Run(fmt.Sprintf("simd=%v", simd), func(t *testing.T) {
			saved := wg
			wg = wgTransforms(simd)
			t.Cleanup(func() { wg = saved })
			f(t)
		})
	}
}

// wgReference is a case's random input and kernel and the float64 direct convolution of them, computed
// once for all the variants a test runs.
type wgReference struct {
	in, kern []float32
	want     []float64
}

func newWgReference(t *testing.T, c fcCase, seed uint64) wgReference {
	_, inShape, kShape, outShape := c.build(t)
	rng := rand.New(rand.NewPCG(seed, uint64(len(c.name))))
	r := wgReference{in: randFloat32s(rng, inShape.Size()), kern: randFloat32s(rng, kShape.Size())}
	r.want = naiveConv(c, r.in, r.kern, outShape)
	return r
}

// checkWgError runs plan on the reference's operands into garbage-filled output (which must be fully
// overwritten) and checks the relative error, which it logs.
func checkWgError(t *testing.T, r wgReference, run func(in, kern, out []float32, workers int), workers int) {
	t.Helper()
	out := randFloat32s(rand.New(rand.NewPCG(1, 1)), len(r.want))
	run(r.in, r.kern, out, workers)
	e := relError(out, r.want)
	if e > wgMaxRelError {
		t.Fatalf("relative error %.3g > %g", e, wgMaxRelError)
	}
	t.Logf("relative error (max abs error / max abs reference) %.3g", e)
}

// TestWinogradMatchesNaive checks the Winograd path, with every micro-kernel, both transform
// implementations, 1 to 3 workers and the kernel transformed ahead or on the fly, against the float64
// direct convolution.
func TestWinogradMatchesNaive(t *testing.T) {
	refs := map[string]wgReference{}
	for _, c := range wgCases() {
		refs[c.name] = newWgReference(t, c, 5)
	}
	forEachKernel(t, func(t *testing.T) {
		forEachWgTransform(t, func(t *testing.T) {
			for _, c := range wgCases() {
				params, inShape, kShape, outShape := c.build(t)
				p, ok := newFastConvPlan(params, inShape, kShape, outShape)
				if !ok || !winogradApplies(p) {
					t.Fatalf("%s: not a Winograd convolution", c.name)
				}
				for _, workers := range []int{1, 3} {
					for _, fly := range []bool{false, true} {
						t.Run(fmt.Sprintf("%s/w%d/fly=%v", c.name, workers, fly), func(t *testing.T) {
							checkWgError(t, refs[c.name], planWinograd(p, workers, fly).run, workers)
						})
					}
				}
			}
		})
	})
}

// BenchmarkWinogradResNet50 times ResNet50's 3x3 stride-1 convolutions (batch 8) and their two
// gradients (kgrad: F(3x3, 4x4)), by fastConv and by Winograd (whatever winogradWins says), with the micro-kernel
// GOMLX_FASTCONV_KERNEL picks, in direct-convolution GFLOP/s (2*M*N*K, as BenchmarkFastConvResNet50):
//
//	cd third_party/compute && go test ./internal/gobackend/ops -run '^$' -bench WinogradResNet50
func BenchmarkWinogradResNet50(b *testing.B) {
	for _, r := range resnet50Convs {
		if r.k != 3 || r.s != 1 {
			continue
		}
		for _, c := range resnet50ConvCases(r.hw, r.cin, r.cout, r.k, r.s, 8) {
			params, inShape, kShape, outShape := c.build(b)
			p, _ := newFastConvPlan(params, inShape, kShape, outShape)
			grad := winogradGradApplies(p)
			if !winogradApplies(p) && !grad {
				continue
			}
			for _, algo := range []string{"fastconv", "winograd"} {
				name := fmt.Sprintf("%s_%d-%d_%d/%s/%s", c.name, r.cin, r.cout, r.hw, sgemmKernelName, algo)
				b.Run(name, func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, 2))
					in, kern := randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size())
					out := make([]float32, outShape.Size())
					workers := runtime.GOMAXPROCS(0)
					run := p.run
					switch {
					case algo == "winograd" && grad:
						run = planWinogradGrad(p).run
					case algo == "winograd":
						run = planWinograd(p, workers, wgFly(p)).run
					}
					run(in, kern, out, workers) // allocates the scratch buffers
					b.ResetTimer()
					for b.Loop() {
						run(in, kern, out, workers)
					}
					flops := 2 * float64(p.m) * float64(p.n) * float64(p.k) * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// TestWinogradEpilogues checks the fused epilogues (batch norm, residual, ReLU; ReLU-gradient mask) on the
// Winograd path against fastConv with the same epilogue, with every micro-kernel (and so with the
// AVX-512 epilogues and the Go ones), over channel groups that split the output channels.
func TestWinogradEpilogues(t *testing.T) {
	c := fcCase{"epilogue", nhwc, []int{2, 9, 10, 24}, []int{3, 3, 24, 80}, nil, [][2]int{{1, 1}, {1, 1}}, nil, nil}
	forEachKernel(t, func(t *testing.T) {
		for _, epi := range []string{"bn", "bn_res_relu", "mask"} {
			t.Run(epi, func(t *testing.T) {
				params, inShape, kShape, outShape := c.build(t)
				p, _ := newFastConvPlan(params, inShape, kShape, outShape)
				rng := rand.New(rand.NewPCG(6, 7))
				in, kern := randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size())
				switch epi {
				case "mask":
					p.epiMask = randFloat32s(rng, outShape.Size())
				default:
					p.epiA, p.epiB = randFloat32s(rng, p.n), randFloat32s(rng, p.n)
					if epi == "bn_res_relu" {
						p.epiRes, p.epiReLU = randFloat32s(rng, outShape.Size()), true
					}
				}
				want := make([]float32, outShape.Size())
				p.run(in, kern, want, 1)
				got := make([]float32, outShape.Size())
				w := planWinograd(p, 3, false)
				if w.kGroups < 2 {
					t.Fatalf("%d channel groups: the epilogue is not tested on split channels", w.kGroups)
				}
				w.run(in, kern, got, 3)
				if e := relError(got, float64s(want)); e > wgMaxRelError {
					t.Fatalf("relative error %.3g > %g against fastConv", e, wgMaxRelError)
				}
			})
		}
	})
}

// wgGradCases are kernel-gradient convolutions (GoMLX's layout: the input's channels as batch, its batch
// as channels, dy as the kernel) of 3x3 stride-1 convolutions with padding 0, 1, 2 and asymmetric,
// partial edge tiles, channel counts that are not multiples of 12 or 32, and more tiles than fcKC
// (the reduction split in blocks).
func wgGradCases() []fcCase {
	p := func(lo, hi int) [][2]int { return [][2]int{{lo, hi}, {lo, hi}} }
	return []fcCase{
		{"p1_odd", kernelGrad, []int{3, 9, 11, 20}, []int{3, 9, 11, 33}, nil, p(1, 1), nil, nil},
		{"p0", kernelGrad, []int{2, 10, 7, 17}, []int{2, 8, 5, 19}, nil, p(0, 0), nil, nil},
		{"p2", kernelGrad, []int{3, 5, 6, 16}, []int{3, 7, 8, 24}, nil, p(2, 2), nil, nil},
		{"asym_pad", kernelGrad, []int{1, 8, 9, 16}, []int{1, 8, 8, 40}, nil, [][2]int{{2, 0}, {0, 1}}, nil, nil},
		{"many_tiles", kernelGrad, []int{3, 40, 40, 16}, []int{3, 40, 40, 32}, nil, p(1, 1), nil, nil},
	}
}

// TestWinogradGradMatchesNaive checks the kernel gradient by F(3x3, 4x4), with every micro-kernel, both
// transform implementations and 1 to 3 workers, against the float64 direct convolution.
func TestWinogradGradMatchesNaive(t *testing.T) {
	refs := map[string]wgReference{}
	for _, c := range wgGradCases() {
		refs[c.name] = newWgReference(t, c, 9)
	}
	forEachKernel(t, func(t *testing.T) {
		forEachWgTransform(t, func(t *testing.T) {
			for _, c := range wgGradCases() {
				params, inShape, kShape, outShape := c.build(t)
				p, ok := newFastConvPlan(params, inShape, kShape, outShape)
				if !ok || !winogradGradApplies(p) {
					t.Fatalf("%s: not a Winograd kernel gradient", c.name)
				}
				for _, workers := range []int{1, 3} {
					t.Run(fmt.Sprintf("%s/w%d", c.name, workers), func(t *testing.T) {
						checkWgError(t, refs[c.name], planWinogradGrad(p).run, workers)
					})
				}
			}
		})
	})
}

// TestWinogradEnv starts this test binary with GOMLX_WINOGRAD set (read once at start-up) and checks
// that it turns the Winograd path on or off, and that an unparsable value stops the program with a
// message naming the variable.
func TestWinogradEnv(t *testing.T) {
	for _, tc := range []struct {
		env, want string
		fails     bool
	}{
		{"unset", "winogradOn=true", false},
		{winogradEnv + "=false", "winogradOn=false", false},
		{winogradEnv + "=true", "winogradOn=true", false},
		{winogradEnv + "=maybe", `invalid value "maybe" for environment variable "GOMLX_WINOGRAD"`, true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestWinogradEnvChild$", "-test.count=1", "-test.v")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, winogradEnv+"=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, "WINOGRAD_ENV_CHILD=1")
			if tc.env != "unset" {
				cmd.Env = append(cmd.Env, tc.env)
			}
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.fails {
				t.Fatalf("error %v, want failure %v; output:\n%s", err, tc.fails, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestWinogradEnvChild is TestWinogradEnv's child process: it prints whether the Winograd path is on.
func TestWinogradEnvChild(t *testing.T) {
	if os.Getenv("WINOGRAD_ENV_CHILD") == "" {
		t.Skip("runs only as TestWinogradEnv's child process")
	}
	fmt.Printf("winogradOn=%v\n", winogradOn)
}

// TestWinogradThroughExecutor runs a 3x3 stride-1 convolution and its kernel-gradient layout as
// ConvGeneral graphs on the Go backend and checks that the executor takes the Winograd paths: the results
// are bit for bit those of the Winograd plans run directly (fastConv's differ in the last bits).
func TestWinogradThroughExecutor(t *testing.T) {
	if !fastEnabled() || !winogradOn || !wg.simd {
		t.Skip("the Winograd path is off (GOMLX_FASTCONV=false, GOMLX_WINOGRAD=false, or no AVX2 transforms)")
	}
	p1 := [][2]int{{1, 1}, {1, 1}}
	for _, c := range []fcCase{
		{"forward", nhwc, []int{2, 9, 10, 24}, []int{3, 3, 24, 40}, nil, p1, nil, nil},
		{"kernel_grad", kernelGrad, []int{2, 9, 10, 24}, []int{2, 9, 10, 40}, nil, p1, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			params, inShape, kShape, outShape := c.build(t)
			p, _ := newFastConvPlan(params, inShape, kShape, outShape)
			workers := runtime.GOMAXPROCS(0)
			run := func(in, kern, out []float32, workers int) {
				w, ok := newWinogradPlan(p, workers)
				if !ok {
					t.Fatalf("%s: no Winograd plan", c.name)
				}
				w.run(in, kern, out, workers)
			}
			if c.name == "kernel_grad" {
				g, ok := newWinogradGradPlan(p)
				if !ok {
					t.Fatalf("%s: no Winograd plan", c.name)
				}
				run = g.run
			}
			r := newWgReference(t, c, 11)
			want := make([]float32, outShape.Size())
			run(r.in, r.kern, want, workers)
			fast := make([]float32, outShape.Size())
			p.run(r.in, r.kern, fast, workers)
			if slices.Equal(fast, want) {
				t.Fatal("fastConv and Winograd agree bit for bit: the test cannot tell them apart")
			}

			backend, f := testFunction(t)
			x, k := testParameter(t, f, "x", inShape), testParameter(t, f, "k", kShape)
			conv, err := ConvGeneral(f, x, k, c.axes, c.strides, c.paddings, nil, nil, 1, 1)
			must(t, err)
			must(t, f.Return([]compute.Value{conv}, nil))
			exec, err := f.RawBuilder.Compile()
			must(t, err)
			out, err := exec.Execute([]compute.Buffer{testBuffer(t, backend, inShape, r.in), testBuffer(t, backend, kShape, r.kern)}, nil, 0)
			must(t, err)
			if got := out[0].(*gobackend.Buffer).Flat.([]float32); !slices.Equal(got, want) {
				t.Fatalf("the executor's result is not the Winograd plan's (relative error to it %.3g)", relError(got, float64s(want)))
			}
		})
	}
}
