package preprocess

import (
	"image"
	"math"
	"sync"
)

// Colour conversions. Colour images are *image.RGBA in R, G, B order (Go's
// decoders give RGB, not OpenCV's BGR); 3-channel conversion results are
// stored in the R, G, B slots of an *image.RGBA (e.g. H, S, V) with alpha 255.

// Gray converts RGB to 8-bit gray with OpenCV 4's 15-bit fixed-point
// weights (0.299 R + 0.587 G + 0.114 B as 9798, 19235, 3735 / 2^15,
// COLOR_RGB2GRAY): exact match with OpenCV.
func Gray(src *image.RGBA) *image.Gray {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
		row = row[:4*w]
		out := dst.Pix[y*w : (y+1)*w]
		for x := range out {
			p := row[4*x : 4*x+3 : 4*x+3]
			out[x] = uint8((int(p[0])*9798 + int(p[1])*19235 + int(p[2])*3735 + 16384) >> 15)
		}
	}
	return dst
}

// mapRGB applies f to every pixel's (R, G, B) and stores its three results.
func mapRGB(src *image.RGBA, f func(r, g, b int) (uint8, uint8, uint8)) *image.RGBA {
	bd := src.Bounds()
	w, h := bd.Dx(), bd.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		row := src.Pix[src.PixOffset(bd.Min.X, bd.Min.Y+y):]
		out := dst.Pix[y*dst.Stride:]
		for x := 0; x < w; x++ {
			a, b, c := f(int(row[4*x]), int(row[4*x+1]), int(row[4*x+2]))
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = a, b, c, 255
		}
	}
	return dst
}

// SwapRB swaps the first and third channels: RGB↔BGR (COLOR_BGR2RGB).
func SwapRB(src *image.RGBA) *image.RGBA {
	return mapRGB(src, func(r, g, b int) (uint8, uint8, uint8) { return uint8(b), uint8(g), uint8(r) })
}

const hsvShift = 12

var hsvTabs = sync.OnceValue(func() (t struct{ sdiv, hdiv [256]int }) {
	for i := 1; i < 256; i++ {
		t.sdiv[i] = int(math.RoundToEven(float64(255<<hsvShift) / float64(i)))
		t.hdiv[i] = int(math.RoundToEven(float64(180<<hsvShift) / (6 * float64(i))))
	}
	return t
})

// HSV converts RGB to 8-bit HSV with OpenCV's conventions (COLOR_RGB2HSV):
// H in [0, 180) (degrees / 2), S and V in [0, 255], same fixed-point tables
// as OpenCV (exact match). Result: H in R, S in G, V in B.
func HSV(src *image.RGBA) *image.RGBA {
	t := hsvTabs()
	return mapRGB(src, func(r, g, b int) (uint8, uint8, uint8) {
		v := max(r, g, b)
		vmin := min(r, g, b)
		diff := v - vmin
		s := (diff*t.sdiv[v] + (1 << (hsvShift - 1))) >> hsvShift
		var h int
		switch {
		case v == r:
			h = g - b
		case v == g:
			h = b - r + 2*diff
		default:
			h = r - g + 4*diff
		}
		h = (h*t.hdiv[diff] + (1 << (hsvShift - 1))) >> hsvShift
		if h < 0 {
			h += 180
		}
		return uint8(h), uint8(s), uint8(v)
	})
}

// HLS converts RGB to 8-bit HLS with OpenCV's conventions (COLOR_RGB2HLS):
// H in [0, 180], L and S in [0, 255]. It reproduces the float32 arithmetic
// of OpenCV 4.6's vectorised RGB2HLS (reciprocal 60/diff, fused
// multiply-add, round half to even), which gives results identical to
// OpenCV on AVX2 machines. Result: H in R, L in G, S in B.
func HLS(src *image.RGBA) *image.RGBA {
	return mapRGB(src, func(ri, gi, bi int) (uint8, uint8, uint8) {
		const inv = float32(1.0 / 255.0)
		r, g, b := float32(ri)*inv, float32(gi)*inv, float32(bi)*inv
		vmax := max(r, g, b)
		vmin := min(r, g, b)
		diff := vmax - vmin
		msum := vmax + vmin
		l := msum * 0.5
		if !(diff > 1.1920929e-07) {
			return 0, satU8(float64(l * 255)), 0
		}
		den := 2 - msum
		if l < 0.5 {
			den = msum
		}
		s := diff / den
		var num, part float32
		switch {
		case vmax == r:
			num = g - b
			if g < b {
				part = 360
			}
		case vmax == g:
			num, part = b-r, 120
		default:
			num, part = r-g, 240
		}
		h := fma32(num, 60/diff, part) * 0.5
		return satU8(float64(h)), satU8(float64(l * 255)), satU8(float64(s * 255))
	})
}

const (
	labShift   = 12
	gammaShift = 3
	labShift2  = labShift + gammaShift
	labCbrtN   = 256 * 3 / 2 * (1 << gammaShift)
)

var labTabs = sync.OnceValue(func() (t struct {
	gamma [256]int
	cbrt  [labCbrtN]int
	c     [9]int
}) {
	for i := range t.gamma {
		x := float64(i) / 255
		if x <= 0.04045 {
			x /= 12.92
		} else {
			x = math.Pow((x+0.055)/1.055, 2.4)
		}
		t.gamma[i] = int(math.RoundToEven(255 * (1 << gammaShift) * x))
	}
	for i := range t.cbrt {
		x := float64(i) / (255 * (1 << gammaShift))
		var f float64
		if x < 0.008856 {
			f = x*7.787 + 16.0/116.0
		} else {
			f = math.Cbrt(x)
		}
		t.cbrt[i] = int(math.RoundToEven(float64(1<<labShift2) * f))
	}
	m := [9]float64{0.412453, 0.357580, 0.180423, 0.212671, 0.715160, 0.072169, 0.019334, 0.119193, 0.950227}
	white := [3]float64{0.950456, 1, 1.088754}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			t.c[i*3+j] = int(math.RoundToEven(float64(1<<labShift) * m[i*3+j] / white[i]))
		}
	}
	return t
})

func descale(x, n int) int { return (x + (1 << (n - 1))) >> n }

// Lab converts sRGB to 8-bit CIE L*a*b* (D65) with OpenCV's conventions
// (COLOR_RGB2Lab): L scaled to [0, 255] (L*·255/100), a and b offset by 128,
// using OpenCV's fixed-point gamma and cube-root tables. Result: L in R,
// a in G, b in B.
func Lab(src *image.RGBA) *image.RGBA {
	t := labTabs()
	const lscale = (116*255 + 50) / 100
	const lshift = -((16*255*(1<<labShift2) + 50) / 100)
	c := t.c
	return mapRGB(src, func(r, g, b int) (uint8, uint8, uint8) {
		R, G, B := t.gamma[r], t.gamma[g], t.gamma[b]
		fX := t.cbrt[descale(R*c[0]+G*c[1]+B*c[2], labShift)]
		fY := t.cbrt[descale(R*c[3]+G*c[4]+B*c[5], labShift)]
		fZ := t.cbrt[descale(R*c[6]+G*c[7]+B*c[8], labShift)]
		L := descale(lscale*fY+lshift, labShift2)
		a := descale(500*(fX-fY)+128*(1<<labShift2), labShift2)
		bb := descale(200*(fY-fZ)+128*(1<<labShift2), labShift2)
		return clampU8(L), clampU8(a), clampU8(bb)
	})
}
