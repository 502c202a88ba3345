// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import "simd/archsimd"

// wgTransforms returns the AVX2 transforms (8 channels a vector) if simd and the CPU has AVX2 and FMA,
// else the Go ones.
func wgTransforms(simd bool) wgFuncs {
	if simd && archsimd.X86.AVX2() && archsimd.X86.FMA() {
		return wgFuncs{wgInputTransformAVX2, wgOutputTransformAVX2, wgKernelTransformAVX2, wgGradTransformAVX2,
			wgWeightTransformAVX2, true}
	}
	return wgFuncsGo
}

// wgInputTransformAVX2 is wgInputTransformGo with AVX2.
func wgInputTransformAVX2(d, res *[wgXi][wgL]float32) {
	var tmp [wgXi][wgL]float32
	for j := range wgIn { // columns: tmp = Bᵀ d
		wgInput1DAVX2(d, &tmp, j, wgIn)
	}
	for i := range wgIn { // rows: res = tmp B
		wgInput1DAVX2(&tmp, res, i*wgIn, 1)
	}
}

// wgInput1DAVX2 applies Bᵀ to the 6 vectors src[at + i*step], writing dst[at + i*step].
func wgInput1DAVX2(src, dst *[wgXi][wgL]float32, at, step int) {
	four, five := archsimd.BroadcastFloat32x8(4), archsimd.BroadcastFloat32x8(5)
	d0 := archsimd.LoadFloat32x8(&src[at])
	d1 := archsimd.LoadFloat32x8(&src[at+step])
	d2 := archsimd.LoadFloat32x8(&src[at+2*step])
	d3 := archsimd.LoadFloat32x8(&src[at+3*step])
	d4 := archsimd.LoadFloat32x8(&src[at+4*step])
	d5 := archsimd.LoadFloat32x8(&src[at+5*step])
	t1, t2 := d4.Sub(d2.Mul(four)), d3.Sub(d1.Mul(four))
	t3, t4 := d4.Sub(d2), d3.Sub(d1)
	t4 = t4.Add(t4)
	d0.MulAdd(four, d4.Sub(d2.Mul(five))).Store(&dst[at])
	t1.Add(t2).Store(&dst[at+step])
	t1.Sub(t2).Store(&dst[at+2*step])
	t3.Add(t4).Store(&dst[at+3*step])
	t3.Sub(t4).Store(&dst[at+4*step])
	d1.MulAdd(four, d5.Sub(d3.Mul(five))).Store(&dst[at+5*step])
}

// wgOutputTransformAVX2 is wgOutputTransformGo with AVX2. (Vectors are kept in variables, not arrays:
// arrays of them go through memory slowly.)
func wgOutputTransformAVX2(m []float32, stride int, res *[wgOut * wgOut][wgL]float32) {
	_ = m[(wgXi-1)*stride+wgL-1]
	var tmp [wgOut * wgIn][wgL]float32 // Aᵀ M, [i*6+j]
	at := func(i, j int) *[wgL]float32 { return (*[wgL]float32)(m[(i*wgIn+j)*stride:]) }
	for j := range wgIn {
		wgOutput1DAVX2(at(0, j), at(1, j), at(2, j), at(3, j), at(4, j), at(5, j),
			&tmp[j], &tmp[wgIn+j], &tmp[2*wgIn+j], &tmp[3*wgIn+j])
	}
	for i := range wgOut {
		t := tmp[i*wgIn:]
		wgOutput1DAVX2(&t[0], &t[1], &t[2], &t[3], &t[4], &t[5],
			&res[i*wgOut], &res[i*wgOut+1], &res[i*wgOut+2], &res[i*wgOut+3])
	}
}

// wgOutput1DAVX2 is Aᵀ times the column of vectors m0..m5, written to o0..o3.
func wgOutput1DAVX2(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3 *[wgL]float32) {
	two, four, eight := archsimd.BroadcastFloat32x8(2), archsimd.BroadcastFloat32x8(4), archsimd.BroadcastFloat32x8(8)
	v1, v2 := archsimd.LoadFloat32x8(m1), archsimd.LoadFloat32x8(m2)
	v3, v4 := archsimd.LoadFloat32x8(m3), archsimd.LoadFloat32x8(m4)
	a, b, c, d := v1.Add(v2), v1.Sub(v2), v3.Add(v4), v3.Sub(v4)
	archsimd.LoadFloat32x8(m0).Add(a).Add(c).Store(o0)
	d.MulAdd(two, b).Store(o1)
	c.MulAdd(four, a).Store(o2)
	d.MulAdd(eight, b).Add(archsimd.LoadFloat32x8(m5)).Store(o3)
}

// wgKernelTransformAVX2 is wgKernelTransformGo with AVX2.
func wgKernelTransformAVX2(g *[9][wgL]float32, res *[wgXi][wgL]float32) {
	var tmp [wgIn * 3][wgL]float32 // G g, [i*3+j]
	for j := range 3 {
		wgKernel1DAVX2(&g[j], &g[3+j], &g[6+j], tmp[j:], 3)
	}
	for i := range wgIn {
		wgKernel1DAVX2(&tmp[i*3], &tmp[i*3+1], &tmp[i*3+2], res[i*wgIn:], 1)
	}
}

// wgKernel1DAVX2 is G times the column of vectors g0, g1, g2, written to dst[i*step] for i < 6.
func wgKernel1DAVX2(g0, g1, g2 *[wgL]float32, dst [][wgL]float32, step int) {
	_ = dst[5*step]
	quarter, half := archsimd.BroadcastFloat32x8(0.25), archsimd.BroadcastFloat32x8(0.5)
	sixth, negSixth := archsimd.BroadcastFloat32x8(float32(1.0/6)), archsimd.BroadcastFloat32x8(float32(-1.0/6))
	v0, v1, v2 := archsimd.LoadFloat32x8(g0), archsimd.LoadFloat32x8(g1), archsimd.LoadFloat32x8(g2)
	q0 := v0.Mul(quarter)
	s, p, h := v0.Add(v2), q0.Add(v2), v1.Mul(half)
	q0.Store(&dst[0])
	s.Add(v1).Mul(negSixth).Store(&dst[step])
	s.Sub(v1).Mul(negSixth).Store(&dst[2*step])
	p.Add(h).Mul(sixth).Store(&dst[3*step])
	p.Sub(h).Mul(sixth).Store(&dst[4*step])
	v2.Store(&dst[5*step])
}

// wgGradTransformAVX2 is wgGradTransformGo with AVX2.
func wgGradTransformAVX2(t *[wgOut * wgOut][wgL]float32, res *[wgXi][wgL]float32) {
	var tmp [wgIn * wgOut][wgL]float32 // A t, [i*4+j]
	for j := range wgOut {
		wgGrad1DAVX2(&t[j], &t[wgOut+j], &t[2*wgOut+j], &t[3*wgOut+j], tmp[j:], wgOut)
	}
	for i := range wgIn {
		r := tmp[i*wgOut:]
		wgGrad1DAVX2(&r[0], &r[1], &r[2], &r[3], res[i*wgIn:], 1)
	}
}

// wgGrad1DAVX2 is A times the column of vectors g0..g3, written to dst[i*step] for i < 6.
func wgGrad1DAVX2(g0, g1, g2, g3 *[wgL]float32, dst [][wgL]float32, step int) {
	_ = dst[5*step]
	two, four, eight := archsimd.BroadcastFloat32x8(2), archsimd.BroadcastFloat32x8(4), archsimd.BroadcastFloat32x8(8)
	v0, v1, v2, v3 := archsimd.LoadFloat32x8(g0), archsimd.LoadFloat32x8(g1), archsimd.LoadFloat32x8(g2), archsimd.LoadFloat32x8(g3)
	e, o := v0.Add(v2), v1.Add(v3)
	e4, o2 := v2.MulAdd(four, v0), v3.MulAdd(eight, v1.Mul(two))
	v0.Store(&dst[0])
	e.Add(o).Store(&dst[step])
	e.Sub(o).Store(&dst[2*step])
	e4.Add(o2).Store(&dst[3*step])
	e4.Sub(o2).Store(&dst[4*step])
	v3.Store(&dst[5*step])
}

// wgWeightTransformAVX2 is wgWeightTransformGo with AVX2.
func wgWeightTransformAVX2(d []float32, stride int, res *[9][wgL]float32) {
	_ = d[(wgXi-1)*stride+wgL-1]
	var tmp [3 * wgIn][wgL]float32 // Gᵀ D, [i*6+j]
	at := func(i, j int) *[wgL]float32 { return (*[wgL]float32)(d[(i*wgIn+j)*stride:]) }
	for j := range wgIn {
		wgWeight1DAVX2(at(0, j), at(1, j), at(2, j), at(3, j), at(4, j), at(5, j), &tmp[j], &tmp[wgIn+j], &tmp[2*wgIn+j])
	}
	for i := range 3 {
		t := tmp[i*wgIn:]
		wgWeight1DAVX2(&t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &res[i*3], &res[i*3+1], &res[i*3+2])
	}
}

// wgWeight1DAVX2 is Gᵀ times the column of vectors h0..h5, written to o0..o2.
func wgWeight1DAVX2(h0, h1, h2, h3, h4, h5, o0, o1, o2 *[wgL]float32) {
	quarter := archsimd.BroadcastFloat32x8(0.25)
	sixth, twelfth := archsimd.BroadcastFloat32x8(float32(1.0/6)), archsimd.BroadcastFloat32x8(float32(1.0/12))
	v1, v2 := archsimd.LoadFloat32x8(h1), archsimd.LoadFloat32x8(h2)
	v3, v4 := archsimd.LoadFloat32x8(h3), archsimd.LoadFloat32x8(h4)
	s12, d12, s34, d34 := v1.Add(v2), v2.Sub(v1), v3.Add(v4), v3.Sub(v4)
	// h0/4 - s12/6 + s34/24 = h0/4 + (s34/4 - s12)/6
	archsimd.LoadFloat32x8(h0).Mul(quarter).Add(s34.Mul(quarter).Sub(s12).Mul(sixth)).Store(o0)
	d12.Mul(sixth).Add(d34.Mul(twelfth)).Store(o1)
	s34.Sub(s12).MulAdd(sixth, archsimd.LoadFloat32x8(h5)).Store(o2)
}
