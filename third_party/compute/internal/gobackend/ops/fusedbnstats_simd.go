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

// rowGradientMoments is rowGradientMomentsGo, 16 channels at a time with AVX-512 when that is the
// micro-kernel in use (dy*(x-mean) is rounded once, by a fused multiply-add, instead of twice).
func rowGradientMoments(dy, x []float32, offs []int, mean []float32, sum, sdx []float64) {
	n := len(sum)
	if sgemmKernelName != "avx512" || n < 16 {
		rowGradientMomentsGo(dy, x, offs, mean, sum, sdx)
		return
	}
	j := 0
	for ; j+16 <= n; j += 16 {
		m := archsimd.LoadFloat32x16Slice(mean[j : j+16])
		m0, m1 := m.GetLo().ConvertToFloat64(), m.GetHi().ConvertToFloat64()
		s0, s1 := archsimd.LoadFloat64x8Slice(sum[j:]), archsimd.LoadFloat64x8Slice(sum[j+8:])
		q0, q1 := archsimd.LoadFloat64x8Slice(sdx[j:]), archsimd.LoadFloat64x8Slice(sdx[j+8:])
		for _, off := range offs {
			g := archsimd.LoadFloat32x16Slice(dy[off+j : off+j+16])
			v := archsimd.LoadFloat32x16Slice(x[off+j : off+j+16])
			g0, g1 := g.GetLo().ConvertToFloat64(), g.GetHi().ConvertToFloat64()
			c0, c1 := v.GetLo().ConvertToFloat64().Sub(m0), v.GetHi().ConvertToFloat64().Sub(m1)
			s0, s1 = s0.Add(g0), s1.Add(g1)
			q0, q1 = g0.MulAdd(c0, q0), g1.MulAdd(c1, q1)
		}
		s0.StoreSlice(sum[j:])
		s1.StoreSlice(sum[j+8:])
		q0.StoreSlice(sdx[j:])
		q1.StoreSlice(sdx[j+8:])
	}
	if j < n {
		tail := make([]int, len(offs))
		for i, off := range offs {
			tail[i] = off + j
		}
		rowGradientMomentsGo(dy, x, tail, mean[j:], sum[j:], sdx[j:])
	}
}

// gradientRow is gradientRowGo, 16 channels at a time with AVX-512 when that is the micro-kernel in use
// (the same float32 operations, in the same order).
func gradientRow(x, dy, dx, mean, a, k, l []float32) {
	n := len(x)
	if sgemmKernelName != "avx512" {
		gradientRowGo(x, dy, dx, mean, a, k, l)
		return
	}
	j := 0
	for ; j+16 <= n; j += 16 {
		ag := archsimd.LoadFloat32x16Slice(a[j : j+16]).Mul(archsimd.LoadFloat32x16Slice(dy[j : j+16]))
		c := archsimd.LoadFloat32x16Slice(x[j : j+16]).Sub(archsimd.LoadFloat32x16Slice(mean[j : j+16]))
		o := ag.Add(archsimd.LoadFloat32x16Slice(k[j : j+16]).Mul(c)).Add(archsimd.LoadFloat32x16Slice(l[j : j+16]))
		o.StoreSlice(dx[j : j+16])
	}
	if j < n {
		gradientRowGo(x[j:], dy[j:], dx[j:], mean[j:], a[j:], k[j:], l[j:])
	}
}

// addRow is addRowGo, 16 at a time with AVX-512 when that is the micro-kernel in use.
func addRow(dst, src []float32) {
	n := len(dst)
	if sgemmKernelName != "avx512" {
		addRowGo(dst, src)
		return
	}
	j := 0
	for ; j+16 <= n; j += 16 {
		archsimd.LoadFloat32x16Slice(dst[j : j+16]).Add(archsimd.LoadFloat32x16Slice(src[j : j+16])).StoreSlice(dst[j : j+16])
	}
	addRowGo(dst[j:], src[j:])
}
