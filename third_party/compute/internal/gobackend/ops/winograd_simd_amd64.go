// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import "simd/archsimd"

// The Winograd transforms in use: AVX2 with FMA (8 channels a vector) where the CPU has them, else Go.
var wgInputTransform, wgOutputTransform, wgKernelTransform = wgTransforms(true)

// wgTransforms returns the AVX2 transforms if simd and the CPU has AVX2 and FMA, else the Go ones.
func wgTransforms(simd bool) (func(d, res *[wgXi][wgL]float32), func(m []float32, stride int, res *[wgOut * wgOut][wgL]float32),
	func(g *[9][wgL]float32, res *[wgXi][wgL]float32)) {
	if simd && archsimd.X86.AVX2() && archsimd.X86.FMA() {
		return wgInputTransformAVX2, wgOutputTransformAVX2, wgKernelTransformAVX2
	}
	return wgInputTransformGo, wgOutputTransformGo, wgKernelTransformGo
}

type f32x8 = archsimd.Float32x8

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

// wgOutputTransformAVX2 is wgOutputTransformGo with AVX2.
func wgOutputTransformAVX2(m []float32, stride int, res *[wgOut * wgOut][wgL]float32) {
	_ = m[(wgXi-1)*stride+wgL-1]
	var tmp [wgOut * wgIn][wgL]float32 // Aᵀ M, [i*6+j]
	for j := range wgIn {
		var c [wgIn]f32x8
		for i := range wgIn {
			c[i] = archsimd.LoadFloat32x8Slice(m[(i*wgIn+j)*stride:])
		}
		o := wgOutput1DAVX2(c)
		for i := range wgOut {
			o[i].Store(&tmp[i*wgIn+j])
		}
	}
	for i := range wgOut {
		var c [wgIn]f32x8
		for j := range wgIn {
			c[j] = archsimd.LoadFloat32x8(&tmp[i*wgIn+j])
		}
		o := wgOutput1DAVX2(c)
		for j := range wgOut {
			o[j].Store(&res[i*wgOut+j])
		}
	}
}

// wgOutput1DAVX2 is Aᵀ times a column of vectors.
func wgOutput1DAVX2(m [wgIn]f32x8) [wgOut]f32x8 {
	two, four, eight := archsimd.BroadcastFloat32x8(2), archsimd.BroadcastFloat32x8(4), archsimd.BroadcastFloat32x8(8)
	a, b, c, d := m[1].Add(m[2]), m[1].Sub(m[2]), m[3].Add(m[4]), m[3].Sub(m[4])
	return [wgOut]f32x8{m[0].Add(a).Add(c), d.MulAdd(two, b), c.MulAdd(four, a), d.MulAdd(eight, b).Add(m[5])}
}

// wgKernelTransformAVX2 is wgKernelTransformGo with AVX2.
func wgKernelTransformAVX2(g *[9][wgL]float32, res *[wgXi][wgL]float32) {
	var tmp [wgIn * 3][wgL]float32 // G g, [i*3+j]
	for j := range 3 {
		o := wgKernel1DAVX2(archsimd.LoadFloat32x8(&g[j]), archsimd.LoadFloat32x8(&g[3+j]), archsimd.LoadFloat32x8(&g[6+j]))
		for i := range wgIn {
			o[i].Store(&tmp[i*3+j])
		}
	}
	for i := range wgIn {
		o := wgKernel1DAVX2(archsimd.LoadFloat32x8(&tmp[i*3]), archsimd.LoadFloat32x8(&tmp[i*3+1]), archsimd.LoadFloat32x8(&tmp[i*3+2]))
		for j := range wgIn {
			o[j].Store(&res[i*wgIn+j])
		}
	}
}

// wgKernel1DAVX2 is G times a column of vectors.
func wgKernel1DAVX2(g0, g1, g2 f32x8) [wgIn]f32x8 {
	quarter, half := archsimd.BroadcastFloat32x8(0.25), archsimd.BroadcastFloat32x8(0.5)
	sixth := archsimd.BroadcastFloat32x8(float32(1.0 / 6))
	q0 := g0.Mul(quarter)
	s := g0.Add(g2)
	p := q0.Add(g2)
	h := g1.Mul(half)
	negSixth := archsimd.BroadcastFloat32x8(float32(-1.0 / 6))
	return [wgIn]f32x8{q0, s.Add(g1).Mul(negSixth), s.Sub(g1).Mul(negSixth), p.Add(h).Mul(sixth), p.Sub(h).Mul(sixth), g2}
}
