// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

// bfloat16 ConvGeneral through fastConv: the operands are widened to float32 (exact), convolved by the
// float32 kernels with float32 sums, and the result is rounded to bfloat16 once (round to nearest even).
// The upstream executor for bfloat16 is the generic scalar loop, some hundred times slower; widening costs
// two passes over the operands and one over the output, small next to the convolution itself.

import (
	"runtime"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// newBFloat16ConvPlan returns fastConv's plan for a convolution whose input, kernel and output are all
// bfloat16, or false if fastConv does not handle it. The compile-time fusions are float32 only, so such
// a node never has an epilogue.
func newBFloat16ConvPlan(params *convNode, inShape, kShape, outShape shapes.Shape) (*fastConvPlan, bool) {
	bf := dtypes.BFloat16
	if inShape.DType != bf || kShape.DType != bf || outShape.DType != bf || params.epilogue != nil {
		return nil, false
	}
	return newConvPlanGeometry(params, inShape, kShape, outShape)
}

// execConvBFloat16 runs plan (see newBFloat16ConvPlan) on bfloat16 buffers in float32.
func execConvBFloat16(backend *gobackend.Backend, node *gobackend.Node, plan *fastConvPlan, input, kernel *gobackend.Buffer) (*gobackend.Buffer, error) {
	in := widenBFloat16(input.Flat.([]bfloat16.BFloat16))
	defer putFloat32s(in)
	kern := widenBFloat16(kernel.Flat.([]bfloat16.BFloat16))
	defer putFloat32s(kern)
	out := getFloat32s(node.Shape.Size())
	defer putFloat32s(out)
	plan.run(in, kern, out, runtime.GOMAXPROCS(0))

	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	dst := output.Flat.([]bfloat16.BFloat16)
	convertInParallel(len(out), func(lo, hi int) {
		for i, v := range out[lo:hi] {
			dst[lo+i] = bfloat16.FromFloat32(v)
		}
	})
	return output, nil
}

// widenBFloat16 returns src as float32s, in a slice from float32Pool.
func widenBFloat16(src []bfloat16.BFloat16) []float32 {
	dst := getFloat32s(len(src))
	convertInParallel(len(src), func(lo, hi int) {
		for i, v := range src[lo:hi] {
			dst[lo+i] = v.Float32()
		}
	})
	return dst
}

// convertInParallel runs fn over [0, n) in chunks on all cores when n is large enough to gain from it.
func convertInParallel(n int, fn func(lo, hi int)) {
	if n < parallelElementwiseMin {
		fn(0, n)
		return
	}
	parallelFor(n, fn)
}
