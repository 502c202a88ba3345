// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// bnBlockOutputs names the outputs of the graph bnTrainingBlock builds.
var bnBlockOutputs = []string{"relu", "mean", "variance", "conv", "dConv", "dScale", "dOffset", "dResidual"}

// bnTrainingBlock builds, as GoMLX's autodiff does for a ResNet block in training,
//
//	conv = ConvGeneral(x, k); y, mean, variance = BatchNormForTraining(conv, scale, offset)
//	v = Identity(y [+ residual]); relu = Max(v, 0)
//	d = Where(GreaterThan(v, 0), g, 0); dConv, dScale, dOffset = BatchNormGradient(conv, ..., d)
//
// with g = ConvGeneral(gIn, gK), 3x3 (as the next layer's input gradient would be), plus gOther with a
// residual,
//
// returning relu, mean, variance, conv, dConv, dScale, dOffset and, with a residual, d (its gradient),
// and the arguments (random, x with a non-zero mean).
func bnTrainingBlock(t testing.TB, backend *gobackend.Backend, f *gobackend.Function, c fcCase, residual bool) ([]compute.Value, []compute.Buffer) {
	inShape, kShape := shapes.Make(dtypes.Float32, c.inDims...), shapes.Make(dtypes.Float32, c.kDims...)
	_, _, _, outShape := c.build(t)
	vec := shapes.Make(dtypes.Float32, c.kDims[3])
	rng := rand.New(rand.NewPCG(8, uint64(len(c.name))))
	var args []compute.Buffer
	param := func(name string, s shapes.Shape, v []float32) compute.Value {
		args = append(args, testBuffer(t, backend, s, v))
		return testParameter(t, f, name, s)
	}
	xs := randFloat32s(rng, inShape.Size())
	for i := range xs {
		xs[i] += 2 // outputs with a mean several standard deviations from 0
	}
	x, k := param("x", inShape, xs), param("k", kShape, randFloat32s(rng, kShape.Size()))
	scale, offset := param("scale", vec, randFloat32s(rng, vec.Size())), param("offset", vec, randFloat32s(rng, vec.Size()))
	// The output's gradient, g, comes from a convolution, as the next layer's input gradient does.
	gInShape := shapes.Make(dtypes.Float32, outShape.Dimensions[0], outShape.Dimensions[1], outShape.Dimensions[2], 8)
	gKShape := shapes.Make(dtypes.Float32, 3, 3, 8, outShape.Dimensions[3])
	gIn, gK := param("gIn", gInShape, randFloat32s(rng, gInShape.Size())), param("gK", gKShape, randFloat32s(rng, gKShape.Size()))
	g, err := ConvGeneral(f, gIn, gK, nhwc, nil, [][2]int{{1, 1}, {1, 1}}, nil, nil, 1, 1)
	must(t, err)
	if residual { // the block's output also feeds another layer, whose gradient adds up with g
		g, err = Add(f, g, param("gOther", outShape, randFloat32s(rng, outShape.Size())))
		must(t, err)
	}
	conv, err := ConvGeneral(f, x, k, c.axes, c.strides, c.paddings, nil, nil, 1, 1)
	must(t, err)
	const eps = 1e-5
	y, mean, variance, err := BatchNormForTraining(f, conv, scale, offset, eps, 3)
	must(t, err)
	if residual {
		y, err = Add(f, y, param("residual", outShape, randFloat32s(rng, outShape.Size())))
		must(t, err)
	}
	v, err := Identity(f, y)
	must(t, err)
	zero, err := f.Constant([]float32{0})
	must(t, err)
	relu, err := Max(f, v, zero)
	must(t, err)
	mask, err := GreaterThan(f, v, zero)
	must(t, err)
	d, err := Where(f, mask, g, zero)
	must(t, err)
	dConv, dScale, dOffset, err := BatchNormGradient(f, conv, scale, mean, variance, d, eps, 3)
	must(t, err)
	outs := []compute.Value{relu, mean, variance, conv, dConv, dScale, dOffset}
	if residual {
		outs = append(outs, d)
	}
	return outs, args
}

// bnSwitches are the three fusions' switches.
type bnSwitches struct{ stats, relu, grad, gradAdd bool }

// runBNTrainingBlock compiles and runs bnTrainingBlock with the fusions switched as given, and returns
// the outputs and the data of the batch-norm node and of its gradient's after the graph transformations.
func runBNTrainingBlock(t *testing.T, c fcCase, residual bool, sw bnSwitches) (outs [][]float32, data, gradData any) {
	saved := bnSwitches{fuseBNStats, fuseBNReLU, fuseBNGrad, fuseGradAdd}
	fuseBNStats, fuseBNReLU, fuseBNGrad, fuseGradAdd = sw.stats, sw.relu, sw.grad, sw.gradAdd
	defer func() {
		fuseBNStats, fuseBNReLU, fuseBNGrad, fuseGradAdd = saved.stats, saved.relu, saved.grad, saved.gradAdd
	}()
	backend, f := testFunction(t)
	values, args := bnTrainingBlock(t, backend, f, c, residual)
	must(t, f.Return(values, nil))
	exec, err := f.RawBuilder.Compile()
	must(t, err)
	for _, n := range f.Nodes {
		switch {
		case n.IsNodeSelectOutput:
		case n.OpType == compute.OpTypeBatchNormForTraining:
			data = n.Data
		case n.OpType == compute.OpTypeBatchNormGradient:
			gradData = n.Data
		}
	}
	bufs, err := exec.Execute(args, nil, 0)
	must(t, err)
	outs = make([][]float32, len(bufs))
	for i, b := range bufs {
		outs[i] = b.(*gobackend.Buffer).Flat.([]float32)
	}
	return outs, data, gradData
}

// TestBNTrainingFusion runs a ResNet-like training block (conv -> BN -> ReLU, also with a residual) with
// each fusion on and off, checks which fusions fired, compares every output and gradient with the
// unfused graph (relative 1e-5; dScale and dOffset, sums over the batch, relative to their largest
// value), and the batch statistics with float64 two-pass statistics of the convolution's output
// (relative 1e-6), on the blocked paths (packed, read in place, with a channel tail) and on the split
// reduction (whose statistics take a separate pass).
func TestBNTrainingFusion(t *testing.T) {
	forEachKernel(t, testBNTrainingFusion)
}

func testBNTrainingFusion(t *testing.T) {
	for _, tc := range []struct {
		conv     string
		residual bool
	}{{"3x3_s2_p1", false}, {"3x3_s2_p1", true}, {"1x1_in_place_odd_cout", true}, {"1x1_in_place_partial_panel", false},
		{"7x7_s2_p3_stem", false}, {"split_k_forward", true}} {
		t.Run(fmt.Sprint(tc.conv, "/residual=", tc.residual), func(t *testing.T) {
			c := fcCaseNamed(t, tc.conv)
			ref, refData, refGrad := runBNTrainingBlock(t, c, tc.residual, bnSwitches{})
			if _, ok := refData.(*batchNormNode); !ok {
				t.Fatalf("with the fusions off the batch norm's data is %T", refData)
			}
			if _, ok := refGrad.(*batchNormNode); !ok {
				t.Fatalf("with the fusions off the batch-norm gradient's data is %T", refGrad)
			}
			checkBNStatistics(t, "unfused", ref)
			for _, sw := range []bnSwitches{{true, false, false, false}, {false, true, false, false}, {false, false, true, false},
				{false, false, true, true}, {true, true, true, true}} {
				got, data, gradData := runBNTrainingBlock(t, c, tc.residual, sw)
				name := fmt.Sprintf("%+v", sw)
				d, ok := data.(*fusedBNTraining)
				if (sw.stats || sw.relu) && (!ok || (d.conv != nil) != sw.stats || d.relu != sw.relu || d.residual != (sw.relu && tc.residual)) {
					t.Fatalf("%s: batch-norm node data %+v", name, data)
				}
				// Without the residual the mask is always fused first; with it, only with gradAdd.
				wantGrad := sw.grad && (!tc.residual || sw.gradAdd)
				if gd, ok := gradData.(*fusedBNGradient); ok != wantGrad || (ok && (gd.conv.epilogue == nil || gd.conv.epilogue.residual != tc.residual)) {
					t.Fatalf("%s: batch-norm gradient node data %+v", name, gradData)
				}
				checkBNStatistics(t, name, got)
				for i, want := range ref {
					scale := 1.0
					if name := bnBlockOutputs[i]; name == "dScale" || name == "dOffset" {
						for _, w := range want {
							scale = max(scale, math.Abs(float64(w)))
						}
					}
					for j, w := range want {
						if math.Abs(float64(got[i][j]-w)) > 1e-5*(scale+math.Abs(float64(w))) {
							t.Fatalf("%s: %s[%d] = %g, unfused %g", name, bnBlockOutputs[i], j, got[i][j], w)
						}
					}
				}
			}
		})
	}
}

// checkBNStatistics compares the batch mean and variance of a bnTrainingBlock run with float64
// two-pass statistics of its convolution output.
func checkBNStatistics(t *testing.T, name string, outs [][]float32) {
	t.Helper()
	mean, variance, conv := outs[1], outs[2], outs[3]
	c := len(mean)
	n := len(conv) / c
	var worst float64
	for j := range c {
		var m, v float64
		for i := j; i < len(conv); i += c {
			m += float64(conv[i])
		}
		m /= float64(n)
		for i := j; i < len(conv); i += c {
			v += (float64(conv[i]) - m) * (float64(conv[i]) - m)
		}
		v /= float64(n)
		errM := math.Abs(float64(mean[j])-m) / (math.Abs(m) + math.Sqrt(v))
		errV := math.Abs(float64(variance[j])-v) / v
		worst = max(worst, errM, errV)
		if errM > 1e-6 || errV > 1e-6 {
			t.Fatalf("%s: channel %d: mean %g, variance %g; float64 %g, %g", name, j, mean[j], variance[j], m, v)
		}
	}
	t.Logf("%s: worst relative error of the statistics against float64: %.2g", name, worst)
}

// TestConvStatsCollected runs fastConvPlan with convStats and compares the sums with float64 sums of
// its output: the blocked paths collect them, the split reduction and the residue classes of a dilated
// convolution leave them to the batch norm (total nil). Direct plans count full tiles as they store them
// and a partial last panel after storing the block.
func TestConvStatsCollected(t *testing.T) {
	for _, name := range []string{"3x3_s2_p1", "1x1_in_place_partial_panel", "1x1_in_place_odd_cout", "many_pixels", "split_k_forward", "input_dilation"} {
		t.Run(name, func(t *testing.T) {
			c := fcCaseNamed(t, name)
			params, inShape, kShape, outShape := c.build(t)
			p, ok := newFastConvPlan(params, inShape, kShape, outShape)
			if !ok {
				t.Fatal("not a fastConv plan")
			}
			rng := rand.New(rand.NewPCG(9, 9))
			out := make([]float32, outShape.Size())
			p.stats = new(convStats)
			p.run(randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size()), out, 3)
			sums := p.stats.total(p.n)
			blocked := name != "split_k_forward" && name != "input_dilation"
			if (sums != nil) != blocked {
				t.Fatalf("statistics collected: %v, want %v", sums != nil, blocked)
			}
			if sums == nil {
				return
			}
			want := channelMoments(out, p.n)
			for i := range want {
				for j, w := range want[i] {
					if math.Abs(sums[i][j]-w) > 1e-12*(1+math.Abs(w)) {
						t.Fatalf("sum %d of channel %d: got %g, want %g", i, j, sums[i][j], w)
					}
				}
			}
		})
	}
}

// fuseBNEnvChild is set in the environment of TestFuseBNEnvChild's process.
const fuseBNEnvChild = "FUSEBN_ENV_TEST_CHILD"

// TestFuseBNEnv starts this test binary with GOMLX_FUSE_BNSTATS, GOMLX_FUSE_BNRELU, GOMLX_FUSE_BNGRAD and
// GOMLX_FUSE_GRADADD set (read once at
// start-up) and checks the switches each setting gives, and that unparsable values stop the program
// with a message naming the variable.
func TestFuseBNEnv(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string // the child's report, or the error message
		ok   bool
	}{
		{nil, "stats=false relu=true grad=false gradadd=true", true},
		{[]string{fuseBNStatsEnv + "=true"}, "stats=true relu=true grad=false gradadd=true", true},
		{[]string{fuseBNReLUEnv + "=0"}, "stats=false relu=false grad=false gradadd=true", true},
		{[]string{fuseBNGradEnv + "=1"}, "stats=false relu=true grad=true gradadd=true", true},
		{[]string{fuseGradAddEnv + "=false"}, "stats=false relu=true grad=false gradadd=false", true},
		{[]string{fuseBNStatsEnv + "=false", fuseBNReLUEnv + "=false", fuseBNGradEnv + "=f",
			fuseGradAddEnv + "=F"}, "stats=false relu=false grad=false gradadd=false", true},
		{[]string{fastConvEnv + "=false"}, "stats=false relu=false grad=false gradadd=false", true}, // no fast executors: no fusion
		{[]string{fuseBNStatsEnv + "=maybe"}, `invalid value "maybe" for environment variable "GOMLX_FUSE_BNSTATS"`, false},
		{[]string{fuseBNReLUEnv + "=yes please"}, `environment variable "GOMLX_FUSE_BNRELU"`, false},
		{[]string{fuseBNGradEnv + "=2"}, `environment variable "GOMLX_FUSE_BNGRAD"`, false},
		{[]string{fuseGradAddEnv + "=-"}, `environment variable "GOMLX_FUSE_GRADADD"`, false},
	} {
		t.Run(strings.Join(tc.env, ","), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFuseBNEnvChild$", "-test.count=1", "-test.v")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GOMLX_FUSE_") && !strings.HasPrefix(kv, fastConvEnv) {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(append(cmd.Env, fuseBNEnvChild+"=1"), tc.env...)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.ok {
				t.Fatalf("exit error %v, want success %v; output:\n%s", err, tc.ok, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestFuseBNEnvChild is TestFuseBNEnv's child process: it reports the switches.
func TestFuseBNEnvChild(t *testing.T) {
	if os.Getenv(fuseBNEnvChild) == "" {
		t.Skip("runs only as TestFuseBNEnv's child process")
	}
	t.Logf("stats=%v relu=%v grad=%v gradadd=%v", fuseBNStats, fuseBNReLU, fuseBNGrad, fuseGradAdd)
}

// TestMaskedGradientAddFusion fuses Where(GreaterThan(y, 0), Add(conv, other), 0) into the convolution,
// with the convolution on either side of the Add, mask values that are positive, zero, negative and NaN,
// through the blocked, split-reduction and residue-class paths, and compares with float64.
func TestMaskedGradientAddFusion(t *testing.T) {
	forEachKernel(t, testMaskedGradientAddFusion)
}

func testMaskedGradientAddFusion(t *testing.T) {
	for _, name := range []string{"3x3_p1", "3x3_s2_p1", "1x1_in_place_odd_cout", "input_grad_3x3_s2", "split_k_forward"} {
		for _, convFirst := range []bool{true, false} {
			t.Run(fmt.Sprint(name, "/conv_first=", convFirst), func(t *testing.T) {
				backend, f := testFunction(t)
				c := fcCaseNamed(t, name)
				inShape, kShape := shapes.Make(dtypes.Float32, c.inDims...), shapes.Make(dtypes.Float32, c.kDims...)
				_, _, _, outShape := c.build(t)
				x, k := testParameter(t, f, "x", inShape), testParameter(t, f, "k", kShape)
				y, other := testParameter(t, f, "y", outShape), testParameter(t, f, "other", outShape)
				conv, err := ConvGeneral(f, x, k, c.axes, c.strides, c.paddings, c.inputDilations, c.kDilate, 1, 1)
				must(t, err)
				operands := []compute.Value{conv, other}
				if !convFirst {
					operands[0], operands[1] = other, conv
				}
				sum, err := Add(f, operands[0], operands[1])
				must(t, err)
				zero, err := f.Constant([]float32{0})
				must(t, err)
				cond, err := GreaterThan(f, y, zero)
				must(t, err)
				w, err := Where(f, cond, sum, zero)
				must(t, err)
				must(t, f.Return([]compute.Value{w}, nil))
				exec, err := f.RawBuilder.Compile()
				must(t, err)
				if epi := conv.(*gobackend.Node).Data.(*convNode).epilogue; epi == nil || !epi.reluMask || !epi.residual {
					t.Fatalf("masked sum not fused: epilogue %+v", epi)
				}
				rng := rand.New(rand.NewPCG(10, 10))
				xs, ks := randFloat32s(rng, inShape.Size()), randFloat32s(rng, kShape.Size())
				ys, os := randFloat32s(rng, outShape.Size()), randFloat32s(rng, outShape.Size())
				for i := range ys {
					switch i % 7 {
					case 1:
						ys[i] = 0
					case 2:
						ys[i] = float32(math.NaN())
					}
				}
				out, err := exec.Execute([]compute.Buffer{testBuffer(t, backend, inShape, xs), testBuffer(t, backend, kShape, ks),
					testBuffer(t, backend, outShape, ys), testBuffer(t, backend, outShape, os)}, nil, 0)
				must(t, err)
				got := out[0].(*gobackend.Buffer).Flat.([]float32)
				for i, v := range naiveConv(c, xs, ks, outShape) {
					want := 0.0
					if ys[i] > 0 {
						want = v + float64(os[i])
					}
					if math.Abs(float64(got[i])-want) > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("element %d (mask %g): got %g, want %g", i, ys[i], got[i], want)
					}
				}
			})
		}
	}
}

// BenchmarkBNTrainingFusion times bnTrainingBlock (with the residual: all four fusions apply) at the
// size of a ResNet50 bottleneck's last convolution in its first stage (batch 8, 56x56, 64 -> 256
// channels), with the fusions off and on: run with -count to interleave them.
func BenchmarkBNTrainingFusion(b *testing.B) {
	c := fcCase{"resnet50_stage1_expand", nhwc, []int{8, 56, 56, 64}, []int{1, 1, 64, 256}, nil, nil, nil, nil}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprint("fused=", on), func(b *testing.B) {
			saved := bnSwitches{fuseBNStats, fuseBNReLU, fuseBNGrad, fuseGradAdd}
			fuseBNStats, fuseBNReLU, fuseBNGrad, fuseGradAdd = on, on, on, on
			defer func() {
				fuseBNStats, fuseBNReLU, fuseBNGrad, fuseGradAdd = saved.stats, saved.relu, saved.grad, saved.gradAdd
			}()
			backend, f := testFunction(b)
			values, args := bnTrainingBlock(b, backend, f, c, true)
			must(b, f.Return(values, nil))
			exec, err := f.RawBuilder.Compile()
			must(b, err)
			b.ResetTimer()
			for range b.N {
				outs, err := exec.Execute(args, nil, 0)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range outs {
					backend.PutBuffer(o.(*gobackend.Buffer))
				}
			}
		})
	}
}
