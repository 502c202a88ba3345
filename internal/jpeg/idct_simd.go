//go:build goexperiment.simd && amd64

package jpeg

import (
	"encoding/binary"
	"simd/archsimd"
)

// useSIMD selects the AVX2 inverse DCT (GOEXPERIMENT=simd on amd64,
// decided at start-up from the CPU).
var useSIMD = archsimd.X86.AVX2()

type vec = archsimd.Int32x8

// idctBlockSIMD is idctBlock with AVX2: the column pass works on the eight
// columns at once, the row pass on the eight rows at once after a
// transpose. The arithmetic is the same 32-bit integer arithmetic, so the
// samples are identical. It is one function, with both passes in one loop,
// so that the eight vectors stay in registers: Go does not inline a
// butterfly helper this size, and passing it the vectors through memory
// made the transform more than twice as slow.
func idctBlockSIMD(in *[64]int16, q *[64]int32, out []uint8, stride int) {
	ld := func(r int) vec {
		return archsimd.LoadInt16x8((*[8]int16)(in[8*r:])).ExtendToInt32().Mul(archsimd.LoadInt32x8((*[8]int32)(q[8*r:])))
	}
	x0, x1, x2, x3, x4, x5, x6, x7 := ld(0), ld(1), ld(2), ld(3), ld(4), ld(5), ld(6), ld(7)
	k := archsimd.BroadcastInt32x8
	round := int32(1 << (constBits - pass1Bits - 1))
	for pass := 0; ; pass++ {
		// butterfly on eight lanes at once.
		z1 := x2.Add(x6).Mul(k(fix0_541196100))
		t2 := z1.Sub(x6.Mul(k(fix1_847759065)))
		t3 := z1.Add(x2.Mul(k(fix0_765366865)))
		rnd := k(round)
		t0 := x0.Add(x4).ShiftAllLeft(constBits).Add(rnd)
		t1 := x0.Sub(x4).ShiftAllLeft(constBits).Add(rnd)
		t10, t13 := t0.Add(t3), t0.Sub(t3)
		t11, t12 := t1.Add(t2), t1.Sub(t2)
		o0, o1, o2, o3 := x7, x5, x3, x1
		y1, y2, y3, y4 := o0.Add(o3), o1.Add(o2), o0.Add(o2), o1.Add(o3)
		z5 := y3.Add(y4).Mul(k(fix1_175875602))
		o0 = o0.Mul(k(fix0_298631336))
		o1 = o1.Mul(k(fix2_053119869))
		o2 = o2.Mul(k(fix3_072711026))
		o3 = o3.Mul(k(fix1_501321110))
		y1 = y1.Mul(k(-fix0_899976223))
		y2 = y2.Mul(k(-fix2_562915447))
		y3 = y3.Mul(k(-fix1_961570560)).Add(z5)
		y4 = y4.Mul(k(-fix0_390180644)).Add(z5)
		o0 = o0.Add(y1.Add(y3))
		o1 = o1.Add(y2.Add(y4))
		o2 = o2.Add(y2.Add(y3))
		o3 = o3.Add(y1.Add(y4))
		x0, x1, x2, x3 = t10.Add(o3), t11.Add(o2), t12.Add(o1), t13.Add(o0)
		x4, x5, x6, x7 = t13.Sub(o0), t12.Sub(o1), t11.Sub(o2), t10.Sub(o3)
		if pass == 1 {
			break
		}
		const s = constBits - pass1Bits
		x0, x1, x2, x3 = x0.ShiftAllRight(s), x1.ShiftAllRight(s), x2.ShiftAllRight(s), x3.ShiftAllRight(s)
		x4, x5, x6, x7 = x4.ShiftAllRight(s), x5.ShiftAllRight(s), x6.ShiftAllRight(s), x7.ShiftAllRight(s)
		x0, x1, x2, x3, x4, x5, x6, x7 = transposeVals(x0, x1, x2, x3, x4, x5, x6, x7)
		round = 1 << (constBits + pass1Bits + 3 - 1)
	}
	// x0..x7 now hold columns 0..7 (lane r: row r). As idctLimit: the low
	// 10 bits of the descaled value, read as signed, plus 128, clamped.
	off, mask, bias, lo, hi := k(512), k(1023), k(128-512), k(0), k(255)
	lim := func(v vec) vec {
		return v.ShiftAllRight(constBits + pass1Bits + 3).Add(off).And(mask).Add(bias).Max(lo).Min(hi)
	}
	// Lane r of left holds the bytes of row r, columns 0-3; right 4-7.
	left := lim(x0).Or(lim(x1).ShiftAllLeft(8)).Or(lim(x2).ShiftAllLeft(16)).Or(lim(x3).ShiftAllLeft(24))
	right := lim(x4).Or(lim(x5).ShiftAllLeft(8)).Or(lim(x6).ShiftAllLeft(16)).Or(lim(x7).ShiftAllLeft(24))
	a := left.InterleaveLoGrouped(right).AsUint64x4() // rows 0, 1 | 4, 5
	b := left.InterleaveHiGrouped(right).AsUint64x4() // rows 2, 3 | 6, 7
	al, ah, bl, bh := a.GetLo(), a.GetHi(), b.GetLo(), b.GetHi()
	_ = out[7*stride+7]
	binary.LittleEndian.PutUint64(out[0:], al.GetElem(0))
	binary.LittleEndian.PutUint64(out[stride:], al.GetElem(1))
	binary.LittleEndian.PutUint64(out[2*stride:], bl.GetElem(0))
	binary.LittleEndian.PutUint64(out[3*stride:], bl.GetElem(1))
	binary.LittleEndian.PutUint64(out[4*stride:], ah.GetElem(0))
	binary.LittleEndian.PutUint64(out[5*stride:], ah.GetElem(1))
	binary.LittleEndian.PutUint64(out[6*stride:], bh.GetElem(0))
	binary.LittleEndian.PutUint64(out[7*stride:], bh.GetElem(1))
}

// transposeVals transposes an 8x8 matrix given as eight row vectors.
func transposeVals(v0, v1, v2, v3, v4, v5, v6, v7 vec) (vec, vec, vec, vec, vec, vec, vec, vec) {
	lo64 := func(a, b vec) vec { return a.AsInt64x4().InterleaveLoGrouped(b.AsInt64x4()).AsInt32x8() }
	hi64 := func(a, b vec) vec { return a.AsInt64x4().InterleaveHiGrouped(b.AsInt64x4()).AsInt32x8() }
	a0, a1 := v0.InterleaveLoGrouped(v1), v0.InterleaveHiGrouped(v1)
	a2, a3 := v2.InterleaveLoGrouped(v3), v2.InterleaveHiGrouped(v3)
	a4, a5 := v4.InterleaveLoGrouped(v5), v4.InterleaveHiGrouped(v5)
	a6, a7 := v6.InterleaveLoGrouped(v7), v6.InterleaveHiGrouped(v7)
	b0, b1 := lo64(a0, a2), hi64(a0, a2)
	b2, b3 := lo64(a1, a3), hi64(a1, a3)
	b4, b5 := lo64(a4, a6), hi64(a4, a6)
	b6, b7 := lo64(a5, a7), hi64(a5, a7)
	return b0.Select128FromPair(0, 2, b4), b1.Select128FromPair(0, 2, b5),
		b2.Select128FromPair(0, 2, b6), b3.Select128FromPair(0, 2, b7),
		b0.Select128FromPair(1, 3, b4), b1.Select128FromPair(1, 3, b5),
		b2.Select128FromPair(1, 3, b6), b3.Select128FromPair(1, 3, b7)
}

// yccToRGBA converts 16 pixels at a time with jdcolor.c's fixed-point
// formulas, in 16-bit lanes, writing opaque RGBA; it returns how many pixels
// it did.
//
// jdcolor.c computes (c*x + 2^15) >> 16 in 32 bits for x = cb-128 or cr-128
// and c = round(k * 2^16). With c = m*2^16 + c' (c' fitting in int16) that
// is m*x + ((c'*x + 2^15) >> 16), and the last term is the high half of the
// 32-bit product c'*x plus one when its low half, read as signed, is
// negative (the low half is then at least 2^15): the same integers.
func yccToRGBA(yy, cb, cr []uint8, out []uint8) int {
	k := archsimd.BroadcastInt16x16
	c128, lo, hi := k(128), k(0), k(255)
	alpha := k(-256) // 0xFF00: B in the low byte, alpha in the high one
	roundHalf := func(x archsimd.Int16x16, c int16) archsimd.Int16x16 {
		kc := k(c)
		return x.MulHigh(kc).Sub(x.Mul(kc).ShiftAllRight(15))
	}
	// G's two products are summed before the shift: -22554*b - 46802*r =
	// -2^16*r + (-22554*b + 18734*r), the bracket by VPMADDWD on (b, r) pairs.
	gk := archsimd.BroadcastInt32x8(int32(uint16(18734))<<16 | int32(uint16(0xFFFF&-22554))).AsInt16x16()
	half := archsimd.BroadcastInt32x8(1 << 15)
	load := func(s []uint8) archsimd.Int16x16 {
		return archsimd.LoadUint8x16Slice(s).ExtendToUint16().AsInt16x16()
	}
	n := len(yy) &^ 15
	for i := 0; i < n; i += 16 {
		y := load(yy[i : i+16])
		b := load(cb[i : i+16]).Sub(c128)
		r := load(cr[i : i+16]).Sub(c128)
		rv := y.Add(r).Add(roundHalf(r, 26345)).Max(lo).Min(hi)         // 91881 = 2^16 + 26345
		bv := y.Add(b.Add(b)).Add(roundHalf(b, -14942)).Max(lo).Min(hi) // 116130 = 2*2^16 - 14942
		gl := b.InterleaveLoGrouped(r).DotProductPairs(gk).Add(half).ShiftAllRight(16)
		gh := b.InterleaveHiGrouped(r).DotProductPairs(gk).Add(half).ShiftAllRight(16)
		gv := y.Sub(r).Add(gl.SaturateToInt16ConcatGrouped(gh)).Max(lo).Min(hi)
		rg, ba := rv.Or(gv.ShiftAllLeft(8)), bv.Or(alpha)
		// Pixels 0-3 and 8-11, then 4-7 and 12-15.
		p0, p1 := rg.InterleaveLoGrouped(ba), rg.InterleaveHiGrouped(ba)
		p0.Select128FromPair(0, 2, p1).AsUint8x32().Store((*[32]uint8)(out[4*i:]))
		p0.Select128FromPair(1, 3, p1).AsUint8x32().Store((*[32]uint8)(out[4*i+32:]))
	}
	return n
}

// fancyPairsSIMD is fancyPairs' main loop, 16 pairs at a time: out[2i] =
// (3*s[i+1] + s[i] + even) >> shift and out[2i+1] = (3*s[i+1] + s[i+2] +
// odd) >> shift. It returns how many pairs it wrote. The sums are below
// 2^12, so 16-bit lanes hold them, and each result is a byte: one lane holds
// a pair, even in its low byte.
func fancyPairsSIMD(out []uint8, s []int16, even, odd int16, shift uint) int {
	ke, ko := archsimd.BroadcastInt16x16(even), archsimd.BroadcastInt16x16(odd)
	n := 0
	for ; 2*n+32 <= len(out) && n+18 <= len(s); n += 16 {
		l := archsimd.LoadInt16x16Slice(s[n : n+16])
		c := archsimd.LoadInt16x16Slice(s[n+1 : n+17])
		r := archsimd.LoadInt16x16Slice(s[n+2 : n+18])
		c3 := c.Add(c).Add(c)
		e := c3.Add(l).Add(ke).ShiftAllRight(uint64(shift))
		o := c3.Add(r).Add(ko).ShiftAllRight(uint64(shift))
		e.Or(o.ShiftAllLeft(8)).AsUint8x32().Store((*[32]uint8)(out[2*n:]))
	}
	return n
}

// columnSumsSIMD sets inner[k] = 3*near[k] + far[k], 16 at a time; it
// returns how many it did.
func columnSumsSIMD(inner []int16, near, far []uint8) int {
	n := 0
	for ; n+16 <= len(inner); n += 16 {
		a := archsimd.LoadUint8x16Slice(near[n : n+16]).ExtendToUint16().AsInt16x16()
		b := archsimd.LoadUint8x16Slice(far[n : n+16]).ExtendToUint16().AsInt16x16()
		a.Add(a).Add(a).Add(b).StoreSlice(inner[n : n+16])
	}
	return n
}
