//go:build goexperiment.simd && amd64

package dataset

import "simd/archsimd"

// useSIMD selects the AVX2+FMA resampling kernels (GOEXPERIMENT=simd on
// amd64, decided at start-up from the CPU).
var useSIMD = archsimd.X86.AVX2() && archsimd.X86.FMA()

// pairWeights lays out, per output index, the taps' weights in pairs as 8
// floats [w0 w0 w0 w0 w1 w1 w1 w1] (a missing second tap has weight 0), so
// that two RGBA pixels are weighted by one vector multiply.
func pairWeights(c axisCoeffs) (wv []float32, off []int) {
	off = make([]int, len(c.n))
	total := 0
	for i, n := range c.n {
		off[i] = total
		total += (n + 1) / 2 * 8
	}
	wv = make([]float32, total)
	for i, n := range c.n {
		k := c.w[i*c.ksize : i*c.ksize+n]
		for t, w := range k {
			base := off[i] + t/2*8 + t%2*4
			wv[base], wv[base+1], wv[base+2], wv[base+3] = w, w, w, w
		}
	}
	return wv, off
}

// horizontalSIMD is the horizontal pass of resampleRGBA with AVX2: out
// receives [outW][3] floats for source row row (RGBA bytes starting at
// column minX); out must have 1 float of slack after the row.
func horizontalSIMD(out []float32, row []byte, minX int, cx axisCoeffs, wv []float32, off []int) {
	for x, n := range cx.n {
		if n == 0 {
			out[3*x], out[3*x+1], out[3*x+2] = 0, 0, 0
			continue
		}
		p := row[(cx.start[x]-minX)*4:]
		pairs := (n + 1) / 2
		if need := 8*(pairs-1) + 16; cap(p) >= need {
			p = p[:need] // reads past the image end into newRGBA's slack are weighted 0
		} else { // a 16-byte load would run past the buffer
			k := cx.w[x*cx.ksize : x*cx.ksize+n]
			var r, g, b float32
			for t, w := range k {
				r += w * float32(p[4*t])
				g += w * float32(p[4*t+1])
				b += w * float32(p[4*t+2])
			}
			out[3*x], out[3*x+1], out[3*x+2] = r, g, b
			continue
		}
		w := wv[off[x]:]
		acc := archsimd.LoadUint8x16Slice(p).ExtendLo8ToUint32().AsInt32x8().ConvertToFloat32().Mul(archsimd.LoadFloat32x8Slice(w))
		for q := 1; q < pairs; q++ {
			v := archsimd.LoadUint8x16Slice(p[8*q:]).ExtendLo8ToUint32().AsInt32x8().ConvertToFloat32()
			acc = v.MulAdd(archsimd.LoadFloat32x8Slice(w[8*q:]), acc)
		}
		acc.GetLo().Add(acc.GetHi()).StoreSlice(out[3*x:]) // writes r g b a; a is overwritten next
	}
}

// verticalSIMD is verticalPass with AVX2+FMA, 8 floats at a time.
func verticalSIMD(dst, tmp []float32, y0, rowLen int, cy axisCoeffs) {
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
			acc := archsimd.LoadFloat32x8Slice(tmp[base+i:]).Mul(archsimd.BroadcastFloat32x8(k[0]))
			for t := 1; t < n; t++ {
				acc = archsimd.LoadFloat32x8Slice(tmp[base+t*rowLen+i:]).MulAdd(archsimd.BroadcastFloat32x8(k[t]), acc)
			}
			acc.StoreSlice(out[i:])
		}
		for ; i < rowLen; i++ {
			s := k[0] * tmp[base+i]
			for t := 1; t < n; t++ {
				s += k[t] * tmp[base+t*rowLen+i]
			}
			out[i] = s
		}
	}
}
