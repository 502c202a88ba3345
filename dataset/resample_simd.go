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

// horizontalSIMD is horizontalRow with AVX2: out receives [outW][3] 8-bit
// values for source row row (RGBA bytes starting at column minX); out must
// have 1 value of slack after the row.
func horizontalSIMD(out []int32, row []byte, minX int, cx axisCoeffs, wv []int32, off []int) {
	rnd := archsimd.BroadcastInt32x4(roundHalf)
	hi := archsimd.BroadcastInt32x4(255)
	zero := archsimd.BroadcastInt32x4(0)
	for x, n := range cx.n {
		if n == 0 {
			out[3*x], out[3*x+1], out[3*x+2] = 0, 0, 0
			continue
		}
		p := row[(cx.start[x]-minX)*4:]
		pairs := (n + 1) / 2
		need := 8*(pairs-1) + 16
		if cap(p) < need { // a 16-byte load would run past the buffer
			horizontalPixel(out[3*x:3*x+3], p, cx.w[x*cx.ksize:x*cx.ksize+n])
			continue
		}
		p = p[:need] // reads past the image end into newRGBA's slack are weighted 0
		w := wv[off[x]:]
		acc := archsimd.LoadUint8x16Slice(p).ExtendLo8ToUint32().AsInt32x8().Mul(archsimd.LoadInt32x8Slice(w))
		for q := 1; q < pairs; q++ {
			v := archsimd.LoadUint8x16Slice(p[8*q:]).ExtendLo8ToUint32().AsInt32x8()
			acc = acc.Add(v.Mul(archsimd.LoadInt32x8Slice(w[8*q:])))
		}
		s := acc.GetLo().Add(acc.GetHi()).Add(rnd).ShiftAllRight(precisionBits).Min(hi).Max(zero)
		s.StoreSlice(out[3*x:]) // writes r g b a; a is overwritten next
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
