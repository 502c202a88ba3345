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
// samples are identical.
func idctBlockSIMD(in *[64]int16, q *[64]int32, out []uint8, stride int) {
	var x [8]vec
	for r := range 8 {
		x[r] = archsimd.LoadInt16x8((*[8]int16)(in[8*r:])).ExtendToInt32().Mul(archsimd.LoadInt32x8((*[8]int32)(q[8*r:])))
	}
	butterflyVec(&x, 1<<(constBits-pass1Bits-1))
	for r := range x {
		x[r] = x[r].ShiftAllRight(constBits - pass1Bits)
	}
	transpose8(&x)
	butterflyVec(&x, 1<<(constBits+pass1Bits+3-1))
	// x[c] now holds column c (lane r: row r). As idctLimit: the low 10
	// bits of the descaled value, read as signed, plus 128, clamped.
	k := archsimd.BroadcastInt32x8
	off, mask, bias, lo, hi := k(512), k(1023), k(128-512), k(0), k(255)
	for c := range x {
		x[c] = x[c].ShiftAllRight(constBits + pass1Bits + 3).Add(off).And(mask).Add(bias).Max(lo).Min(hi)
	}
	// Lane r of left holds the bytes of row r, columns 0-3; right 4-7.
	left := x[0].Or(x[1].ShiftAllLeft(8)).Or(x[2].ShiftAllLeft(16)).Or(x[3].ShiftAllLeft(24))
	right := x[4].Or(x[5].ShiftAllLeft(8)).Or(x[6].ShiftAllLeft(16)).Or(x[7].ShiftAllLeft(24))
	var rows [8]uint64 // rows 0, 1, 4, 5, then 2, 3, 6, 7
	left.InterleaveLoGrouped(right).AsUint64x4().Store((*[4]uint64)(rows[:4]))
	left.InterleaveHiGrouped(right).AsUint64x4().Store((*[4]uint64)(rows[4:]))
	_ = out[7*stride+7]
	for i, r := range [8]int{0, 1, 4, 5, 2, 3, 6, 7} {
		binary.LittleEndian.PutUint64(out[r*stride:], rows[i])
	}
}

// butterflyVec is butterfly on eight lanes at once, in place.
func butterflyVec(x *[8]vec, round int32) {
	k := archsimd.BroadcastInt32x8
	z1 := x[2].Add(x[6]).Mul(k(fix0_541196100))
	t2 := z1.Sub(x[6].Mul(k(fix1_847759065)))
	t3 := z1.Add(x[2].Mul(k(fix0_765366865)))
	rnd := k(round)
	t0 := x[0].Add(x[4]).ShiftAllLeft(constBits).Add(rnd)
	t1 := x[0].Sub(x[4]).ShiftAllLeft(constBits).Add(rnd)
	t10, t13 := t0.Add(t3), t0.Sub(t3)
	t11, t12 := t1.Add(t2), t1.Sub(t2)

	o0, o1, o2, o3 := x[7], x[5], x[3], x[1]
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
	*x = [8]vec{t10.Add(o3), t11.Add(o2), t12.Add(o1), t13.Add(o0), t13.Sub(o0), t12.Sub(o1), t11.Sub(o2), t10.Sub(o3)}
}

// transpose8 transposes, in place, an 8x8 matrix held as eight row vectors.
func transpose8(v *[8]vec) {
	lo32 := func(a, b vec) vec { return a.InterleaveLoGrouped(b) }
	hi32 := func(a, b vec) vec { return a.InterleaveHiGrouped(b) }
	lo64 := func(a, b vec) vec { return a.AsInt64x4().InterleaveLoGrouped(b.AsInt64x4()).AsInt32x8() }
	hi64 := func(a, b vec) vec { return a.AsInt64x4().InterleaveHiGrouped(b.AsInt64x4()).AsInt32x8() }
	a0, a1 := lo32(v[0], v[1]), hi32(v[0], v[1])
	a2, a3 := lo32(v[2], v[3]), hi32(v[2], v[3])
	a4, a5 := lo32(v[4], v[5]), hi32(v[4], v[5])
	a6, a7 := lo32(v[6], v[7]), hi32(v[6], v[7])
	b0, b1 := lo64(a0, a2), hi64(a0, a2)
	b2, b3 := lo64(a1, a3), hi64(a1, a3)
	b4, b5 := lo64(a4, a6), hi64(a4, a6)
	b6, b7 := lo64(a5, a7), hi64(a5, a7)
	*v = [8]vec{
		b0.Select128FromPair(0, 2, b4), b1.Select128FromPair(0, 2, b5),
		b2.Select128FromPair(0, 2, b6), b3.Select128FromPair(0, 2, b7),
		b0.Select128FromPair(1, 3, b4), b1.Select128FromPair(1, 3, b5),
		b2.Select128FromPair(1, 3, b6), b3.Select128FromPair(1, 3, b7),
	}
}

// yccToRGBA converts 8 pixels at a time with jdcolor.c's fixed-point
// formulas (computed, not looked up: the same integers), writing opaque
// RGBA; it returns how many pixels it did. The inputs need 8 bytes of
// capacity past the last pixel handled.
func yccToRGBA(yy, cb, cr []uint8, out []uint8) int {
	k := archsimd.BroadcastInt32x8
	c128, half := k(128), k(1<<15)
	lo, hi := k(0), k(255)
	alpha := k(-1 << 24)
	n := len(yy) &^ 7
	for i := 0; i < n; i += 8 {
		y := archsimd.LoadUint8x16Slice(yy[i : i+16]).ExtendLo8ToUint32().AsInt32x8()
		b := archsimd.LoadUint8x16Slice(cb[i : i+16]).ExtendLo8ToUint32().AsInt32x8().Sub(c128)
		r := archsimd.LoadUint8x16Slice(cr[i : i+16]).ExtendLo8ToUint32().AsInt32x8().Sub(c128)
		rv := y.Add(r.Mul(k(91881)).Add(half).ShiftAllRight(16)).Max(lo).Min(hi)
		gv := y.Add(b.Mul(k(-22554)).Add(half).Add(r.Mul(k(-46802))).ShiftAllRight(16)).Max(lo).Min(hi)
		bv := y.Add(b.Mul(k(116130)).Add(half).ShiftAllRight(16)).Max(lo).Min(hi)
		px := rv.Or(gv.ShiftAllLeft(8)).Or(bv.ShiftAllLeft(16)).Or(alpha)
		px.AsUint8x32().Store((*[32]uint8)(out[4*i:]))
	}
	return n
}
