package preprocess

import (
	"fmt"
	"image"
	"math"
)

// ThresholdType selects the rule of Threshold (OpenCV's THRESH_* values).
type ThresholdType int

const (
	ThreshBinary    ThresholdType = iota // v > t ? maxval : 0
	ThreshBinaryInv                      // v > t ? 0 : maxval
	ThreshTrunc                          // v > t ? t : v
	ThreshToZero                         // v > t ? v : 0
	ThreshToZeroInv                      // v > t ? 0 : v
)

var threshNames = map[string]ThresholdType{
	"binary": ThreshBinary, "binary_inv": ThreshBinaryInv, "trunc": ThreshTrunc,
	"tozero": ThreshToZero, "tozero_inv": ThreshToZeroInv,
}

// ParseThresholdType maps "binary", "binary_inv", "trunc", "tozero",
// "tozero_inv" to a ThresholdType.
func ParseThresholdType(s string) (ThresholdType, error) {
	t, ok := threshNames[s]
	if !ok {
		return 0, fmt.Errorf("preprocess: unknown threshold type %q (want binary, binary_inv, trunc, tozero or tozero_inv)", s)
	}
	return t, nil
}

// Threshold applies a fixed threshold like cv::threshold on 8-bit data: the
// threshold is floored (v > t ⇔ v > floor(t) for integer v) and maxval
// rounded and saturated.
func Threshold(src *image.Gray, thresh, maxval float64, typ ThresholdType) *image.Gray {
	pix, w, h := grayPix(src)
	t := int(math.Floor(thresh))
	mv := satU8(maxval)
	var lut [256]uint8
	for v := range lut {
		above := v > t
		switch typ {
		case ThreshBinary:
			if above {
				lut[v] = mv
			}
		case ThreshBinaryInv:
			if !above {
				lut[v] = mv
			}
		case ThreshTrunc:
			lut[v] = uint8(v)
			if above {
				lut[v] = clampU8(t)
			}
		case ThreshToZero:
			if above {
				lut[v] = uint8(v)
			}
		case ThreshToZeroInv:
			if !above {
				lut[v] = uint8(v)
			}
		default:
			panic("preprocess.Threshold: unknown type")
		}
	}
	return applyLUT(pix, w, h, &lut)
}

func applyLUT(pix []uint8, w, h int, lut *[256]uint8) *image.Gray {
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range pix {
		dst.Pix[i] = lut[v]
	}
	return dst
}

// Histogram returns the 256-bin histogram of src.
func Histogram(src *image.Gray) [256]int {
	pix, _, _ := grayPix(src)
	var hist [256]int
	for _, v := range pix {
		hist[v]++
	}
	return hist
}

// Otsu returns the threshold that maximises the between-class variance,
// computed exactly as OpenCV's THRESH_OTSU (float64, first maximum). Pixels
// > the threshold are the bright class. An empty image gives 0.
func Otsu(src *image.Gray) uint8 {
	hist := Histogram(src)
	total := 0
	for _, c := range hist {
		total += c
	}
	if total == 0 {
		return 0
	}
	scale := 1 / float64(total)
	mu := 0.0
	for i, c := range hist {
		mu += float64(i) * float64(c)
	}
	mu *= scale
	var mu1, q1, maxSigma, maxVal float64
	const eps = 1.1920928955078125e-07
	for i, c := range hist {
		p := float64(c) * scale
		mu1 *= q1
		q1 += p
		q2 := 1 - q1
		if min(q1, q2) < eps || max(q1, q2) > 1-eps {
			continue
		}
		mu1 = (mu1 + float64(i)*p) / q1
		mu2 := (mu - q1*mu1) / q2
		sigma := q1 * q2 * (mu1 - mu2) * (mu1 - mu2)
		if sigma > maxSigma {
			maxSigma = sigma
			maxVal = float64(i)
		}
	}
	return uint8(maxVal)
}

// IterativeThreshold is the iterative global (isodata / Ridler–Calvard)
// threshold of the seed: start at the image mean, split into v > T and
// v <= T, set T to the average of the two class means, and stop when T moves
// by less than 0.5. An empty class keeps the other class's mean. The result
// is a real value; threshold with v > T (equivalently v > floor(T)).
func IterativeThreshold(src *image.Gray) float64 {
	hist := Histogram(src)
	var n, sum float64
	for i, c := range hist {
		n += float64(c)
		sum += float64(i) * float64(c)
	}
	if n == 0 {
		return 0
	}
	t := sum / n
	for iter := 0; iter < 1000; iter++ {
		var n1, s1, n2, s2 float64
		for i, c := range hist {
			if float64(i) > t {
				n1 += float64(c)
				s1 += float64(i) * float64(c)
			} else {
				n2 += float64(c)
				s2 += float64(i) * float64(c)
			}
		}
		var m1, m2 float64
		switch {
		case n1 == 0:
			m2 = s2 / n2
			m1 = m2
		case n2 == 0:
			m1 = s1 / n1
			m2 = m1
		default:
			m1, m2 = s1/n1, s2/n2
		}
		next := (m1 + m2) / 2
		done := math.Abs(next-t) < 0.5
		t = next
		if done {
			break
		}
	}
	return t
}

// MaxEntropyThreshold is Kapur's maximum-entropy threshold: the t that
// maximises H(0..t) + H(t+1..255), the entropies of the two normalised
// class histograms (natural log, first maximum). Pixels > t are the bright
// class. An image with a single grey level gives that level.
func MaxEntropyThreshold(src *image.Gray) uint8 {
	hist := Histogram(src)
	total := 0
	for _, c := range hist {
		total += c
	}
	if total == 0 {
		return 0
	}
	var p, cum [256]float64
	acc := 0.0
	for i, c := range hist {
		p[i] = float64(c) / float64(total)
		acc += p[i]
		cum[i] = acc
	}
	best, bestT := math.Inf(-1), -1
	for t := 0; t < 255; t++ {
		pa := cum[t]
		pb := 1 - pa
		if pa <= 0 || pb <= 0 {
			continue
		}
		var ha, hb float64
		for i := 0; i <= t; i++ {
			if p[i] > 0 {
				q := p[i] / pa
				ha -= q * math.Log(q)
			}
		}
		for i := t + 1; i < 256; i++ {
			if p[i] > 0 {
				q := p[i] / pb
				hb -= q * math.Log(q)
			}
		}
		if ha+hb > best {
			best, bestT = ha+hb, t
		}
	}
	if bestT < 0 {
		for i, c := range hist {
			if c > 0 {
				return uint8(i)
			}
		}
	}
	return uint8(bestT)
}

// AdaptiveMethod selects how AdaptiveThreshold computes the local mean.
type AdaptiveMethod int

const (
	AdaptiveMean     AdaptiveMethod = iota // box mean of the block (ADAPTIVE_THRESH_MEAN_C)
	AdaptiveGaussian                       // Gaussian-weighted mean (ADAPTIVE_THRESH_GAUSSIAN_C)
)

// AdaptiveThreshold is cv::adaptiveThreshold with THRESH_BINARY (inv false)
// or THRESH_BINARY_INV (inv true): a pixel is maxval where v - mean > -C
// (with C rounded up, or down for inv as OpenCV does), the mean taken over a
// block×block window with BORDER_REPLICATE and rounded to 8 bits (the
// Gaussian uses sigma from block size, in float32). block must be odd >= 3.
func AdaptiveThreshold(src *image.Gray, maxval float64, method AdaptiveMethod, inv bool, block int, c float64) *image.Gray {
	if block < 3 || block%2 == 0 {
		panic("preprocess.AdaptiveThreshold: block must be odd and >= 3")
	}
	pix, w, h := grayPix(src)
	var mean []uint8
	switch method {
	case AdaptiveMean:
		g := boxFilter(&image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}, block, block, BorderReplicate)
		mean = g.Pix
	case AdaptiveGaussian:
		mean = gaussianFloat32(pix, w, h, GaussianKernel(block, 0), BorderReplicate)
	default:
		panic("preprocess.AdaptiveThreshold: unknown method")
	}
	mv := satU8(maxval)
	idelta := int(math.Floor(c))
	if !inv {
		idelta = int(math.Ceil(c))
	}
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range pix {
		d := int(v) - int(mean[i])
		on := d > -idelta
		if inv {
			on = d <= -idelta
		}
		if on {
			dst.Pix[i] = mv
		}
	}
	return dst
}

// gaussianFloat32 filters in float32 with a symmetric kernel (rows then
// columns, centre tap first, then symmetric pairs, as OpenCV's symmetric
// float filters) and rounds to 8 bits.
func gaussianFloat32(pix []uint8, w, h int, k []float64, border Border) []uint8 {
	r := len(k) / 2
	kf := make([]float32, r+1)
	for i := range kf {
		kf[i] = float32(k[r+i])
	}
	xt := borderTable(w, r, border)
	tmp := make([]float32, w*h)
	for y := 0; y < h; y++ {
		row := pix[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			s := kf[0] * float32(row[x])
			for i := 1; i <= r; i++ {
				s += kf[i] * (float32(row[xt[x+r+i]]) + float32(row[xt[x+r-i]]))
			}
			tmp[y*w+x] = s
		}
	}
	out := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := kf[0] * tmp[y*w+x]
			for i := 1; i <= r; i++ {
				s += kf[i] * (tmp[border.index(y+i, h)*w+x] + tmp[border.index(y-i, h)*w+x])
			}
			out[y*w+x] = satU8(float64(s))
		}
	}
	return out
}
