package dataset

import (
	"image"
	"math"
	"sync"
)

// axisCoeffs holds, for each output index along one axis, the first source
// index and the normalised bilinear (triangle) weights of the taps.
type axisCoeffs struct {
	start []int     // absolute source index of the first tap
	n     []int     // number of taps (0: output is outside the source, value 0)
	w     []float32 // weights, ksize per output index
	ksize int
}

// computeCoeffs follows Pillow's precompute_coeffs for the bilinear filter
// (support 1, widened by the downscale factor so that downscaling
// antialiases). The source span [inLo, inHi) is resized to full output
// samples, of which the window [off, off+count) is returned; window samples
// outside [0, full) get no taps (zero padding). With flip the window is
// mirrored.
func computeCoeffs(inLo, inHi, full, off, count int, flip bool) axisCoeffs {
	inSize := inHi - inLo
	scale := float64(inSize) / float64(full)
	filterscale := max(scale, 1)
	support := filterscale // bilinear support is 1
	ksize := int(math.Ceil(support))*2 + 1
	c := axisCoeffs{start: make([]int, count), n: make([]int, count), w: make([]float32, count*ksize), ksize: ksize}
	ss := 1 / filterscale
	for i := 0; i < count; i++ {
		xx := off + i
		if flip {
			xx = off + count - 1 - i
		}
		if xx < 0 || xx >= full {
			continue
		}
		center := (float64(xx) + 0.5) * scale
		xmin := int(center - support + 0.5) // C truncation, as Pillow
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		k := c.w[i*ksize : (i+1)*ksize]
		var tmp [64]float64
		ts := tmp[:]
		if xmax > len(ts) {
			ts = make([]float64, xmax)
		}
		for x := 0; x < xmax; x++ {
			t := math.Abs((float64(x+xmin) - center + 0.5) * ss)
			w := 0.0
			if t < 1 {
				w = 1 - t
			}
			ts[x] = w
			ww += w
		}
		for x := 0; x < xmax; x++ {
			if ww != 0 {
				k[x] = float32(ts[x] / ww)
			}
		}
		c.start[i] = inLo + xmin
		c.n[i] = xmax
	}
	return c
}

// resampleJob describes one fused crop+resize: the source box is resized to
// fullW x fullH and the window at (offX, offY) of size outW x outH is written
// to dst as [outH, outW, 3] float32 in [0, 255].
type resampleJob struct {
	box          image.Rectangle
	fullW, fullH int
	offX, offY   int
	outW, outH   int
	flip         bool
}

// sourceRect returns the source pixels the job reads (its taps' union).
func (j resampleJob) sourceRect() image.Rectangle {
	span := func(c axisCoeffs) (lo, hi int) {
		lo, hi = math.MaxInt, math.MinInt
		for i, n := range c.n {
			if n > 0 {
				lo, hi = min(lo, c.start[i]), max(hi, c.start[i]+n)
			}
		}
		return lo, hi
	}
	x0, x1 := span(computeCoeffs(j.box.Min.X, j.box.Max.X, j.fullW, j.offX, j.outW, false))
	y0, y1 := span(computeCoeffs(j.box.Min.Y, j.box.Max.Y, j.fullH, j.offY, j.outH, false))
	if x0 >= x1 || y0 >= y1 {
		return image.Rectangle{Min: j.box.Min, Max: j.box.Min.Add(image.Pt(1, 1))}
	}
	return image.Rect(x0, y0, x1, y1)
}

var tmpPool = sync.Pool{New: func() any { return new([]float32) }}

// resampleRGBA runs the job on an RGBA source: a horizontal pass over the
// rows the vertical taps need, then a vertical pass.
func resampleRGBA(dst []float32, src *image.RGBA, j resampleJob) {
	cx := computeCoeffs(j.box.Min.X, j.box.Max.X, j.fullW, j.offX, j.outW, j.flip)
	cy := computeCoeffs(j.box.Min.Y, j.box.Max.Y, j.fullH, j.offY, j.outH, false)
	// Rows needed by the vertical pass.
	y0, y1 := math.MaxInt, 0
	for i := range cy.start {
		if cy.n[i] > 0 {
			y0 = min(y0, cy.start[i])
			y1 = max(y1, cy.start[i]+cy.n[i])
		}
	}
	if y0 >= y1 {
		clear(dst[:j.outW*j.outH*3])
		return
	}
	rowLen := j.outW * 3
	tp := tmpPool.Get().(*[]float32)
	defer tmpPool.Put(tp)
	need := (y1-y0)*rowLen + 4 // slack for the SIMD kernel's 4-float stores
	if cap(*tp) < need {
		*tp = make([]float32, need)
	}
	tmp := (*tp)[:need]
	minX := src.Rect.Min.X
	if useSIMD {
		wv, off := pairWeights(cx)
		for y := y0; y < y1; y++ {
			horizontalSIMD(tmp[(y-y0)*rowLen:], src.Pix[(y-src.Rect.Min.Y)*src.Stride:], minX, cx, wv, off)
		}
		verticalSIMD(dst, tmp, y0, rowLen, cy)
		return
	}
	for y := y0; y < y1; y++ {
		horizontalRow(tmp[(y-y0)*rowLen:(y-y0+1)*rowLen], src.Pix[(y-src.Rect.Min.Y)*src.Stride:], minX, cx)
	}
	verticalPass(dst, tmp, y0, rowLen, cy)
}

// horizontalRow is the scalar horizontal pass for one source row.
func horizontalRow(out []float32, row []byte, minX int, cx axisCoeffs) {
	for x, n := range cx.n {
		var r, g, b float32
		switch n {
		case 0:
		case 2: // the common upscaling case
			k := cx.w[x*cx.ksize : x*cx.ksize+2]
			p := row[(cx.start[x]-minX)*4:]
			p = p[:8]
			r = k[0]*float32(p[0]) + k[1]*float32(p[4])
			g = k[0]*float32(p[1]) + k[1]*float32(p[5])
			b = k[0]*float32(p[2]) + k[1]*float32(p[6])
		default:
			k := cx.w[x*cx.ksize : x*cx.ksize+n]
			p := row[(cx.start[x]-minX)*4:]
			p = p[:4*n]
			for t, w := range k {
				q := p[4*t : 4*t+3]
				r += w * float32(q[0])
				g += w * float32(q[1])
				b += w * float32(q[2])
			}
		}
		o := out[3*x : 3*x+3]
		o[0], o[1], o[2] = r, g, b
	}
}

// verticalPass combines rows of tmp (row y of the source at tmp[(y-y0)*rowLen])
// into dst rows using the vertical coefficients.
func verticalPass(dst, tmp []float32, y0, rowLen int, cy axisCoeffs) {
	for y := range cy.start {
		out := dst[y*rowLen : (y+1)*rowLen]
		n := cy.n[y]
		if n == 0 {
			clear(out)
			continue
		}
		k := cy.w[y*cy.ksize : y*cy.ksize+n]
		base := (cy.start[y] - y0) * rowLen
		first := tmp[base : base+rowLen]
		w0 := k[0]
		for i, v := range first {
			out[i] = w0 * v
		}
		for t := 1; t < n; t++ {
			w := k[t]
			r := tmp[base+t*rowLen : base+(t+1)*rowLen]
			for i, v := range r {
				out[i] += w * v
			}
		}
	}
}
