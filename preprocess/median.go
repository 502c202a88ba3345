package preprocess

import "image"

// MedianBlur replaces each pixel by the median of its ksize×ksize
// neighbourhood (cv::medianBlur). ksize must be odd and >= 1. Like OpenCV,
// the border is BORDER_REPLICATE (not REFLECT_101). ksize 3 and 5 use a
// vectorised selection network (AVX2, when built with GOEXPERIMENT=simd),
// other sizes and CPUs a sliding histogram (Huang), all exact.
func MedianBlur(src *image.Gray, ksize int) *image.Gray {
	if ksize < 1 || ksize%2 == 0 {
		panic("preprocess.MedianBlur: ksize must be odd and >= 1")
	}
	pix, w, h := grayPix(src)
	dst := image.NewGray(image.Rect(0, 0, w, h))
	if w == 0 || h == 0 {
		return dst
	}
	if ksize == 1 {
		copy(dst.Pix, pix)
		return dst
	}
	if medianSIMD != nil && (ksize == 3 || ksize == 5) && w >= 32 {
		medianSIMD(pix, dst.Pix, w, h, ksize)
		return dst
	}
	medianHuang(pix, dst.Pix, w, h, ksize)
	return dst
}

// medianSIMD is set by the AVX2 implementation when the CPU supports it.
var medianSIMD func(src, dst []uint8, w, h, ksize int)

// medianHuang is the sliding-histogram median with replicated borders.
func medianHuang(pix, dst []uint8, w, h, k int) {
	r := k / 2
	half := k * k / 2
	padded := padGray(pix, w, h, r, BorderReplicate)
	pw := w + 2*r
	var hist [256]int32
	for y := 0; y < h; y++ {
		clear(hist[:])
		for dy := 0; dy < k; dy++ {
			for _, v := range padded[(y+dy)*pw : (y+dy)*pw+k] {
				hist[v]++
			}
		}
		m, lt := 0, int32(0)
		for lt+hist[m] <= int32(half) {
			lt += hist[m]
			m++
		}
		out := dst[y*w : (y+1)*w]
		out[0] = uint8(m)
		for x := 1; x < w; x++ {
			for dy := 0; dy < k; dy++ {
				row := padded[(y+dy)*pw:]
				o, n := row[x-1], row[x+k-1]
				hist[o]--
				hist[n]++
				if int(o) < m {
					lt--
				}
				if int(n) < m {
					lt++
				}
			}
			for lt > int32(half) {
				m--
				lt -= hist[m]
			}
			for lt+hist[m] <= int32(half) {
				lt += hist[m]
				m++
			}
			out[x] = uint8(m)
		}
	}
}
