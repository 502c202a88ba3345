// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// TestBatchNormOps checks the three batch-norm executors against float64 textbook formulas.
func TestBatchNormOps(t *testing.T) {
	const eps = 1e-3
	for _, dims := range [][]int{{4, 3, 5, 7}, {300, 40}, {9}, {50, 8}} {
		backend, f := testFunction(t)
		shape := shapes.Make(dtypes.Float32, dims...)
		c := dims[len(dims)-1]
		n := shape.Size() / c
		vec := shapes.Make(dtypes.Float32, c)
		rng := rand.New(rand.NewPCG(11, uint64(n)))
		x, dy := randFloat32s(rng, shape.Size()), randFloat32s(rng, shape.Size())
		for i := range x {
			x[i] = 3 + 2*x[i] // non-zero mean
			if dims[0] == 50 {
				x[i] = 100 + (x[i]-3)/20 // mean 100, std 0.1: the one-pass variance must still be right
			}
		}
		scale, offset := randFloat32s(rng, c), randFloat32s(rng, c)
		runMulti := func(exec func(*gobackend.Backend, *gobackend.Node, []*gobackend.Buffer, []bool) ([]*gobackend.Buffer, error), node *gobackend.Node, flats ...[]float32) [][]float32 {
			var in []*gobackend.Buffer
			for i, fl := range flats {
				in = append(in, testBuffer(t, backend, node.Inputs[i].Shape, fl))
			}
			outs, err := exec(backend, node, in, make([]bool, len(in)))
			if err != nil {
				t.Fatal(err)
			}
			res := make([][]float32, len(outs))
			for i, o := range outs {
				res[i] = o.Flat.([]float32)
			}
			return res
		}
		// Reference statistics.
		mean, variance := make([]float64, c), make([]float64, c)
		for i, v := range x {
			mean[i%c] += float64(v) / float64(n)
		}
		for i, v := range x {
			d := float64(v) - mean[i%c]
			variance[i%c] += d * d / float64(n)
		}
		near := func(what string, got float32, want float64) {
			t.Helper()
			if math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("%v %s: got %g, want %g", dims, what, got, want)
			}
		}

		yv, mv, vv, err := BatchNormForTraining(f, testParameter(t, f, "x", shape), testParameter(t, f, "s", vec), testParameter(t, f, "o", vec), eps, len(dims)-1)
		if err != nil {
			t.Fatal(err)
		}
		trainNode := yv.(*gobackend.Node).Inputs[0]
		outs := runMulti(execBatchNormForTraining, trainNode, x, scale, offset)
		for j := range c {
			near("mean", outs[1][j], mean[j])
			near("variance", outs[2][j], variance[j])
		}
		for i, v := range x {
			j := i % c
			near("normalized", outs[0][i], (float64(v)-mean[j])/math.Sqrt(variance[j]+eps)*float64(scale[j])+float64(offset[j]))
		}
		_, _ = mv, vv

		// Inference with the batch statistics must give the same output.
		meanF, varF := outs[1], outs[2]
		inf, err := BatchNormForInference(f, testParameter(t, f, "x2", shape), testParameter(t, f, "s2", vec), testParameter(t, f, "o2", vec),
			testParameter(t, f, "m2", vec), testParameter(t, f, "v2", vec), eps, len(dims)-1)
		if err != nil {
			t.Fatal(err)
		}
		infNode := inf.(*gobackend.Node)
		var in []*gobackend.Buffer
		for i, fl := range [][]float32{x, scale, offset, meanF, varF} {
			in = append(in, testBuffer(t, backend, infNode.Inputs[i].Shape, fl))
		}
		yInf, err := execBatchNormForInference(backend, infNode, in, make([]bool, 5))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range yInf.Flat.([]float32) {
			near("inference", v, float64(outs[0][i]))
		}

		// Gradient, with the textbook formula in float64.
		gv, _, _, err := BatchNormGradient(f, testParameter(t, f, "x3", shape), testParameter(t, f, "s3", vec),
			testParameter(t, f, "m3", vec), testParameter(t, f, "v3", vec), testParameter(t, f, "dy", shape), eps, len(dims)-1)
		if err != nil {
			t.Fatal(err)
		}
		mean32, var32 := make([]float32, c), make([]float32, c)
		for j := range c {
			mean32[j], var32[j] = float32(mean[j]), float32(variance[j])
		}
		grads := runMulti(execBatchNormGradient, gv.(*gobackend.Node).Inputs[0], x, scale, mean32, var32, dy)
		sDy, sDyXhat := make([]float64, c), make([]float64, c)
		// The reference uses the op's own (float32) mean and variance inputs.
		xhat := func(i int) float64 {
			j := i % c
			return (float64(x[i]) - float64(mean32[j])) / math.Sqrt(float64(var32[j])+eps)
		}
		for i, g := range dy {
			sDy[i%c] += float64(g)
			sDyXhat[i%c] += float64(g) * xhat(i)
		}
		for j := range c {
			near("gradOffset", grads[2][j], sDy[j])
			near("gradScale", grads[1][j], sDyXhat[j])
		}
		for i, g := range dy {
			j := i % c
			want := float64(scale[j]) / math.Sqrt(float64(var32[j])+eps) * (float64(g) - sDy[j]/float64(n) - xhat(i)*sDyXhat[j]/float64(n))
			near("gradOperand", grads[0][i], want)
		}
	}
}

// TestBatchNormOpsReject lists the inputs the Go backend's batch-norm ops refuse: what they do not cover
// (another dtype or feature axis) as compute.ErrNotImplemented, so that GoMLX falls back to elementary
// ops; malformed inputs as other errors.
func TestBatchNormOpsReject(t *testing.T) {
	_, f := testFunction(t)
	x := testParameter(t, f, "x", shapes.Make(dtypes.Float32, 2, 3, 4))
	v4 := testParameter(t, f, "v4", shapes.Make(dtypes.Float32, 4))
	v3 := testParameter(t, f, "v3", shapes.Make(dtypes.Float32, 3))
	xd := testParameter(t, f, "xd", shapes.Make(dtypes.Float64, 2, 4))
	vd := testParameter(t, f, "vd", shapes.Make(dtypes.Float64, 4))
	for _, tc := range []struct {
		name               string
		x, scale, offset   compute.Value
		axis               int
		wantNotImplemented bool
	}{
		{"feature axis not last", x, v3, v3, 1, true},
		{"float64", xd, vd, vd, 1, true},
		{"offset of the wrong size", x, v4, v3, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := BatchNormForTraining(f, tc.x, tc.scale, tc.offset, 1e-3, tc.axis)
			if err == nil {
				t.Fatal("accepted")
			}
			if got := compute.IsNotImplemented(err); got != tc.wantNotImplemented {
				t.Errorf("IsNotImplemented(%v) = %v, want %v", err, got, tc.wantNotImplemented)
			}
		})
	}
}

// TestBatchNormGradientOneOutputUsed runs a BatchNormGradient of which only gradScale is returned, on an
// operand computed in the graph (so released at that node): the executor's check for reused input buffers
// used to index the results past the last node it processes (gradOffset's), a panic.
func TestBatchNormGradientOneOutputUsed(t *testing.T) {
	backend, f := testFunction(t)
	shape, vec := shapes.Make(dtypes.Float32, 4, 3), shapes.Make(dtypes.Float32, 3)
	x, s, m, v, dy := testParameter(t, f, "x", shape), testParameter(t, f, "s", vec), testParameter(t, f, "m", vec),
		testParameter(t, f, "v", vec), testParameter(t, f, "dy", shape)
	x2, err := Add(f, x, x)
	must(t, err)
	_, gradScale, _, err := BatchNormGradient(f, x2, s, m, v, dy, 1e-3, 1)
	must(t, err)
	must(t, f.Return([]compute.Value{gradScale}, nil))
	exec, err := f.RawBuilder.Compile()
	must(t, err)
	xs := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	ones := []float32{1, 1, 1}
	out, err := exec.Execute([]compute.Buffer{testBuffer(t, backend, shape, xs), testBuffer(t, backend, vec, ones),
		testBuffer(t, backend, vec, []float32{0, 0, 0}), testBuffer(t, backend, vec, ones), testBuffer(t, backend, shape, xs)}, nil, 0)
	must(t, err)
	// gradScale = sum(dy*(2x-mean)*inv) with dy = x, mean 0, inv = 1/sqrt(1+eps): per channel 2*sum(x^2)*inv.
	inv := 1 / math.Sqrt(1+1e-3)
	got := out[0].(*gobackend.Buffer).Flat.([]float32)
	for c, want := range []float64{2 * (1 + 16 + 49 + 100) * inv, 2 * (4 + 25 + 64 + 121) * inv, 2 * (9 + 36 + 81 + 144) * inv} {
		if math.Abs(float64(got[c])-want) > 1e-4*want {
			t.Errorf("gradScale[%d] = %g, want %g", c, got[c], want)
		}
	}
}
