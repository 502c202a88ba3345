package dataset

import (
	"math"
	"strconv"
)

// The operations of TrivialAugmentWide and RandAugment, written as
// torchvision 0.14's _apply_op runs them on an RGB PIL image with Pillow 9.4:
// the geometric ones through F.affine / F.rotate (Image.transform with
// NEAREST and fill 0, Pillow's 16.16 fixed-point affine loop, Image.rotate's
// transposes for right angles), the colour ones through ImageEnhance (blends
// in float32, truncated) and ImageOps (lookup tables). Each equals Pillow's
// pixels exactly (TestAutoAugmentOpsMatchPillow). Expressions that Python or C
// round step by step are written with explicit conversions so that Go never
// fuses them.

// pixels is a packed 8-bit RGB image, 3 bytes a pixel, row after row.
type pixels struct {
	pix  []uint8
	w, h int
}

// Python's math.radians and math.degrees factors.
const (
	degToRad = math.Pi / 180
	radToDeg = 180 / math.Pi
)

// applyOp runs op with magnitude mag on img. It returns true when the result
// is in tmp (the geometric operations and Sharpness), false when img was
// changed in place. cols is scratch of img.w ints.
func applyOp(op autoOp, mag float64, img, tmp pixels, cols []int) bool {
	switch op {
	case opShearX:
		sh := math.Atan(mag) * radToDeg
		affineNearest(tmp, img, inverseAffine(0, 0, 0, 0, sh, 0), cols)
	case opShearY:
		sh := math.Atan(mag) * radToDeg
		affineNearest(tmp, img, inverseAffine(0, 0, 0, 0, 0, sh), cols)
	case opTranslateX:
		affineNearest(tmp, img, inverseAffine(float64(img.w)*0.5, float64(img.h)*0.5, float64(int(mag)), 0, 0, 0), cols)
	case opTranslateY:
		affineNearest(tmp, img, inverseAffine(float64(img.w)*0.5, float64(img.h)*0.5, 0, float64(int(mag)), 0, 0), cols)
	case opRotate:
		rotatePIL(tmp, img, mag, cols)
	case opSharpness:
		sharpen(tmp, img, float32(1+mag))
	case opColor:
		blendGray(img, float32(1+mag))
		return false
	default:
		applyPointOp(op, mag, img)
		return false
	}
	return true
}

// applyPointOp applies an op that maps each channel value through a lookup table, in place.
func applyPointOp(op autoOp, mag float64, img pixels) {
	var lut [256]uint8
	switch op {
	case opBrightness:
		for v := range lut {
			lut[v] = blend8(0, uint8(v), float32(1+mag))
		}
	case opContrast:
		mean := grayMean(img)
		for v := range lut {
			lut[v] = blend8(mean, uint8(v), float32(1+mag))
		}
	case opPosterize:
		mask := ^uint8(1<<(8-int(mag)) - 1)
		for v := range lut {
			lut[v] = uint8(v) & mask
		}
	case opSolarize:
		for v := range lut {
			lut[v] = uint8(v)
			if float64(v) >= mag {
				lut[v] = 255 - uint8(v)
			}
		}
	case opAutoContrast:
		h := histograms(img)
		r, g, b := autoContrastLUT(&h[0]), autoContrastLUT(&h[1]), autoContrastLUT(&h[2])
		applyLUT(img, &r, &g, &b)
		return
	case opEqualize:
		h := histograms(img)
		r, g, b := equalizeLUT(&h[0]), equalizeLUT(&h[1]), equalizeLUT(&h[2])
		applyLUT(img, &r, &g, &b)
		return
	default: // opIdentity
		return
	}
	applyLUT(img, &lut, &lut, &lut)
}

// inverseAffine is torchvision's _get_inverse_affine_matrix for angle 0 and
// scale 1 (all _apply_op uses): centre (cx, cy), translation (tx, ty), shears
// in degrees. Pillow maps each output pixel through it to its source.
func inverseAffine(cx, cy, tx, ty, shx, shy float64) [6]float64 {
	rot := 0.0
	sx, sy := shx*degToRad, shy*degToRad
	a := math.Cos(rot-sy) / math.Cos(sy)
	b := float64(float64(-math.Cos(rot-sy)*math.Tan(sx))/math.Cos(sy)) - math.Sin(rot)
	c := math.Sin(rot-sy) / math.Cos(sy)
	d := float64(float64(-math.Sin(rot-sy)*math.Tan(sx))/math.Cos(sy)) + math.Cos(rot)
	m := [6]float64{d, -b, 0, -c, a, 0}
	m[2] += float64(m[0]*(-cx-tx)) + float64(m[1]*(-cy-ty))
	m[5] += float64(m[3]*(-cx-tx)) + float64(m[4]*(-cy-ty))
	m[2] += cx
	m[5] += cy
	return m
}

// rotatePIL is Image.rotate(angle, NEAREST, fillcolor=0) into dst: right
// angles (square images for 90 and 270) are exact transposes, anything else
// the affine transform of the rotation about the centre, its cosines and
// sines rounded to 15 decimals as Pillow does.
func rotatePIL(dst, src pixels, angle float64, cols []int) {
	angle = pyMod(angle, 360)
	w, h := src.w, src.h
	switch {
	case angle == 0:
		copy(dst.pix, src.pix)
		return
	case angle == 180:
		transpose(dst, src, func(x, y int) (int, int) { return w - 1 - x, h - 1 - y })
		return
	case angle == 90 && w == h:
		transpose(dst, src, func(x, y int) (int, int) { return y, w - 1 - x })
		return
	case angle == 270 && w == h:
		transpose(dst, src, func(x, y int) (int, int) { return h - 1 - y, x })
		return
	}
	rad := -(angle * degToRad)
	cos, sin := round15(math.Cos(rad)), round15(math.Sin(rad))
	m := [6]float64{cos, sin, 0, round15(-math.Sin(rad)), cos, 0}
	cx, cy := float64(w)/2, float64(h)/2
	m[2] = float64(m[0]*-cx) + float64(m[1]*-cy) + 0
	m[5] = float64(m[3]*-cx) + float64(m[4]*-cy) + 0
	m[2] += cx
	m[5] += cy
	affineNearest(dst, src, m, cols)
}

// transpose writes dst[y'][x'] = src[y][x] with (x', y') = to(x, y).
func transpose(dst, src pixels, to func(x, y int) (int, int)) {
	for y := 0; y < src.h; y++ {
		for x := 0; x < src.w; x++ {
			tx, ty := to(x, y)
			copyPixel(dst, tx, ty, src, x, y)
		}
	}
}

// pyMod is Python's float modulo (the result has the sign of m).
func pyMod(x, m float64) float64 {
	r := math.Mod(x, m)
	if r == 0 {
		return math.Copysign(0, m)
	}
	if (r < 0) != (m < 0) {
		r += m
	}
	return r
}

// round15 is Python's round(x, 15): the decimal rounding of x's exact value,
// half to even.
func round15(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 15, 64), 64)
	return v
}

// affineNearest is Pillow's ImagingTransformAffine with NEAREST into dst (same
// size as src), pixels from outside the source 0: the scaling loop when the
// matrix has no rotation or shear terms, else the 16.16 fixed-point loop, or
// the floating-point one for images too large for fixed point.
func affineNearest(dst, src pixels, a [6]float64, cols []int) {
	clear(dst.pix)
	switch {
	case a[1] == 0 && a[3] == 0:
		scaleAffine(dst, src, a, cols)
	case fitsFixed(a, 0, 0) && fitsFixed(a, dst.w, dst.h) && fitsFixed(a, 0, dst.h) && fitsFixed(a, dst.w, 0):
		affineFixed(dst, src, a)
	default:
		affineFloat(dst, src, a)
	}
}

// pilCoord is Pillow's COORD: -1 for negative values, else truncation.
func pilCoord(v float64) int {
	if v < 0 {
		return -1
	}
	return int(v)
}

func copyPixel(dst pixels, x, y int, src pixels, sx, sy int) {
	d, s := (y*dst.w+x)*3, (sy*src.w+sx)*3
	dst.pix[d], dst.pix[d+1], dst.pix[d+2] = src.pix[s], src.pix[s+1], src.pix[s+2]
}

// scaleAffine is Pillow's ImagingScaleAffine.
func scaleAffine(dst, src pixels, a [6]float64, cols []int) {
	xo := a[2] + float64(a[0]*0.5)
	yo := a[5] + float64(a[4]*0.5)
	xmin, xmax := dst.w, 0
	clear(cols)
	for x := 0; x < dst.w; x++ {
		if xin := pilCoord(xo); xin >= 0 && xin < src.w {
			xmax = x + 1
			xmin = min(xmin, x)
			cols[x] = xin
		}
		xo += a[0]
	}
	for y := 0; y < dst.h; y++ {
		if yi := pilCoord(yo); yi >= 0 && yi < src.h {
			for x := xmin; x < xmax; x++ {
				copyPixel(dst, x, y, src, cols[x], yi)
			}
		}
		yo += a[4]
	}
}

// fitsFixed is Pillow's check_fixed: corner (x, y) maps inside +-32768.
func fitsFixed(a [6]float64, x, y int) bool {
	fx, fy := float64(x), float64(y)
	return math.Abs(float64(fx*a[0])+float64(fy*a[1])+a[2]) < 32768 &&
		math.Abs(float64(fx*a[3])+float64(fy*a[4])+a[5]) < 32768
}

// affineFixed is Pillow's affine_fixed: source coordinates in 16.16 fixed
// point, stepped by the matrix's rounded coefficients.
func affineFixed(dst, src pixels, a [6]float64) {
	fix := func(v float64) int32 { return int32(math.Floor(float64(v*65536) + 0.5)) }
	a0, a1, a3, a4 := fix(a[0]), fix(a[1]), fix(a[3]), fix(a[4])
	a2 := fix(a[2] + float64(a[0]*0.5) + float64(a[1]*0.5))
	a5 := fix(a[5] + float64(a[3]*0.5) + float64(a[4]*0.5))
	for y := 0; y < dst.h; y++ {
		xx, yy := a2, a5
		for x := 0; x < dst.w; x++ {
			if xin := int(xx >> 16); xin >= 0 && xin < src.w {
				if yin := int(yy >> 16); yin >= 0 && yin < src.h {
					copyPixel(dst, x, y, src, xin, yin)
				}
			}
			xx += a0
			yy += a3
		}
		a2 += a1
		a5 += a4
	}
}

// affineFloat is Pillow's floating-point affine loop (ImagingTransformAffine
// when fixed point would overflow).
func affineFloat(dst, src pixels, a [6]float64) {
	xo := a[2] + float64(a[1]*0.5) + float64(a[0]*0.5)
	yo := a[5] + float64(a[4]*0.5) + float64(a[3]*0.5)
	for y := 0; y < dst.h; y++ {
		xx, yy := xo, yo
		for x := 0; x < dst.w; x++ {
			if xin := pilCoord(xx); xin >= 0 && xin < src.w {
				if yin := pilCoord(yy); yin >= 0 && yin < src.h {
					copyPixel(dst, x, y, src, xin, yin)
				}
			}
			xx += a[0]
			yy += a[3]
		}
		xo += a[1]
		yo += a[4]
	}
}

// blend8 is Pillow's ImagingBlend of one value: in1 + alpha*(in2-in1) in
// float32, truncated, clipped to [0,255] (which only extrapolation needs).
func blend8(in1, in2 uint8, alpha float32) uint8 {
	v := float32(in1) + float32(alpha*float32(int(in2)-int(in1)))
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v)
}

// luma is Pillow's RGB to "L" conversion (ITU-R 601-2 in 16-bit fixed point).
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// blendGray is ImageEnhance.Color: each pixel blended with its grey.
func blendGray(img pixels, alpha float32) {
	p := img.pix
	for i := 0; i+2 < len(p); i += 3 {
		g := luma(p[i], p[i+1], p[i+2])
		p[i], p[i+1], p[i+2] = blend8(g, p[i], alpha), blend8(g, p[i+1], alpha), blend8(g, p[i+2], alpha)
	}
}

// grayMean is ImageEnhance.Contrast's degenerate level:
// int(ImageStat.Stat(img.convert("L")).mean[0] + 0.5).
func grayMean(img pixels) uint8 {
	var sum uint64
	p := img.pix
	for i := 0; i+2 < len(p); i += 3 {
		sum += uint64(luma(p[i], p[i+1], p[i+2]))
	}
	return uint8(float64(sum)/float64(len(p)/3) + 0.5)
}

// sharpen is ImageEnhance.Sharpness into dst: each value blended with
// Pillow's ImageFilter.SMOOTH of the image (3x3 kernel 1 1 1 / 1 5 1 / 1 1 1,
// divisor 13, float32 sums with a 0.5 rounding offset, truncated). The
// filter leaves the border rows and columns (and images under 3x3) as they
// are, and a value blended with itself is unchanged, so those are copied.
func sharpen(dst, src pixels, alpha float32) {
	copy(dst.pix, src.pix)
	w, h := src.w, src.h
	if w < 3 || h < 3 {
		return
	}
	// The products v*(1/13) and v*(5/13), rounded to float32 as Pillow's
	// kernel computes them, for every 8-bit v.
	var p1, p5 [256]float32
	k1, k5 := float32(1.0/13.0), float32(5.0/13.0)
	for v := range p1 {
		p1[v], p5[v] = float32(v)*k1, float32(v)*k5
	}
	stride := w * 3
	for y := 1; y < h-1; y++ {
		up, mid, down := src.pix[(y-1)*stride:y*stride], src.pix[y*stride:(y+1)*stride], src.pix[(y+1)*stride:(y+2)*stride]
		out := dst.pix[y*stride : (y+1)*stride]
		for i := 3; i < stride-3; i++ {
			ss := float32(0.5) // Pillow sums the row below first
			ss += p1[down[i-3]] + p1[down[i]] + p1[down[i+3]]
			ss += p1[mid[i-3]] + p5[mid[i]] + p1[mid[i+3]]
			ss += p1[up[i-3]] + p1[up[i]] + p1[up[i+3]]
			smooth := uint8(255) // ss >= 0.5: only the top needs clipping
			if ss < 255 {
				smooth = uint8(ss)
			}
			out[i] = blend8(smooth, mid[i], alpha)
		}
	}
}

// histograms counts each channel's values.
func histograms(img pixels) (h [3][256]int) {
	p := img.pix
	for i := 0; i+2 < len(p); i += 3 {
		h[0][p[i]]++
		h[1][p[i+1]]++
		h[2][p[i+2]]++
	}
	return h
}

// applyLUT maps each channel through its table.
func applyLUT(img pixels, r, g, b *[256]uint8) {
	p := img.pix
	for i := 0; i+2 < len(p); i += 3 {
		p[i], p[i+1], p[i+2] = r[p[i]], g[p[i+1]], b[p[i+2]]
	}
}

func identityLUT() (lut [256]uint8) {
	for i := range lut {
		lut[i] = uint8(i)
	}
	return lut
}

// autoContrastLUT is ImageOps.autocontrast's table for one channel (cutoff 0):
// the lowest and highest values present stretched to 0 and 255.
func autoContrastLUT(h *[256]int) (lut [256]uint8) {
	lo, hi := 0, 255
	for lo < 255 && h[lo] == 0 {
		lo++
	}
	for hi > 0 && h[hi] == 0 {
		hi--
	}
	if hi <= lo {
		return identityLUT()
	}
	scale := 255.0 / float64(hi-lo)
	offset := float64(-lo) * scale
	for i := range lut {
		lut[i] = uint8(min(max(int(float64(float64(i)*scale)+offset), 0), 255))
	}
	return lut
}

// equalizeLUT is ImageOps.equalize's table for one channel.
func equalizeLUT(h *[256]int) (lut [256]uint8) {
	total, last, used := 0, 0, 0
	for _, c := range h {
		if c != 0 {
			total += c
			last = c
			used++
		}
	}
	step := (total - last) / 255
	if used <= 1 || step == 0 {
		return identityLUT()
	}
	n := step / 2
	for i := range lut {
		lut[i] = uint8(min(n/step, 255)) // Image.point clips the table to 8 bits
		n += h[i]
	}
	return lut
}
