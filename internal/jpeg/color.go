package jpeg

import "image"

// Upsampling methods, chosen as libjpeg-turbo 2.1's jinit_upsampler does.
const (
	upFull = iota // no subsampling
	upH2V1        // fancy (triangle) horizontal 2:1
	upH1V2        // fancy vertical 1:2
	upH2V2        // fancy 2:1 both ways
	upBox         // replicate (integer ratios, and 2:1 of components at most 2 samples wide)
)

func (d *decoder) upMethod(c *component) int {
	rh, rv := d.maxH/c.h, d.maxV/c.v
	switch {
	case rh == 1 && rv == 1:
		return upFull
	case rh == 2 && rv == 1 && c.dsW > 2:
		return upH2V1
	case rh == 1 && rv == 2:
		return upH1V2
	case rh == 2 && rv == 2 && c.dsW > 2:
		return upH2V2
	}
	return upBox
}

// Fixed-point YCbCr→RGB tables of jdcolor.c (16 fractional bits).
var crR, cbB, crG, cbG [256]int32

func init() {
	fix := func(x float64) int32 { return int32(x*(1<<16) + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + 1<<15) >> 16
		cbB[i] = (fix(1.77200)*x + 1<<15) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + 1<<15
	}
}

func clamp8(v int32) uint8 {
	if uint32(v) <= 255 {
		return uint8(v)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// mul255 is round(a*b/255) for a, b in [0,255] (Pillow's MULDIV255).
func mul255(a, b uint32) uint8 {
	t := a*b + 128
	return uint8(((t >> 8) + t) >> 8)
}

// output upsamples and colour-converts the region dst.Rect into dst.
func (d *decoder) output(dst *image.RGBA) {
	r := dst.Rect
	w := r.Dx()
	var rows, bufs [4][]uint8
	var methods [4]int
	for i := 0; i < d.ncomp; i++ {
		methods[i] = d.upMethod(&d.comps[i])
		if cap(d.rowBufs[i]) < w+vecSlack {
			d.rowBufs[i] = make([]uint8, w+vecSlack)
		}
		bufs[i] = d.rowBufs[i][:w]
	}
	cs := d.colorSpace()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for i := 0; i < d.ncomp; i++ {
			rows[i] = d.compRow(&d.comps[i], methods[i], y, r.Min.X, bufs[i])
		}
		out := dst.Pix[(y-r.Min.Y)*dst.Stride : (y-r.Min.Y)*dst.Stride+4*w]
		convertRow(cs, &rows, out)
	}
}

// vecSlack is the spare capacity after sample rows, for 16-byte loads.
const vecSlack = 16

// compRow returns the upsampled samples of component c for image row y,
// columns x0 to x0+len(out): a slice of the plane for a full-size
// component, else out, filled. Both have vecSlack bytes of capacity after.
func (d *decoder) compRow(c *component, method, y, x0 int, out []uint8) []uint8 {
	stride := 8 * c.bw
	rh, rv := d.maxH/c.h, d.maxV/c.v
	cy := y / rv
	near := c.plane[cy*stride : cy*stride+c.dsW]
	if method == upFull {
		return c.plane[cy*stride+x0 : cy*stride+x0+len(out)]
	}
	d.upsampleRow(c, method, cy, near, y, x0, rh, out)
	return out
}

func (d *decoder) upsampleRow(c *component, method, cy int, near []uint8, y, x0, rh int, out []uint8) {
	stride := 8 * c.bw
	switch method {
	case upBox:
		for i := range out {
			out[i] = near[(x0+i)/rh]
		}
	case upH2V1:
		fancyH(out, x0, near, c.dsW, &d.sums)
	case upH1V2, upH2V2:
		fy, bias := cy-1, int32(1)
		if y%2 == 1 {
			fy, bias = cy+1, 2
		}
		fy = min(max(fy, 0), c.dsH-1)
		far := c.plane[fy*stride : fy*stride+c.dsW]
		if method == upH1V2 {
			far, near := far[x0:x0+len(out)], near[x0:x0+len(out)]
			for i := range out {
				out[i] = uint8((3*int32(near[i]) + int32(far[i]) + bias) >> 2)
			}
			return
		}
		fancyHV(out, x0, near, far, &d.sums)
	}
}

// fancyH is h2v1_fancy_upsample for output columns x0..x0+len(out)-1:
// 3/4 of the nearer sample plus 1/4 of the further one, the edge samples
// standing in for their missing neighbours.
func fancyH(out []uint8, x0 int, in []uint8, w int, buf *[]int16) {
	s := edgeExtended(x0/2, (x0+len(out)-1)/2+2, w, buf, in, nil)
	fancyPairs(out, x0, s, 1, 2, 2)
}

// fancyHV is h2v2_fancy_upsample for one output row: column sums
// 3*nearer row + further row, then 3/4-1/4 horizontally, in 1/16 units.
func fancyHV(out []uint8, x0 int, near, far []uint8, buf *[]int16) {
	s := edgeExtended(x0/2, (x0+len(out)-1)/2+2, len(near), buf, near, far)
	fancyPairs(out, x0, s, 8, 7, 4)
}

// fancyPairs writes out[i] for x = x0+i from s (s[j] is column x/2-x0/2-1+j):
// (3*s[cx] + s[cx-1] + even) >> shift for even x, with s[cx+1] and odd
// for odd x.
func fancyPairs(out []uint8, x0 int, s []int16, even, odd int16, shift uint) {
	i, j := 0, 1
	if x0&1 == 1 && len(out) > 0 {
		out[0] = uint8((3*int32(s[1]) + int32(s[2]) + int32(odd)) >> shift)
		i, j = 1, 2
	}
	if useSIMD {
		n := fancyPairsSIMD(out[i:], s[j-1:], even, odd, shift)
		i, j = i+2*n, j+n
	}
	for ; i+1 < len(out); i, j = i+2, j+1 {
		v := 3 * int32(s[j])
		out[i] = uint8((v + int32(s[j-1]) + int32(even)) >> shift)
		out[i+1] = uint8((v + int32(s[j+1]) + int32(odd)) >> shift)
	}
	if i < len(out) {
		out[i] = uint8((3*int32(s[j]) + int32(s[j-1]) + int32(even)) >> shift)
	}
}

// edgeExtended returns, for cx = lo-1 .. hi-1 clamped to [0, w-1],
// near[cx] (far nil) or 3*near[cx]+far[cx], in a reused buffer.
func edgeExtended(lo, hi, w int, buf *[]int16, near, far []uint8) []int16 {
	n := hi - lo + 1
	if cap(*buf) < n {
		*buf = make([]int16, n)
	}
	s := (*buf)[:n]
	at := func(cx int) int16 {
		if far == nil {
			return int16(near[cx])
		}
		return 3*int16(near[cx]) + int16(far[cx])
	}
	s[0] = at(max(lo-1, 0))
	end := min(hi, w)
	inner := s[1 : 1+max(end-lo, 0)]
	if far == nil {
		for k, v := range near[lo:end] {
			inner[k] = int16(v)
		}
	} else {
		k := 0
		if useSIMD {
			k = columnSumsSIMD(inner, near[lo:end], far[lo:end])
		}
		f := far[lo:end]
		for ; k < len(inner); k++ {
			inner[k] = 3*int16(near[lo+k]) + int16(f[k])
		}
	}
	for i := 1 + len(inner); i < n; i++ {
		s[i] = at(w - 1)
	}
	return s
}

// convertRow converts one row of full-resolution component samples to RGBA.
// CMYK is stored Adobe-inverted; Pillow's conversion of it to RGB reduces
// to round(C*K/255) on the stored values.
func convertRow(cs ColorSpace, rows *[4][]uint8, out []uint8) {
	switch cs {
	case Gray:
		for i, v := range rows[0] {
			out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = v, v, v, 255
		}
	case RGB:
		for i := range rows[0] {
			out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = rows[0][i], rows[1][i], rows[2][i], 255
		}
	case YCbCr:
		yy, cb, cr := rows[0], rows[1], rows[2]
		if useSIMD {
			n := yccToRGBA(yy, cb, cr, out)
			yy, cb, cr, out = yy[n:], cb[n:], cr[n:], out[4*n:]
		}
		yccToRGBAScalar(yy, cb, cr, out)
	case CMYK:
		c, m, ye, k := rows[0], rows[1], rows[2], rows[3]
		for i := range c {
			kk := uint32(k[i])
			out[4*i] = mul255(uint32(c[i]), kk)
			out[4*i+1] = mul255(uint32(m[i]), kk)
			out[4*i+2] = mul255(uint32(ye[i]), kk)
			out[4*i+3] = 255
		}
	case YCCK:
		yy, cb, cr, k := rows[0], rows[1], rows[2], rows[3]
		for i := range yy {
			y, kk := int32(yy[i]), uint32(k[i])
			c := clamp8(255 - (y + crR[cr[i]]))
			m := clamp8(255 - (y + (cbG[cb[i]]+crG[cr[i]])>>16))
			ye := clamp8(255 - (y + cbB[cb[i]]))
			out[4*i] = mul255(uint32(c), kk)
			out[4*i+1] = mul255(uint32(m), kk)
			out[4*i+2] = mul255(uint32(ye), kk)
			out[4*i+3] = 255
		}
	}
}

// yccToRGBAScalar converts with jdcolor.c's tables.
func yccToRGBAScalar(yy, cb, cr []uint8, out []uint8) {
	cb, cr = cb[:len(yy)], cr[:len(yy)]
	out = out[:4*len(yy)]
	for i := range yy {
		y := int32(yy[i])
		b, r := cb[i], cr[i]
		o := out[4*i : 4*i+4 : 4*i+4]
		o[0] = clamp8(y + crR[r])
		o[1] = clamp8(y + (cbG[b]+crG[r])>>16)
		o[2] = clamp8(y + cbB[b])
		o[3] = 255
	}
}
