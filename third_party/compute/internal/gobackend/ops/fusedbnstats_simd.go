// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import "simd/archsimd"

// rowMoments is rowMomentsGo, 16 channels at a time with AVX-512 when that is the micro-kernel in use
// (the same float64 operations: v*v is exact in float64, so the fused multiply-add rounds like the Go
// code's multiply then add).
func rowMoments(out []float32, offs []int, sum, sq []float64) {
	n := len(sum)
	if sgemmKernelName != "avx512" || n < 16 {
		rowMomentsGo(out, offs, sum, sq)
		return
	}
	j := 0
	for ; j+16 <= n; j += 16 {
		s0, s1 := archsimd.LoadFloat64x8Slice(sum[j:]), archsimd.LoadFloat64x8Slice(sum[j+8:])
		q0, q1 := archsimd.LoadFloat64x8Slice(sq[j:]), archsimd.LoadFloat64x8Slice(sq[j+8:])
		for _, off := range offs {
			v := archsimd.LoadFloat32x16Slice(out[off+j : off+j+16])
			lo, hi := v.GetLo().ConvertToFloat64(), v.GetHi().ConvertToFloat64()
			s0, s1 = s0.Add(lo), s1.Add(hi)
			q0, q1 = lo.MulAdd(lo, q0), hi.MulAdd(hi, q1)
		}
		s0.StoreSlice(sum[j:])
		s1.StoreSlice(sum[j+8:])
		q0.StoreSlice(sq[j:])
		q1.StoreSlice(sq[j+8:])
	}
	if j < n {
		tail := make([]int, len(offs))
		for i, off := range offs {
			tail[i] = off + j
		}
		rowMomentsGo(out, tail, sum[j:], sq[j:])
	}
}

// normalizeRow is normalizeRowGo, 16 channels at a time with AVX-512 when that is the micro-kernel in
// use (the same float32 operations, in the same order).
func normalizeRow(x, y, mean, a, offset, res []float32, relu bool) {
	n := len(x)
	if sgemmKernelName != "avx512" {
		normalizeRowGo(x, y, mean, a, offset, res, relu)
		return
	}
	var zero archsimd.Float32x16
	j := 0
	for ; j+16 <= n; j += 16 {
		o := archsimd.LoadFloat32x16Slice(x[j : j+16]).Sub(archsimd.LoadFloat32x16Slice(mean[j : j+16]))
		o = o.Mul(archsimd.LoadFloat32x16Slice(a[j : j+16])).Add(archsimd.LoadFloat32x16Slice(offset[j : j+16]))
		if res != nil {
			o = o.Add(archsimd.LoadFloat32x16Slice(res[j : j+16]))
		}
		if relu {
			o = zero.Merge(o, o.Less(zero)) // 0 where o < 0; NaN stays NaN
		}
		o.StoreSlice(y[j : j+16])
	}
	if j < n {
		var r []float32
		if res != nil {
			r = res[j:]
		}
		normalizeRowGo(x[j:], y[j:], mean[j:], a[j:], offset[j:], r, relu)
	}
}
