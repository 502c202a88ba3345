package dataset

import (
	"image"
	"math"
	"sync"
)

// The resampler reproduces Pillow's Image.resize(size, BILINEAR) on 8-bit RGB
// images bit for bit, which is what torchvision's Resize, CenterCrop and
// RandomResizedCrop compute on PIL images: a separable triangle filter whose
// support grows with the downscale factor (antialiasing), weights rounded to
// fixed point with precisionBits fraction bits, a horizontal pass that rounds
// and clips to 8 bits, then a vertical pass over those 8-bit values that
// rounds and clips again. Only the requested output window is computed; each
// output value depends on its own taps only, so the window equals the same
// window of Pillow's full-size result.

// precisionBits is Pillow's PRECISION_BITS for 8-bit images (32 - 8 - 2).
const precisionBits = 22

// roundHalf starts every fixed-point sum so that the final shift rounds.
const roundHalf = 1 << (precisionBits - 1)

// clip8 turns a fixed-point sum into an 8-bit value as Pillow's clip8.
func clip8(v int32) int32 { return min(max(v>>precisionBits, 0), 255) }

// axisCoeffs holds, for each output index along one axis, the first source
// index and the fixed-point triangle weights of the taps.
type axisCoeffs struct {
	start []int   // absolute source index of the first tap
	n     []int   // number of taps (0: output is outside the source, value 0)
	w     []int32 // weights with precisionBits fraction bits, ksize per output index
	ksize int
}

// computeCoeffs is Pillow's precompute_coeffs + normalize_coeffs_8bpc for the
// bilinear filter. The source span [inLo, inHi) is resized to full output
// samples, of which the window [off, off+count) is returned; window samples
// outside [0, full) get no taps (zero padding). Taps never leave the span, as
// when Pillow resizes an image cropped to it. With flip the window is mirrored
// (a horizontal flip after the resize).
func computeCoeffs(inLo, inHi, full, off, count int, flip bool) axisCoeffs {
	inSize := inHi - inLo
	scale := float64(inSize) / float64(full)
	filterscale := max(scale, 1)
	ksize := int(math.Ceil(filterscale))*2 + 1 // bilinear support 1, widened
	c := axisCoeffs{start: make([]int, count), n: make([]int, count), w: make([]int32, count*ksize), ksize: ksize}
	buf := make([]float64, ksize)
	for i := 0; i < count; i++ {
		xx := off + i
		if flip {
			xx = off + count - 1 - i
		}
		if xx < 0 || xx >= full {
			continue
		}
		xmin, n := bilinearTaps(xx, inSize, scale, filterscale, buf)
		for t, v := range buf[:n] {
			c.w[i*ksize+t] = int32(0.5 + v*(1<<precisionBits)) // v >= 0: C's (int) truncation
		}
		c.start[i] = inLo + xmin
		c.n[i] = n
	}
	return c
}

// bilinearTaps writes into w the normalised float64 weights of output index
// xx, as Pillow computes them, and returns the first tap and the tap count.
func bilinearTaps(xx, inSize int, scale, filterscale float64, w []float64) (xmin, n int) {
	support := filterscale
	center := (float64(xx) + 0.5) * scale
	ss := 1 / filterscale
	xmin = max(int(center-support+0.5), 0) // int() truncates toward zero, as C
	n = max(min(int(center+support+0.5), inSize)-xmin, 0)
	ww := 0.0
	for x := 0; x < n; x++ {
		t := math.Abs((float64(x+xmin) - center + 0.5) * ss)
		w[x] = 0
		if t < 1 {
			w[x] = 1 - t
		}
		ww += w[x]
	}
	if ww != 0 {
		for x := range w[:n] {
			w[x] /= ww
		}
	}
	return xmin, n
}

// resampleJob describes one fused crop+resize: the source box is resized to
// fullW x fullH and the window at (offX, offY) of size outW x outH is written
// to dst as [outH, outW, 3] float32 holding Pillow's 8-bit values 0..255.
type resampleJob struct {
	box          image.Rectangle
	fullW, fullH int
	offX, offY   int
	outW, outH   int
	flip         bool
}

// sourceRect returns the source pixels the job reads (its taps' union).
func (j resampleJob) sourceRect() image.Rectangle {
	x0, x1 := computeCoeffs(j.box.Min.X, j.box.Max.X, j.fullW, j.offX, j.outW, false).span()
	y0, y1 := computeCoeffs(j.box.Min.Y, j.box.Max.Y, j.fullH, j.offY, j.outH, false).span()
	if x0 >= x1 || y0 >= y1 {
		return image.Rectangle{Min: j.box.Min, Max: j.box.Min.Add(image.Pt(1, 1))}
	}
	return image.Rect(x0, y0, x1, y1)
}

// span is the union [lo, hi) of the source indices the taps read (lo >= hi
// when there are none).
func (c axisCoeffs) span() (lo, hi int) {
	lo, hi = math.MaxInt, math.MinInt
	for i, n := range c.n {
		if n > 0 {
			lo, hi = min(lo, c.start[i]), max(hi, c.start[i]+n)
		}
	}
	return lo, hi
}

// tmpPool holds the horizontal pass's output rows between jobs.
var tmpPool = sync.Pool{New: func() any { return new([]int32) }}

// resampleRGBA runs the job on an RGBA source: a horizontal pass over the
// rows the vertical taps need, then a vertical pass.
func resampleRGBA(dst []float32, src *image.RGBA, j resampleJob) {
	cx := computeCoeffs(j.box.Min.X, j.box.Max.X, j.fullW, j.offX, j.outW, j.flip)
	cy := computeCoeffs(j.box.Min.Y, j.box.Max.Y, j.fullH, j.offY, j.outH, false)
	y0, y1 := cy.span()
	if y0 >= y1 {
		clear(dst[:j.outW*j.outH*3])
		return
	}
	rowLen := j.outW * 3
	tp := tmpPool.Get().(*[]int32)
	defer tmpPool.Put(tp)
	need := (y1 - y0) * rowLen
	if cap(*tp) < need {
		*tp = make([]int32, need)
	}
	tmp := (*tp)[:need]
	minX := src.Rect.Min.X
	if useSIMD {
		wv, off := pairWeights(cx)
		for y := y0; y < y1; y += 2 {
			out := tmp[(y-y0)*rowLen:]
			row := src.Pix[(y-src.Rect.Min.Y)*src.Stride:]
			if y+1 < y1 {
				horizontalSIMD(out, out[rowLen:], row, src.Stride, minX, cx, wv, off)
			} else { // the last row alone
				horizontalSIMD(out, out, row, 0, minX, cx, wv, off)
			}
		}
		verticalSIMD(dst, tmp, y0, rowLen, cy)
		return
	}
	for y := y0; y < y1; y++ {
		horizontalRow(tmp[(y-y0)*rowLen:(y-y0+1)*rowLen], src.Pix[(y-src.Rect.Min.Y)*src.Stride:], minX, cx)
	}
	verticalPass(dst, tmp, y0, rowLen, cy)
}

// horizontalRow is the scalar horizontal pass for one source row: out gets
// the 8-bit r, g, b of each output column.
func horizontalRow(out []int32, row []byte, minX int, cx axisCoeffs) {
	for x, n := range cx.n {
		var p []byte
		if n > 0 {
			p = row[(cx.start[x]-minX)*4:]
		}
		horizontalPixel(out[3*x:3*x+3], p, cx.w[x*cx.ksize:x*cx.ksize+n])
	}
}

// horizontalPixel writes to o the 8-bit r, g, b of one output pixel whose
// taps, weighted by k, are the RGBA pixels starting at p.
func horizontalPixel(o []int32, p []byte, k []int32) {
	r, g, b := int32(roundHalf), int32(roundHalf), int32(roundHalf)
	p = p[:4*len(k)]
	for t, w := range k {
		q := p[4*t : 4*t+3]
		r += int32(q[0]) * w
		g += int32(q[1]) * w
		b += int32(q[2]) * w
	}
	o[0], o[1], o[2] = clip8(r), clip8(g), clip8(b)
}

// verticalPass combines rows of tmp (row y of the source at tmp[(y-y0)*rowLen])
// into dst rows using the vertical coefficients.
func verticalPass(dst []float32, tmp []int32, y0, rowLen int, cy axisCoeffs) {
	for y := range cy.start {
		out := dst[y*rowLen : (y+1)*rowLen]
		n := cy.n[y]
		if n == 0 {
			clear(out)
			continue
		}
		k := cy.w[y*cy.ksize : y*cy.ksize+n]
		rows := tmp[(cy.start[y]-y0)*rowLen:]
		for i := range out {
			s := int32(roundHalf)
			for t, w := range k {
				s += rows[t*rowLen+i] * w
			}
			out[i] = float32(clip8(s))
		}
	}
}
