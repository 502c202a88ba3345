package preprocess

import (
	"fmt"
	"image"
	"strings"
)

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

// comparator is one compare-exchange of a selection network: after it,
// slot A holds min and slot B max; Min/Max say which outputs are used.
type comparator struct {
	A, B     int
	Min, Max bool
}

// medianNetwork returns a selection network for the median of n inputs:
// Batcher's odd-even merge sort on the next power of two (padding slots
// are +inf, so comparators touching them vanish), pruned backwards to the
// comparators the middle output depends on.
func medianNetwork(n int) []comparator {
	p2 := 1
	for p2 < n {
		p2 <<= 1
	}
	var all []comparator
	for p := 1; p < p2; p <<= 1 {
		for k := p; k >= 1; k >>= 1 {
			for j := k % p; j+k < p2; j += 2 * k {
				for i := 0; i < k && i+j+k < p2; i++ {
					if (i+j)/(2*p) == (i+j+k)/(2*p) && i+j+k < n {
						all = append(all, comparator{A: i + j, B: i + j + k})
					}
				}
			}
		}
	}
	need := map[int]bool{n / 2: true}
	var kept []comparator
	for i := len(all) - 1; i >= 0; i-- {
		c := all[i]
		c.Min, c.Max = need[c.A], need[c.B]
		if !c.Min && !c.Max {
			continue
		}
		need[c.A], need[c.B] = true, true
		kept = append(kept, c)
	}
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	return kept
}

// medianNetworkGo renders the network as Go statements on variables p0…p(n-1)
// with Min/Max methods (the SIMD kernels are generated from it).
func medianNetworkGo(n int) string {
	var b strings.Builder
	for _, c := range medianNetwork(n) {
		switch {
		case c.Min && c.Max:
			fmt.Fprintf(&b, "\tp%d, p%d = p%d.Min(p%d), p%d.Max(p%d)\n", c.A, c.B, c.A, c.B, c.A, c.B)
		case c.Min:
			fmt.Fprintf(&b, "\tp%d = p%d.Min(p%d)\n", c.A, c.A, c.B)
		default:
			fmt.Fprintf(&b, "\tp%d = p%d.Max(p%d)\n", c.B, c.A, c.B)
		}
	}
	return b.String()
}
