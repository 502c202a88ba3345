//go:build goexperiment.simd && amd64

package dataset

import "simd/archsimd"

// useSIMD selects the AVX2 resampling kernels (GOEXPERIMENT=simd on amd64,
// decided at start-up from the CPU). They do the same integer arithmetic as
// the scalar ones, so the results are identical.
var useSIMD = archsimd.X86.AVX2()

// pairWeights lays out, per output index, the taps' weights in pairs as 8
// int32 [w0 w0 w0 w0 w1 w1 w1 w1] (a missing second tap has weight 0), so
// that two RGBA pixels are weighted by one vector multiply.
func pairWeights(c axisCoeffs) (wv []int32, off []int) {
	off = make([]int, len(c.n))
	total := 0
	for i, n := range c.n {
		off[i] = total
		total += (n + 1) / 2 * 8
	}
	wv = make([]int32, total)
	for i, n := range c.n {
		k := c.w[i*c.ksize : i*c.ksize+n]
		for t, w := range k {
			base := off[i] + t/2*8 + t%2*4
			wv[base], wv[base+1], wv[base+2], wv[base+3] = w, w, w, w
		}
	}
	return wv, off
}

// horizontalSIMD is horizontalRow with AVX2 for two source rows at once,
// row0 (RGBA bytes starting at column minX) and the row stride bytes later,
// writing [outW][3] 8-bit values to out0 and out1. With stride 0 and out1 ==
// out0 it does one row.
func horizontalSIMD(out0, out1 []int32, row0 []byte, stride, minX int, cx axisCoeffs, wv []int32, off []int) {
	rnd := archsimd.BroadcastInt32x8(roundHalf)
	hi := archsimd.BroadcastInt32x8(255)
	for x, n := range cx.n {
		if n == 0 {
			out0[3*x], out0[3*x+1], out0[3*x+2] = 0, 0, 0
			out1[3*x], out1[3*x+1], out1[3*x+2] = 0, 0, 0
			continue
		}
		p0 := row0[(cx.start[x]-minX)*4:]
		pairs := (n + 1) / 2
		need := 8*(pairs-1) + 16
		if cap(p0) < need+stride { // a 16-byte load would run past the buffer
			k := cx.w[x*cx.ksize : x*cx.ksize+n]
			horizontalPixel(out0[3*x:3*x+3], p0, k)
			horizontalPixel(out1[3*x:3*x+3], p0[stride:], k)
			continue
		}
		p1 := p0[stride : stride+need] // reads past the image end into newRGBA's slack are weighted 0
		p0 = p0[:need]
		w := wv[off[x]:]
		wq := archsimd.LoadInt32x8Slice(w)
		a := archsimd.LoadUint8x16Slice(p0).ExtendLo8ToUint32().AsInt32x8().Mul(wq)
		b := archsimd.LoadUint8x16Slice(p1).ExtendLo8ToUint32().AsInt32x8().Mul(wq)
		for q := 1; q < pairs; q++ {
			wq = archsimd.LoadInt32x8Slice(w[8*q:])
			a = a.Add(archsimd.LoadUint8x16Slice(p0[8*q:]).ExtendLo8ToUint32().AsInt32x8().Mul(wq))
			b = b.Add(archsimd.LoadUint8x16Slice(p1[8*q:]).ExtendLo8ToUint32().AsInt32x8().Mul(wq))
		}
		// Even taps + odd taps: r g b a of row 0 in the low half, of row 1 in
		// the high half. The sums are >= 0 (bilinear weights are), so only
		// the top is clipped.
		s := a.Select128FromPair(0, 2, b).Add(a.Select128FromPair(1, 3, b)).Add(rnd).ShiftAllRight(precisionBits).Min(hi)
		if x+1 < len(cx.n) {
			s.GetLo().StoreSlice(out0[3*x:]) // writes r g b a; a is overwritten next
			s.GetHi().StoreSlice(out1[3*x:])
		} else { // a 4-value store would overwrite the next row's first value
			// (or run past the buffer). Not StoreSlicePart: its masked store
			// takes a *[4]int32 that can straddle the end of the allocation,
			// which checkptr (go test -race) rejects.
			var lo, hi [4]int32
			s.GetLo().StoreSlice(lo[:])
			s.GetHi().StoreSlice(hi[:])
			copy(out0[3*x:3*x+3], lo[:3])
			copy(out1[3*x:3*x+3], hi[:3])
		}
	}
}

// verticalSIMD is verticalPass with AVX2, 8 values at a time.
func verticalSIMD(dst []float32, tmp []int32, y0, rowLen int, cy axisCoeffs) {
	rnd := archsimd.BroadcastInt32x8(roundHalf)
	hi := archsimd.BroadcastInt32x8(255)
	zero := archsimd.BroadcastInt32x8(0)
	for y := range cy.start {
		out := dst[y*rowLen : (y+1)*rowLen]
		n := cy.n[y]
		if n == 0 {
			clear(out)
			continue
		}
		k := cy.w[y*cy.ksize : y*cy.ksize+n]
		base := (cy.start[y] - y0) * rowLen
		i := 0
		for ; i+8 <= rowLen; i += 8 {
			acc := rnd
			for t, w := range k {
				acc = acc.Add(archsimd.LoadInt32x8Slice(tmp[base+t*rowLen+i:]).Mul(archsimd.BroadcastInt32x8(w)))
			}
			acc.ShiftAllRight(precisionBits).Min(hi).Max(zero).ConvertToFloat32().StoreSlice(out[i:])
		}
		for ; i < rowLen; i++ {
			s := int32(roundHalf)
			for t, w := range k {
				s += tmp[base+t*rowLen+i] * w
			}
			out[i] = float32(clip8(s))
		}
	}
}
