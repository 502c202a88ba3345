// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// TestConvBNFusion compiles ConvGeneral -> BatchNormForInference [-> Identity -> Max(., 0)] graphs,
// checks that the pass fused them (or not, where another node also reads the convolution), and
// compares the result with a float64 computation of the unfused ops.
func TestConvBNFusion(t *testing.T) {
	forEachKernel(t, testConvBNFusion)
}

func testConvBNFusion(t *testing.T) {
	for _, tc := range []struct {
		name             string
		relu, convIsUsed bool
		conv             string
	}{{"bn", false, false, "3x3_s2_p1"}, {"bn_relu", true, false, "3x3_s2_p1"}, {"conv_also_returned", true, true, "3x3_s2_p1"},
		{"bn_relu_split_k", true, false, "split_k_forward"}} {
		t.Run(tc.name, func(t *testing.T) {
			backend, f := testFunction(t)
			c := fcCaseNamed(t, tc.conv)
			inShape, kShape := shapes.Make(dtypes.Float32, c.inDims...), shapes.Make(dtypes.Float32, c.kDims...)
			vec := shapes.Make(dtypes.Float32, c.kDims[3])
			x, k := testParameter(t, f, "x", inShape), testParameter(t, f, "k", kShape)
			if name := tc.conv; name == "split_k_forward" {
				params, _, _, outShape := c.build(t)
				if p, _ := newFastConvPlan(params, inShape, kShape, outShape); !(p.k >= fcSplitKMin && p.k > 4*p.m) {
					t.Fatalf("%s does not take the split-K path", name)
				}
			}
			stats := []compute.Value{testParameter(t, f, "scale", vec), testParameter(t, f, "offset", vec),
				testParameter(t, f, "mean", vec), testParameter(t, f, "variance", vec)}
			conv, err := ConvGeneral(f, x, k, c.axes, c.strides, c.paddings, nil, nil, 1, 1)
			must(t, err)
			const eps = 1e-3
			y, err := BatchNormForInference(f, conv, stats[0], stats[1], stats[2], stats[3], eps, 3)
			must(t, err)
			if tc.relu {
				id, err := Identity(f, y)
				must(t, err)
				zero, err := f.Constant([]float32{0})
				must(t, err)
				y, err = Max(f, id, zero)
				must(t, err)
			}
			outputs := []compute.Value{y}
			if tc.convIsUsed {
				outputs = append(outputs, conv)
			}
			must(t, f.Return(outputs, nil))
			exec, err := f.RawBuilder.Compile()
			must(t, err)
			epi := conv.(*gobackend.Node).Data.(*convNode).epilogue
			if (epi != nil) == tc.convIsUsed {
				t.Fatalf("fused=%v, want %v", epi != nil, !tc.convIsUsed)
			}
			if epi != nil && epi.relu != tc.relu {
				t.Fatalf("ReLU fused=%v, want %v", epi.relu, tc.relu)
			}

			rng := rand.New(rand.NewPCG(3, 3))
			xs, ks := randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size())
			n := c.kDims[3]
			vals := [][]float32{randFloat32s(rng, n), randFloat32s(rng, n), randFloat32s(rng, n), randFloat32s(rng, n)}
			for j := range n {
				vals[3][j] = 0.5 + vals[3][j]*vals[3][j] // variance > 0
			}
			args := []compute.Buffer{testBuffer(t, backend, inShape, xs), testBuffer(t, backend, kShape, ks)}
			for _, v := range vals {
				args = append(args, testBuffer(t, backend, vec, v))
			}
			wantAsm := epi != nil && epilogueAsm != nil && n%16 == 0
			asmCalls := countAsmEpilogues(t)
			out, err := exec.Execute(args, nil, 0)
			must(t, err)
			ran := checkEpilogueRan(t, asmCalls, wantAsm)
			got := out[0].(*gobackend.Buffer).Flat.([]float32)
			_, _, _, outShape := c.build(t)
			ref := naiveConv(c, xs, ks, outShape)
			for i, v := range ref {
				j := i % n
				want := (v-float64(vals[2][j]))/math.Sqrt(float64(vals[3][j])+eps)*float64(vals[0][j]) + float64(vals[1][j])
				if tc.relu {
					want = max(want, 0)
				}
				if math.Abs(float64(got[i])-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("element %d (%s epilogue): got %g, want %g", i, ran, got[i], want)
				}
			}
			if tc.convIsUsed {
				raw := out[1].(*gobackend.Buffer).Flat.([]float32)
				for i, v := range ref {
					if math.Abs(float64(raw[i])-v) > 1e-4*(1+math.Abs(v)) {
						t.Fatalf("conv output %d: got %g, want %g", i, raw[i], v)
					}
				}
			}
		})
	}
}

// fcCase returns the fcCases entry with that name.
func fcCaseNamed(t *testing.T, name string) fcCase {
	for _, c := range fcCases() {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no fcCase %q", name)
	return fcCase{}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Sprintf("%+v", err))
	}
}

// TestConvBNFusionResidual fuses batch norm, residual addition and ReLU, as a ResNet bottleneck's last
// convolution has them, also when the residual is itself a fused convolution (the downsampling branch):
// Max(Add(BN1(conv1(x)), BN2(conv2(x))), 0), or with a plain residual input; with 40 output channels
// (the Go epilogue) and 64 (the AVX-512 one where the kernel in use has it), read in place or packed.
func TestConvBNFusionResidual(t *testing.T) {
	forEachKernel(t, testConvBNFusionResidual)
}

func testConvBNFusionResidual(t *testing.T) {
	for _, tc := range []struct {
		twoConvs bool
		conv     string // an fcCases name
	}{{false, "1x1_in_place_odd_cout"}, {true, "1x1_in_place_odd_cout"}, {false, "3x3_s2_p1"}, {true, "3x3_s2_p1"},
		{true, "1x1_in_place_partial_panel"}} {
		twoConvs := tc.twoConvs
		t.Run(fmt.Sprint("two_convs=", twoConvs, "/", tc.conv), func(t *testing.T) {
			backend, f := testFunction(t)
			c := fcCaseNamed(t, tc.conv)
			inShape, kShape := shapes.Make(dtypes.Float32, c.inDims...), shapes.Make(dtypes.Float32, c.kDims...)
			_, _, _, outShape := c.build(t)
			n := c.kDims[3]
			vec := shapes.Make(dtypes.Float32, n)
			x := testParameter(t, f, "x", inShape)
			rng := rand.New(rand.NewPCG(4, 4))
			const eps = 1e-5
			var args []compute.Buffer
			param := func(name string, s shapes.Shape, v []float32) compute.Value {
				args = append(args, testBuffer(t, backend, s, v))
				return testParameter(t, f, name, s)
			}
			xs := randFloat32s(rng, inShape.Size())
			args = append(args, testBuffer(t, backend, inShape, xs))
			type branch struct {
				k     []float32
				stats [][]float32
			}
			convBN := func(name string) (compute.Value, branch) {
				br := branch{k: randFloat32s(rng, kShape.Size())}
				k := param(name+"k", kShape, br.k)
				var st []compute.Value
				for i := range 4 {
					v := randFloat32s(rng, n)
					if i == 3 {
						for j := range v {
							v[j] = 0.5 + v[j]*v[j]
						}
					}
					br.stats = append(br.stats, v)
					st = append(st, param(fmt.Sprint(name, i), vec, v))
				}
				conv, err := ConvGeneral(f, x, k, c.axes, c.strides, c.paddings, nil, nil, 1, 1)
				must(t, err)
				y, err := BatchNormForInference(f, conv, st[0], st[1], st[2], st[3], eps, 3)
				must(t, err)
				return y, br
			}
			y1, b1 := convBN("a")
			var r compute.Value
			var b2 branch
			var rs []float32
			if twoConvs {
				r, b2 = convBN("b")
			} else {
				rs = randFloat32s(rng, outShape.Size())
				r = param("r", outShape, rs)
			}
			sum, err := Add(f, y1, r)
			must(t, err)
			zero, err := f.Constant([]float32{0})
			must(t, err)
			y, err := Max(f, sum, zero)
			must(t, err)
			must(t, f.Return([]compute.Value{y}, nil))
			exec, err := f.RawBuilder.Compile()
			must(t, err)
			asmCalls := countAsmEpilogues(t)
			out, err := exec.Execute(args, nil, 0)
			must(t, err)
			ran := checkEpilogueRan(t, asmCalls, epilogueAsm != nil && n%16 == 0)
			got := out[0].(*gobackend.Buffer).Flat.([]float32)

			bnRef := func(br branch) []float64 {
				ref := naiveConv(c, xs, br.k, outShape)
				for i, v := range ref {
					j := i % n
					ref[i] = (v-float64(br.stats[2][j]))/math.Sqrt(float64(br.stats[3][j])+eps)*float64(br.stats[0][j]) + float64(br.stats[1][j])
				}
				return ref
			}
			want := bnRef(b1)
			var res []float64
			if twoConvs {
				res = bnRef(b2)
			} else {
				for _, v := range rs {
					res = append(res, float64(v))
				}
			}
			for i := range want {
				w := max(want[i]+res[i], 0)
				if math.Abs(float64(got[i])-w) > 1e-4*(1+math.Abs(w)) {
					t.Fatalf("element %d (%s epilogue): got %g, want %g", i, ran, got[i], w)
				}
			}
			// Both convolutions carry a fused batch norm; exactly one absorbed the addition and ReLU.
			var fused, withResidual int
			for _, node := range f.Nodes {
				if node.OpType == compute.OpTypeConvGeneral {
					if epi := node.Data.(*convNode).epilogue; epi != nil {
						fused++
						if epi.residual && epi.relu {
							withResidual++
						}
					}
				}
			}
			wantFused := 1
			if twoConvs {
				wantFused = 2
			}
			if fused != wantFused || withResidual != 1 {
				t.Fatalf("fused %d convolutions (%d with residual+ReLU), want %d (1)", fused, withResidual, wantFused)
			}
		})
	}
}

// TestReLUMaskFusion fuses a ReLU gradient, Where(y > 0, conv, 0), into the convolution, with mask
// values that are positive, zero, negative and NaN, for 33 (Go epilogue) and 64 (AVX-512 where the kernel
// in use has it) channels.
func TestReLUMaskFusion(t *testing.T) {
	forEachKernel(t, testReLUMaskFusion)
}

func testReLUMaskFusion(t *testing.T) {
	// Also through the residue classes of an input-dilated convolution (a strided convolution's input
	// gradient) and the split reduction.
	for _, name := range []string{"3x3_p1", "3x3_s2_p1", "input_grad_3x3_s2", "split_k_forward"} {
		t.Run(name, func(t *testing.T) {
			backend, f := testFunction(t)
			c := fcCaseNamed(t, name)
			inShape, kShape := shapes.Make(dtypes.Float32, c.inDims...), shapes.Make(dtypes.Float32, c.kDims...)
			_, _, _, outShape := c.build(t)
			x, k, y := testParameter(t, f, "x", inShape), testParameter(t, f, "k", kShape), testParameter(t, f, "y", outShape)
			conv, err := ConvGeneral(f, x, k, c.axes, c.strides, c.paddings, c.inputDilations, c.kDilate, 1, 1)
			must(t, err)
			zero, err := f.Constant([]float32{0})
			must(t, err)
			cond, err := GreaterThan(f, y, zero)
			must(t, err)
			id, err := Identity(f, conv)
			must(t, err)
			w, err := Where(f, cond, id, zero)
			must(t, err)
			must(t, f.Return([]compute.Value{w}, nil))
			exec, err := f.RawBuilder.Compile()
			must(t, err)
			if epi := conv.(*gobackend.Node).Data.(*convNode).epilogue; epi == nil || !epi.reluMask {
				t.Fatal("ReLU mask not fused")
			}
			rng := rand.New(rand.NewPCG(6, 6))
			xs, ks, ys := randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size()), randFloat32s(rng, outShape.Size())
			for i := range ys {
				switch i % 7 {
				case 1:
					ys[i] = 0
				case 2:
					ys[i] = float32(math.NaN())
				}
			}
			asmCalls := countAsmEpilogues(t)
			out, err := exec.Execute([]compute.Buffer{testBuffer(t, backend, inShape, xs), testBuffer(t, backend, kShape, ks),
				testBuffer(t, backend, outShape, ys)}, nil, 0)
			must(t, err)
			ran := checkEpilogueRan(t, asmCalls, maskAsm != nil && outShape.Dimensions[3]%16 == 0)
			got := out[0].(*gobackend.Buffer).Flat.([]float32)
			for i, v := range naiveConv(c, xs, ks, outShape) {
				want := 0.0
				if ys[i] > 0 {
					want = v
				}
				if math.Abs(float64(got[i])-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("element %d (mask %g, %s epilogue): got %g, want %g", i, ys[i], ran, got[i], want)
				}
			}
		})
	}
}

// countAsmEpilogues counts, for the rest of the test, the calls of the assembly epilogues in use (none
// where the micro-kernel in use has none).
func countAsmEpilogues(t *testing.T) *atomic.Int64 {
	calls := new(atomic.Int64)
	epi, mask := epilogueAsm, maskAsm
	if epi != nil {
		epilogueAsm = func(dst, a, b, res *float32, n int, relu bool) {
			calls.Add(1)
			epi(dst, a, b, res, n, relu)
		}
	}
	if mask != nil {
		maskAsm = func(dst, m *float32, n int) {
			calls.Add(1)
			mask(dst, m, n)
		}
	}
	t.Cleanup(func() { epilogueAsm, maskAsm = epi, mask })
	return calls
}

// checkEpilogueRan fails unless the assembly epilogue ran exactly when wantAsm, and names the epilogue
// that ran.
func checkEpilogueRan(t *testing.T, asmCalls *atomic.Int64, wantAsm bool) string {
	t.Helper()
	ran, other := "Go", "AVX-512 assembly"
	if asmCalls.Load() > 0 {
		ran, other = other, ran
	}
	if (asmCalls.Load() > 0) != wantAsm {
		t.Fatalf("the %s epilogue ran, want the %s one", ran, other)
	}
	t.Logf("%s epilogue (%s micro-kernel)", ran, sgemmKernelName)
	return ran
}
