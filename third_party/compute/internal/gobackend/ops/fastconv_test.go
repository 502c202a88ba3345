// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

// fcCase is one convolution: shapes given in the axes layout below.
type fcCase struct {
	name                    string
	axes                    compute.ConvolveAxesConfig
	inDims, kDims           []int
	strides                 []int
	paddings                [][2]int
	inputDilations, kDilate []int
}

var (
	nhwc = compute.ConvolveAxesConfig{InputBatch: 0, InputChannels: 3, InputSpatial: []int{1, 2},
		KernelInputChannels: 2, KernelOutputChannels: 3, KernelSpatial: []int{0, 1},
		OutputBatch: 0, OutputChannels: 3, OutputSpatial: []int{1, 2}}
	nchw = compute.ConvolveAxesConfig{InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelInputChannels: 1, KernelOutputChannels: 0, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3}}
	// kernelGrad is the layout of GoMLX's gradient w.r.t. an HWIO kernel of an NHWC convolution: the
	// input's channel axis acts as batch, its batch as channels, and dy is the kernel.
	kernelGrad = compute.ConvolveAxesConfig{InputBatch: 3, InputChannels: 0, InputSpatial: []int{1, 2},
		KernelInputChannels: 0, KernelOutputChannels: 3, KernelSpatial: []int{1, 2},
		OutputBatch: 2, OutputChannels: 3, OutputSpatial: []int{0, 1}}
	// inputGrad is the layout of the gradient w.r.t. the input: the kernel's channel axes swapped.
	inputGrad = compute.ConvolveAxesConfig{InputBatch: 0, InputChannels: 3, InputSpatial: []int{1, 2},
		KernelInputChannels: 3, KernelOutputChannels: 2, KernelSpatial: []int{0, 1},
		OutputBatch: 0, OutputChannels: 3, OutputSpatial: []int{1, 2}}
)

func fcCases() []fcCase {
	p := func(lo, hi int) [][2]int { return [][2]int{{lo, hi}, {lo, hi}} }
	return []fcCase{
		{"1x1_in_place", nhwc, []int{2, 5, 6, 7}, []int{1, 1, 7, 9}, nil, nil, nil, nil},
		{"1x1_in_place_partial_panel", nhwc, []int{3, 5, 5, 16}, []int{1, 1, 16, 64}, nil, nil, nil, nil}, // M = 75
		{"1x1_in_place_odd_cout", nhwc, []int{3, 5, 5, 300}, []int{1, 1, 300, 40}, nil, nil, nil, nil},    // K > KC
		{"1x1_s2", nhwc, []int{2, 7, 6, 16}, []int{1, 1, 16, 40}, []int{2, 2}, nil, nil, nil},
		{"3x3_p1", nhwc, []int{3, 9, 8, 13}, []int{3, 3, 13, 33}, nil, p(1, 1), nil, nil},
		{"3x3_s2_p1", nhwc, []int{2, 11, 10, 8}, []int{3, 3, 8, 64}, []int{2, 2}, p(1, 1), nil, nil},
		{"7x7_s2_p3_stem", nhwc, []int{2, 20, 18, 3}, []int{7, 7, 3, 64}, []int{2, 2}, p(3, 3), nil, nil},
		{"3x3_bigK", nhwc, []int{1, 6, 6, 70}, []int{3, 3, 70, 31}, nil, p(1, 1), nil, nil}, // K=630 > KC
		{"many_pixels", nhwc, []int{4, 13, 11, 5}, []int{3, 3, 5, 7}, nil, p(1, 1), nil, nil},
		{"asym_negative_pad", nhwc, []int{2, 9, 9, 4}, []int{3, 2, 4, 5}, []int{1, 2}, [][2]int{{-1, 2}, {2, -1}}, nil, nil},
		{"input_dilation", nhwc, []int{2, 5, 4, 6}, []int{3, 3, 6, 10}, nil, p(1, 1), []int{2, 2}, nil},
		{"kernel_dilation", nhwc, []int{2, 9, 8, 6}, []int{3, 3, 6, 10}, []int{1, 1}, p(2, 2), nil, []int{2, 2}},
		{"both_dilations_strided", nhwc, []int{2, 6, 7, 3}, []int{2, 3, 3, 5}, []int{2, 1}, p(1, 0), []int{2, 3}, []int{2, 1}},
		{"nchw", nchw, []int{2, 6, 9, 8}, []int{12, 6, 3, 3}, []int{1, 2}, p(1, 1), nil, nil},
		{"kernel_grad_3x3", kernelGrad, []int{2, 8, 8, 24}, []int{2, 8, 8, 33}, nil, p(1, 1), nil, nil},
		{"kernel_grad_3x3_s2", kernelGrad, []int{3, 8, 8, 12}, []int{3, 4, 4, 32}, nil, [][2]int{{1, 0}, {1, 0}}, nil, []int{2, 2}},
		{"kernel_grad_batch12", kernelGrad, []int{12, 5, 5, 36}, []int{12, 5, 5, 16}, nil, p(1, 1), nil, nil},
		{"input_grad_3x3_s2", inputGrad, []int{2, 4, 4, 16}, []int{3, 3, 8, 16}, nil, [][2]int{{1, 2}, {1, 2}}, []int{2, 2}, nil},
		{"split_k_kernel_grad", kernelGrad, []int{4, 32, 32, 5}, []int{4, 32, 32, 7}, nil, p(1, 1), nil, nil}, // K = 4096
		{"split_k_forward", nhwc, []int{1, 3, 3, 520}, []int{3, 3, 520, 33}, nil, p(1, 1), nil, nil},          // K = 4680, M = 9
		{"input_dilation_3x2_asym_pad", nhwc, []int{2, 4, 5, 3}, []int{2, 3, 3, 4}, nil, [][2]int{{2, 0}, {-1, 3}}, []int{3, 2}, nil},
		{"input_grad_1x1_s2", inputGrad, []int{2, 3, 3, 40}, []int{1, 1, 24, 40}, nil, [][2]int{{0, 1}, {0, 1}}, []int{2, 2}, nil},
	}
}

// build returns the node parameters and output shape of c, as ConvGeneral would.
func (c fcCase) build(t testing.TB) (*convNode, shapes.Shape, shapes.Shape, shapes.Shape) {
	inShape := shapes.Make(dtypes.Float32, c.inDims...)
	kShape := shapes.Make(dtypes.Float32, c.kDims...)
	out, err := shapeinference.ConvGeneral(inShape, kShape, c.axes, c.strides, c.paddings, c.inputDilations, c.kDilate, 1, 1)
	if err != nil {
		t.Fatalf("%s: shape inference: %v", c.name, err)
	}
	return &convNode{axes: c.axes, strides: c.strides, paddings: c.paddings, inputDilations: c.inputDilations,
		kernelDilations: c.kDilate, channelGroupCount: 1, batchGroupCount: 1}, inShape, kShape, out
}

// naiveConv is the obviously correct ConvGeneral (no grouping) in float64, straight from its definition:
// out[b, o, q] = sum_{c, k} in[b, c, (q*stride + k*kernelDilation - padLow)/inputDilation] * kern[c, o, k],
// over positions that are inside the input and on its dilation grid.
func naiveConv(c fcCase, in, kern []float32, out shapes.Shape) []float64 {
	inS := shapes.Make(dtypes.Float32, c.inDims...)
	kS := shapes.Make(dtypes.Float32, c.kDims...)
	inStr, kStr, outStr := inS.Strides(), kS.Strides(), out.Strides()
	a := c.axes
	get := func(s []int, d int, def int) int {
		if len(s) > d && s[d] > 0 {
			return s[d]
		}
		return def
	}
	res := make([]float64, out.Size())
	for b := range out.Dimensions[a.OutputBatch] {
		for o := range out.Dimensions[a.OutputChannels] {
			for q0 := range out.Dimensions[a.OutputSpatial[0]] {
				for q1 := range out.Dimensions[a.OutputSpatial[1]] {
					var sum float64
					for ch := range c.inDims[a.InputChannels] {
						for k0 := range c.kDims[a.KernelSpatial[0]] {
							for k1 := range c.kDims[a.KernelSpatial[1]] {
								q, k := [2]int{q0, q1}, [2]int{k0, k1}
								inOff := b*inStr[a.InputBatch] + ch*inStr[a.InputChannels]
								ok := true
								for d := range 2 {
									var lo int
									if len(c.paddings) > d {
										lo = c.paddings[d][0]
									}
									pos := q[d]*get(c.strides, d, 1) + k[d]*get(c.kDilate, d, 1) - lo
									dil := get(c.inputDilations, d, 1)
									if pos < 0 || pos%dil != 0 || pos/dil >= c.inDims[a.InputSpatial[d]] {
										ok = false
										break
									}
									inOff += pos / dil * inStr[a.InputSpatial[d]]
								}
								if !ok {
									continue
								}
								kOff := ch*kStr[a.KernelInputChannels] + o*kStr[a.KernelOutputChannels] +
									k0*kStr[a.KernelSpatial[0]] + k1*kStr[a.KernelSpatial[1]]
								sum += float64(in[inOff]) * float64(kern[kOff])
							}
						}
					}
					res[b*outStr[a.OutputBatch]+o*outStr[a.OutputChannels]+
						q0*outStr[a.OutputSpatial[0]]+q1*outStr[a.OutputSpatial[1]]] = sum
				}
			}
		}
	}
	return res
}

func randFloat32s(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// kernelVariants lists fastConv's micro-kernels by GOMLX_FASTCONV_KERNEL name, with what only that
// variant runs.
var kernelVariants = []struct{ name, covers string }{
	{"avx512", "the AVX-512 micro-kernel, its DirectA form (1x1 convolutions read in place) and the AVX-512 epilogues"},
	{"avx2", "the AVX2+FMA micro-kernel"},
	{"go", "the portable Go micro-kernel"},
}

// forEachKernel runs f as one subtest per micro-kernel variant, switched in as GOMLX_FASTCONV_KERNEL
// switches it (with its epilogues); a variant this CPU lacks is skipped, naming what goes untested.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	for _, v := range kernelVariants {
		t.Run(v.name, func(t *testing.T) {
			saved := sgemmKernelName
			if !useKernel(v.name) {
				t.Skipf("this CPU lacks %s: not tested on this machine", v.covers)
			}
			t.Cleanup(func() { useKernel(saved) })
			f(t)
		})
	}
}

// TestKernelVariantsListed keeps kernelVariants complete, so that forEachKernel reaches every
// micro-kernel this CPU has, and checks that the portable Go one is always among them.
func TestKernelVariantsListed(t *testing.T) {
	listed := map[string]bool{}
	for _, v := range kernelVariants {
		listed[v.name] = true
	}
	for name := range sgemmKernels() {
		if !listed[name] {
			t.Errorf("micro-kernel %q is missing from kernelVariants", name)
		}
	}
	if sgemmKernels()["go"] == nil {
		t.Error("the Go micro-kernel is not available")
	}
}

// TestFastConvMatchesNaive checks fastConv, with every micro-kernel and 1 to 3 workers, against naiveConv.
func TestFastConvMatchesNaive(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for _, c := range fcCases() {
			for _, workers := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/w%d", c.name, workers), func(t *testing.T) {
					params, inShape, kShape, outShape := c.build(t)
					plan, ok := newFastConvPlan(params, inShape, kShape, outShape)
					if !ok {
						t.Fatalf("fastConv does not handle %s", c.name)
					}
					if strings.Contains(c.name, "in_place") != plan.directA {
						t.Fatalf("%s: directA=%v", c.name, plan.directA)
					}
					rng := rand.New(rand.NewPCG(1, uint64(len(c.name))))
					in, kern := randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size())
					out := randFloat32s(rng, outShape.Size()) // garbage: must be fully overwritten
					plan.run(in, kern, out, workers)
					want := naiveConv(c, in, kern, outShape)
					for i, w := range want {
						if d := math.Abs(float64(out[i]) - w); d > 1e-4*(1+math.Abs(w)) {
							t.Fatalf("output %d of %s: got %g, want %g", i, outShape, out[i], w)
						}
					}
				})
			}
		}
	})
}

// TestFastConvDeclines lists what fastConv leaves to the upstream executor.
func TestFastConvDeclines(t *testing.T) {
	c := fcCases()[0]
	params, inShape, kShape, outShape := c.build(t)
	f64 := shapes.Make(dtypes.Float64, inShape.Dimensions...)
	if _, ok := newFastConvPlan(params, f64, kShape, outShape); ok {
		t.Error("float64 input accepted")
	}
	grouped := *params
	grouped.channelGroupCount = 2
	if _, ok := newFastConvPlan(&grouped, inShape, kShape, outShape); ok {
		t.Error("channel grouping accepted")
	}
}

// TestSgemmKernels checks every micro-kernel this CPU runs against a plain triple loop, overwriting and
// accumulating, with a C row stride wider than the tile.
func TestSgemmKernels(t *testing.T) {
	forEachKernel(t, func(t *testing.T) { testSgemmKernel(t, sgemmKernel) })
}

func testSgemmKernel(t *testing.T, sgemmKernel func(int, *float32, *float32, *float32, int, bool)) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{0, 1, 7, 256} {
		a, b := randFloat32s(rng, max(k, 1)*fcMR), randFloat32s(rng, max(k, 1)*fcNR)
		const ldc = fcNR + 5
		for _, acc := range []bool{false, true} {
			c := randFloat32s(rng, fcMR*ldc)
			c0 := append([]float32(nil), c...)
			sgemmKernel(k, &a[0], &b[0], &c[0], ldc, acc)
			for r := range fcMR {
				for j := range ldc {
					want := float64(c0[r*ldc+j])
					if j < fcNR {
						var sum float64
						for i := range k {
							sum += float64(a[i*fcMR+r]) * float64(b[i*fcNR+j])
						}
						if acc {
							want += sum
						} else {
							want = sum
						}
					}
					if d := math.Abs(float64(c[r*ldc+j]) - want); d > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("k=%d acc=%v c[%d,%d]=%g, want %g", k, acc, r, j, c[r*ldc+j], want)
					}
				}
			}
		}
	}
}

// BenchmarkFastConv times fastConv on ResNet50 shapes (batch 8): forward convolutions and the two
// gradient convolutions GoMLX's autodiff emits (kgrad: w.r.t. the kernel; igrad: w.r.t. the input).
func BenchmarkFastConv(b *testing.B) {
	p1 := [][2]int{{1, 1}, {1, 1}}
	cases := []fcCase{
		{"fwd_3x3_64-64_56", nhwc, []int{8, 56, 56, 64}, []int{3, 3, 64, 64}, nil, p1, nil, nil},
		{"fwd_1x1_64-256_56", nhwc, []int{8, 56, 56, 64}, []int{1, 1, 64, 256}, nil, nil, nil, nil},
		{"fwd_1x1_256-64_56", nhwc, []int{8, 56, 56, 256}, []int{1, 1, 256, 64}, nil, nil, nil, nil},
		{"fwd_7x7s2_3-64_224", nhwc, []int{8, 224, 224, 3}, []int{7, 7, 3, 64}, []int{2, 2}, [][2]int{{3, 3}, {3, 3}}, nil, nil},
		{"kgrad_3x3_64-64_56", kernelGrad, []int{8, 56, 56, 64}, []int{8, 56, 56, 64}, nil, p1, nil, nil},
		{"igrad_3x3s2_128-128_56", inputGrad, []int{8, 28, 28, 128}, []int{3, 3, 128, 128}, nil, [][2]int{{1, 2}, {1, 2}}, []int{2, 2}, nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			params, inShape, kShape, outShape := c.build(b)
			plan, _ := newFastConvPlan(params, inShape, kShape, outShape)
			rng := rand.New(rand.NewPCG(1, 2))
			in, kern := randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size())
			out := make([]float32, outShape.Size())
			b.ReportAllocs()
			b.SetBytes(int64(4 * (len(in) + len(out))))
			for b.Loop() {
				plan.run(in, kern, out, 2)
			}
			// Useful work only: for input-dilated convolutions, the products that meet real elements.
			flops := 2 * float64(plan.m) * float64(plan.n) * float64(plan.k)
			if classes := plan.dilationClasses(); classes != nil {
				flops = 0
				for _, c := range classes {
					flops += 2 * float64(c.m) * float64(c.n) * float64(c.k)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// resnet50Convs lists the distinct convolutions of ResNet50 v1.5 at 224x224 (torchvision layout):
// input size, channels in and out, kernel size, stride, and how many times each occurs (53 in all).
var resnet50Convs = []struct{ hw, cin, cout, k, s, count int }{
	{224, 3, 64, 7, 2, 1}, {56, 64, 64, 1, 1, 1}, {56, 64, 64, 3, 1, 3}, {56, 64, 256, 1, 1, 4}, {56, 256, 64, 1, 1, 2},
	{56, 256, 128, 1, 1, 1}, {56, 128, 128, 3, 2, 1}, {56, 256, 512, 1, 2, 1}, {28, 128, 512, 1, 1, 4},
	{28, 512, 128, 1, 1, 3}, {28, 128, 128, 3, 1, 3}, {28, 512, 256, 1, 1, 1}, {28, 256, 256, 3, 2, 1},
	{28, 512, 1024, 1, 2, 1}, {14, 256, 1024, 1, 1, 6}, {14, 1024, 256, 1, 1, 5}, {14, 256, 256, 3, 1, 5},
	{14, 1024, 512, 1, 1, 1}, {14, 512, 512, 3, 2, 1}, {14, 1024, 2048, 1, 2, 1}, {7, 512, 2048, 1, 1, 3},
	{7, 2048, 512, 1, 1, 2}, {7, 512, 512, 3, 1, 2},
}

// resnet50ConvCases returns, for one ResNet50 convolution at batch size batch, the three convolutions a
// training step runs, laid out as GoMLX's autodiff emits them: the forward pass, the gradient with
// respect to the kernel, and (except for the stem, whose input needs none) the gradient with respect to
// the input (with the stride as input dilation).
func resnet50ConvCases(hw, cin, cout, k, s, batch int) []fcCase {
	p := k / 2
	ho := (hw+2*p-k)/s + 1
	used := (k - 1) + (ho-1)*s + 1 - 2*p // input rows the forward window covers
	cases := []fcCase{
		{"fwd", nhwc, []int{batch, hw, hw, cin}, []int{k, k, cin, cout}, []int{s, s}, [][2]int{{p, p}, {p, p}}, nil, nil},
		{"kgrad", kernelGrad, []int{batch, hw, hw, cin}, []int{batch, ho, ho, cout}, nil,
			[][2]int{{p, p - (hw - used)}, {p, p - (hw - used)}}, nil, []int{s, s}},
	}
	if cin != 3 {
		lo := k - 1 - p
		hi := hw + k - 1 - lo - ((ho-1)*s + 1)
		cases = append(cases, fcCase{"igrad", inputGrad, []int{batch, ho, ho, cout}, []int{k, k, cin, cout}, nil,
			[][2]int{{lo, hi}, {lo, hi}}, []int{s, s}, nil})
	}
	return cases
}

// TestResNet50ConvCases checks that the gradient layouts of resnet50ConvCases have the shapes of the
// input and kernel they are gradients of, so that the benchmark times the right problems.
func TestResNet50ConvCases(t *testing.T) {
	for _, r := range resnet50Convs {
		for _, c := range resnet50ConvCases(r.hw, r.cin, r.cout, r.k, r.s, 2) {
			_, _, _, out := c.build(t)
			want := []int{2, r.hw, r.hw, r.cin} // igrad: the input
			if c.name == "kgrad" {
				want = []int{r.k, r.k, r.cin, r.cout}
			}
			if c.name != "fwd" && !slices.Equal(out.Dimensions, want) {
				t.Errorf("%v %s: output %v, want %v", r, c.name, out.Dimensions, want)
			}
		}
	}
}

// BenchmarkFastConvResNet50 times fastConv on every distinct ResNet50 convolution (batch 8) and its two
// gradients, reporting useful GFLOP/s (multiply-adds that meet real input elements, times 2):
//
//	cd third_party/compute && go test ./internal/gobackend/ops -run '^$' -bench FastConvResNet50
func BenchmarkFastConvResNet50(b *testing.B) {
	for _, r := range resnet50Convs {
		for _, c := range resnet50ConvCases(r.hw, r.cin, r.cout, r.k, r.s, 8) {
			name := fmt.Sprintf("%s_%dx%ds%d_%d-%d_%d", c.name, r.k, r.k, r.s, r.cin, r.cout, r.hw)
			b.Run(name, func(b *testing.B) {
				params, inShape, kShape, outShape := c.build(b)
				plan, _ := newFastConvPlan(params, inShape, kShape, outShape)
				rng := rand.New(rand.NewPCG(1, 2))
				in, kern := randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size())
				out := make([]float32, outShape.Size())
				b.ReportAllocs()
				b.SetBytes(int64(4 * (len(in) + len(kern) + len(out))))
				for b.Loop() {
					plan.run(in, kern, out, runtime.GOMAXPROCS(0))
				}
				ho := (r.hw+2*(r.k/2)-r.k)/r.s + 1
				flops := 2 * float64(8*ho*ho*r.k*r.k*r.cin*r.cout)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
