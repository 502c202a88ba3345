// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// TestBFloat16ConvMatchesNaive compiles and runs every fcCases convolution in bfloat16 on the backend:
// forward convolutions and the kernel- and input-gradient layouts of GoMLX's autodiff, with strides,
// padding and both dilations. Each output must be the float64 convolution of the same (bfloat16) values
// to bfloat16 accuracy, and bit-identical to the float32 fast path's result rounded to bfloat16: the
// node ran fastConv, widened, and not the upstream bfloat16 loop.
func TestBFloat16ConvMatchesNaive(t *testing.T) {
	for _, c := range fcCases() {
		t.Run(c.name, func(t *testing.T) {
			backend, f := testFunction(t)
			params, inShape32, kShape32, outShape := c.build(t)
			inShape, kShape := shapes.Make(dtypes.BFloat16, c.inDims...), shapes.Make(dtypes.BFloat16, c.kDims...)
			x, k := testParameter(t, f, "x", inShape), testParameter(t, f, "k", kShape)
			y, err := ConvGeneral(f, x, k, c.axes, c.strides, c.paddings, c.inputDilations, c.kDilate, 1, 1)
			must(t, err)
			must(t, f.Return([]compute.Value{y}, nil))
			exec, err := f.RawBuilder.Compile()
			must(t, err)

			rng := rand.New(rand.NewPCG(5, uint64(len(c.name))))
			xs, xs32 := randBFloat16s(rng, inShape.Size())
			ks, ks32 := randBFloat16s(rng, kShape.Size())
			args := []compute.Buffer{testBufferOf(t, backend, inShape, xs), testBufferOf(t, backend, kShape, ks)}
			out, err := exec.Execute(args, nil, 0)
			must(t, err)
			got := out[0].(*gobackend.Buffer).Flat.([]bfloat16.BFloat16)

			plan, ok := newFastConvPlan(params, inShape32, kShape32, outShape)
			if !ok {
				t.Fatalf("fastConv does not handle %s", c.name)
			}
			fast32 := make([]float32, outShape.Size())
			plan.run(xs32, ks32, fast32, runtime.GOMAXPROCS(0))
			for i, w := range naiveConv(c, xs32, ks32, outShape) {
				g := float64(got[i].Float32())
				if d := math.Abs(g - w); d > math.Abs(w)/256+1e-4*(1+math.Abs(w)) {
					t.Fatalf("output %d of %s: got %g, want %g", i, outShape, g, w)
				}
				if want := bfloat16.FromFloat32(fast32[i]); got[i] != want {
					t.Fatalf("output %d: got %g, the float32 fast path rounded gives %g", i, got[i].Float32(), want.Float32())
				}
			}
		})
	}
}

// TestBFloat16ConvDeclines lists the bfloat16 convolutions left to the upstream executor.
func TestBFloat16ConvDeclines(t *testing.T) {
	c := fcCases()[0]
	params, _, _, out32 := c.build(t)
	bf := func(dims []int) shapes.Shape { return shapes.Make(dtypes.BFloat16, dims...) }
	in, k, out := bf(c.inDims), bf(c.kDims), bf(out32.Dimensions)
	if _, ok := newBFloat16ConvPlan(params, in, k, out); !ok {
		t.Fatal("plain bfloat16 convolution declined")
	}
	if _, ok := newBFloat16ConvPlan(params, in, shapes.Make(dtypes.Float32, c.kDims...), out); ok {
		t.Error("float32 kernel accepted")
	}
	grouped := *params
	grouped.channelGroupCount = 2
	if _, ok := newBFloat16ConvPlan(&grouped, in, k, out); ok {
		t.Error("channel grouping accepted")
	}
}

// randBFloat16s returns n normal values rounded to bfloat16, and the same values as float32.
func randBFloat16s(rng *rand.Rand, n int) ([]bfloat16.BFloat16, []float32) {
	bf, f := make([]bfloat16.BFloat16, n), make([]float32, n)
	for i := range bf {
		bf[i] = bfloat16.FromFloat32(float32(rng.NormFloat64()))
		f[i] = bf[i].Float32()
	}
	return bf, f
}

func testBufferOf(t *testing.T, backend *gobackend.Backend, shape shapes.Shape, flat any) *gobackend.Buffer {
	t.Helper()
	buf, err := backend.BufferFromFlatData(0, flat, shape)
	if err != nil {
		t.Fatal(err)
	}
	return buf.(*gobackend.Buffer)
}
