package jpeg

import (
	"errors"
	"unsafe"
)

// Fixed-point constants of libjpeg's accurate integer IDCT (jidctint.c):
// round(x * 2^13).
const (
	constBits = 13
	pass1Bits = 2

	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

// idctLimit maps an IDCT output (before adding 128), masked to 10 bits, to a
// sample the way libjpeg's IDCT range-limit table does: clamped to [0,255]
// for outputs in [-512,511], wrapping beyond (only corrupt data gets there).
var idctLimit = func() (t [1024]uint8) {
	for i := range t {
		v := i
		if v >= 512 {
			v -= 1024
		}
		t[i] = uint8(min(max(v+128, 0), 255))
	}
	return t
}()

func (d *decoder) idctComponent(c *component) error {
	if !c.seen {
		return errors.New("a component has no scan")
	}
	for by := c.by0; by < c.by1; by++ {
		for bx := c.bx0; bx < c.bx1; bx++ {
			c.idct(c.block(bx, by), bx, by)
		}
	}
	return nil
}

// idct writes the samples of block (bx, by) from its coefficients b.
func (c *component) idct(b *[64]int16, bx, by int) {
	stride := 8 * c.bw
	out := c.plane[8*by*stride+8*bx:]
	switch {
	case onlyDC(b):
		fillDC(b[0], c.quant[0], out, stride)
	case useSIMD:
		idctBlockSIMD(b, &c.quant, out, stride)
	default:
		idctBlock(b, &c.quant, out, stride)
	}
}

// onlyDC reports whether all AC coefficients of b are zero.
func onlyDC(b *[64]int16) bool {
	w := (*[16]uint64)(unsafe.Pointer(b))
	acc := w[0] &^ 0xFFFF // the DC coefficient is the first (little-endian) int16
	for _, x := range w[1:] {
		acc |= x
	}
	return acc == 0
}

// fillDC writes the inverse DCT of a block with only a DC coefficient: both
// passes take jidctint.c's zero-AC shortcut, giving one value.
func fillDC(dc int16, q int32, out []uint8, stride int) {
	w := int32(dc) * q << pass1Bits
	v := idctLimit[((w+1<<(pass1Bits+2))>>(pass1Bits+3))&1023]
	_ = out[7*stride+7]
	for r := range 8 {
		row := (*[8]uint8)(out[r*stride:])
		*row = [8]uint8{v, v, v, v, v, v, v, v}
	}
}

// idctBlock is the inverse DCT of one dequantised block: columns into a
// workspace scaled by 2^pass1Bits, then rows to samples.
func idctBlock(in *[64]int16, q *[64]int32, out []uint8, stride int) {
	var ws [64]int32
	for col := 0; col < 8; col++ {
		idctColumn(in, q, &ws, col)
	}
	_ = out[7*stride+7]
	for row := 0; row < 8; row++ {
		idctRow((*[8]int32)(ws[8*row:8*row+8]), (*[8]uint8)(out[row*stride:row*stride+8]))
	}
}

func idctColumn(in *[64]int16, q *[64]int32, ws *[64]int32, col int) {
	if in[8+col]|in[16+col]|in[24+col]|in[32+col]|in[40+col]|in[48+col]|in[56+col] == 0 {
		dc := int32(in[col]) * q[col] << pass1Bits
		for r := 0; r < 8; r++ {
			ws[8*r+col] = dc
		}
		return
	}
	var x [8]int32
	for r := 0; r < 8; r++ {
		x[r] = int32(in[8*r+col]) * q[8*r+col]
	}
	const round = 1 << (constBits - pass1Bits - 1)
	o := butterfly(x, round)
	for r := 0; r < 8; r++ {
		ws[8*r+col] = o[r] >> (constBits - pass1Bits)
	}
}

func idctRow(w *[8]int32, out *[8]uint8) {
	const shift = constBits + pass1Bits + 3
	if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
		v := idctLimit[((w[0]+1<<(pass1Bits+2))>>(pass1Bits+3))&1023]
		for i := range out {
			out[i] = v
		}
		return
	}
	o := butterfly(*w, 1<<(shift-1))
	for i := range out {
		out[i] = idctLimit[(o[i]>>shift)&1023]
	}
}

// butterfly is the 1-D IDCT of jidctint.c (Loeffler, Ligtenberg and
// Moschytz with 12 multiplies), inputs in natural order, outputs scaled by
// 2^constBits with round already added.
func butterfly(x [8]int32, round int32) [8]int32 {
	// Even part.
	z1 := (x[2] + x[6]) * fix0_541196100
	t2 := z1 - x[6]*fix1_847759065
	t3 := z1 + x[2]*fix0_765366865
	t0 := (x[0]+x[4])<<constBits + round
	t1 := (x[0]-x[4])<<constBits + round
	t10, t13 := t0+t3, t0-t3
	t11, t12 := t1+t2, t1-t2

	// Odd part.
	o0, o1, o2, o3 := x[7], x[5], x[3], x[1]
	y1, y2, y3, y4 := o0+o3, o1+o2, o0+o2, o1+o3
	z5 := (y3 + y4) * fix1_175875602
	o0 *= fix0_298631336
	o1 *= fix2_053119869
	o2 *= fix3_072711026
	o3 *= fix1_501321110
	y1 *= -fix0_899976223
	y2 *= -fix2_562915447
	y3 = y3*-fix1_961570560 + z5
	y4 = y4*-fix0_390180644 + z5
	o0 += y1 + y3
	o1 += y2 + y4
	o2 += y2 + y3
	o3 += y1 + y4

	return [8]int32{t10 + o3, t11 + o2, t12 + o1, t13 + o0, t13 - o0, t12 - o1, t11 - o2, t10 - o3}
}
