//go:build goexperiment.simd && amd64

package preprocess

import "simd/archsimd"

func init() {
	if archsimd.X86.AVX2() {
		minInto = minIntoAVX2
		maxInto = maxIntoAVX2
	}
}

func minIntoAVX2(dst, src []uint8) {
	n := len(dst)
	src = src[:n]
	i := 0
	for ; i+32 <= n; i += 32 {
		archsimd.LoadUint8x32Slice(dst[i:]).Min(archsimd.LoadUint8x32Slice(src[i:])).StoreSlice(dst[i:])
	}
	for ; i < n; i++ {
		dst[i] = min(dst[i], src[i])
	}
}

func maxIntoAVX2(dst, src []uint8) {
	n := len(dst)
	src = src[:n]
	i := 0
	for ; i+32 <= n; i += 32 {
		archsimd.LoadUint8x32Slice(dst[i:]).Max(archsimd.LoadUint8x32Slice(src[i:])).StoreSlice(dst[i:])
	}
	for ; i < n; i++ {
		dst[i] = max(dst[i], src[i])
	}
}
