// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
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
		{"1x1", nhwc, []int{2, 5, 6, 7}, []int{1, 1, 7, 9}, nil, nil, nil, nil},
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
		{"split_k_kernel_grad", kernelGrad, []int{4, 32, 32, 5}, []int{4, 32, 32, 7}, nil, p(1, 1), nil, nil},     // K = 4096
		{"split_k_forward", nhwc, []int{1, 3, 3, 520}, []int{3, 3, 520, 33}, nil, p(1, 1), nil, nil},              // K = 4680, M = 9
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

// TestFastConvMatchesNaive checks fastConv, with both micro-kernels and 1 to 3 workers, against naiveConv.
func TestFastConvMatchesNaive(t *testing.T) {
	kernels := map[string]func(int, *float32, *float32, *float32, int, bool){"default": sgemmKernel, "go": sgemmKernelGo}
	for _, c := range fcCases() {
		for kname, kfn := range kernels {
			for _, workers := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/%s/w%d", c.name, kname, workers), func(t *testing.T) {
					params, inShape, kShape, outShape := c.build(t)
					plan, ok := newFastConvPlan(params, inShape, kShape, outShape)
					if !ok {
						t.Fatalf("fastConv does not handle %s", c.name)
					}
					rng := rand.New(rand.NewPCG(1, uint64(len(c.name))))
					in, kern := randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size())
					out := randFloat32s(rng, outShape.Size()) // garbage: must be fully overwritten
					saved := sgemmKernel
					sgemmKernel = kfn
					plan.run(in, kern, out, workers)
					sgemmKernel = saved
					want := naiveConv(c, in, kern, outShape)
					for i, w := range want {
						if d := math.Abs(float64(out[i]) - w); d > 1e-4*(1+math.Abs(w)) {
							t.Fatalf("output %d of %s: got %g, want %g", i, outShape, out[i], w)
						}
					}
				})
			}
		}
	}
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

// TestSgemmKernels checks the micro-kernels against a plain triple loop, overwrite and accumulate.
func TestSgemmKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{1, 7, 256} {
		a, b := randFloat32s(rng, k*fcMR), randFloat32s(rng, k*fcNR)
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
