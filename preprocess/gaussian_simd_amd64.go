//go:build goexperiment.simd && amd64

package preprocess

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX2() {
		hRowQ8SIMD = hRowQ8AVX2
		vRowQ8SIMD = vRowQ8AVX2
		hasAVX512 = archsimd.X86.AVX512()
	}
}

// hRowQ8AVX2 is hRowQ8 for symmetric kernels, 16 outputs at a time in
// uint16 lanes (sums are at most 255·256, so nothing overflows). len(out)
// must be >= 16; the last chunk overlaps the previous one.
func hRowQ8AVX2(pad []uint8, out []uint16, k []uint32) {
	n, r := len(out), len(k)/2
	var kv [8]archsimd.Uint16x16
	for i := 0; i <= r; i++ {
		kv[i] = archsimd.BroadcastUint16x16(uint16(k[i]))
	}
	for x0 := 0; x0 < n; x0 += 16 {
		x := min(x0, n-16)
		s := archsimd.LoadUint8x16Slice(pad[x+r:]).ExtendToUint16().Mul(kv[r])
		for i := 0; i < r; i++ {
			a := archsimd.LoadUint8x16Slice(pad[x+i:]).ExtendToUint16()
			b := archsimd.LoadUint8x16Slice(pad[x+2*r-i:]).ExtendToUint16()
			s = s.Add(a.Add(b).Mul(kv[i]))
		}
		s.StoreSlice(out[x:])
	}
}

// vRowQ8AVX2 is vRowQ8 in uint16 lanes: with h = 256·hi + lo, the Q16 sum
// Σk·h is 256·A + B for A = Σk·hi and B = Σk·lo (each at most 255·256), and
// round(Σk·h / 2^16) = (A + (B>>8) + 128) >> 8, saturated. buf is scratch
// of len(out) >= 16.
func vRowQ8AVX2(rows [][]uint16, out []uint8, k []uint32, buf []uint16) {
	n, r := len(out), len(k)/2
	var kv [8]archsimd.Uint16x16
	for i := 0; i <= r; i++ {
		kv[i] = archsimd.BroadcastUint16x16(uint16(k[i]))
	}
	mask := archsimd.BroadcastUint16x16(0xff)
	k256 := archsimd.BroadcastUint16x16(256) // MulHigh by 256 is >> 8
	half := archsimd.BroadcastUint16x16(128)
	for x0 := 0; x0 < n; x0 += 16 {
		x := min(x0, n-16)
		h := archsimd.LoadUint16x16Slice(rows[r][x:])
		a := h.MulHigh(k256).Mul(kv[r])
		b := h.And(mask).Mul(kv[r])
		for j := 0; j < r; j++ {
			h0 := archsimd.LoadUint16x16Slice(rows[j][x:])
			h1 := archsimd.LoadUint16x16Slice(rows[2*r-j][x:])
			a = a.Add(h0.MulHigh(k256).Add(h1.MulHigh(k256)).Mul(kv[j]))
			b = b.Add(h0.And(mask).Add(h1.And(mask)).Mul(kv[j]))
		}
		res := a.AddSaturated(b.MulHigh(k256).Add(half)).MulHigh(k256) // <= 255
		if hasAVX512 {
			res.SaturateToUint8().StoreSlice(out[x:])
		} else {
			res.StoreSlice(buf[x:])
		}
	}
	if !hasAVX512 {
		buf = buf[:n]
		for x, v := range buf {
			out[x] = uint8(v)
		}
	}
}
