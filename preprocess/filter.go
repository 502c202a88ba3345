package preprocess

import (
	"image"
	"math"
)

// Filter2D correlates src with kernel (not flipped, like cv::filter2D; anchor
// at the kernel centre (W/2, H/2)), borders BORDER_REFLECT_101, accumulating
// in float32 with fused multiply-adds over the non-zero taps in raster order
// (as OpenCV's AVX2 path), and rounds to 8 bits (half to even, saturated).
// kernel is a [kh, kw] Plane. Kernels of 11×11 and more use a DFT in
// OpenCV and may differ by one grey level.
func Filter2D(src *image.Gray, kernel *Plane) *image.Gray {
	pix, w, h := grayPix(src)
	dst := image.NewGray(image.Rect(0, 0, w, h))
	acc := make([]float32, w)
	f := newTapFilter(pix, w, h, kernel, BorderReflect101)
	for y := 0; y < h; y++ {
		clear(acc)
		for _, t := range f.taps {
			k := float32(t.k)
			for x, v := range f.src(y, t) {
				acc[x] = fma32(k, float32(v), acc[x])
			}
		}
		out := dst.Pix[y*w : (y+1)*w]
		for x, v := range acc {
			out[x] = satU8(float64(v))
		}
	}
	return dst
}

// tap is a non-zero kernel coefficient at offset (dx, dy) from the anchor.
type tap struct {
	dx, dy int
	k      float64
}

// tapFilter holds a padded source and the non-zero taps (raster order) of a
// kernel anchored at its centre; filters loop over taps outside and pixels
// inside, which keeps each pixel's summation order.
type tapFilter struct {
	taps     []tap
	padded   []uint8
	w, pw, p int
}

func newTapFilter(pix []uint8, w, h int, kernel *Plane, border Border) *tapFilter {
	f := &tapFilter{w: w, p: max(kernel.W, kernel.H)}
	ax, ay := kernel.W/2, kernel.H/2
	for ky := 0; ky < kernel.H; ky++ {
		for kx := 0; kx < kernel.W; kx++ {
			if v := kernel.Pix[ky*kernel.W+kx]; v != 0 {
				f.taps = append(f.taps, tap{kx - ax, ky - ay, v})
			}
		}
	}
	f.pw = w + 2*f.p
	f.padded = padGray(pix, w, h, f.p, border)
	return f
}

// src returns the w source pixels tap t reads for output row y.
func (f *tapFilter) src(y int, t tap) []uint8 {
	off := (y+f.p+t.dy)*f.pw + f.p + t.dx
	return f.padded[off : off+f.w]
}

// Filter2DFloat is Filter2D with a float64 result (no rounding), e.g. cv::filter2D
// with ddepth CV_64F. Layout [H, W].
func Filter2DFloat(src *image.Gray, kernel *Plane, border Border) *Plane {
	pix, w, h := grayPix(src)
	dst := NewPlane(w, h)
	f := newTapFilter(pix, w, h, kernel, border)
	for y := 0; y < h; y++ {
		out := dst.Pix[y*w : (y+1)*w]
		for _, t := range f.taps {
			for x, v := range f.src(y, t) {
				out[x] += t.k * float64(v)
			}
		}
	}
	return dst
}

// SepFilterFloat filters src with the separable kernel kx (along x) then ky
// (along y), anchors at the centres, in float64 with the given border.
// Returns a [H, W] Plane. Integer kernels (Sobel, Laplacian) give exact results.
func SepFilterFloat(src *image.Gray, kx, ky []float64, border Border) *Plane {
	pix, w, h := grayPix(src)
	rx, ry := len(kx)/2, len(ky)/2
	xt := borderTable(w, rx, border)
	tmp := make([]float64, w*h)
	for y := 0; y < h; y++ {
		row := pix[y*w : (y+1)*w]
		out := tmp[y*w : (y+1)*w]
		for x := range out {
			var s float64
			for i, k := range kx {
				s += k * float64(row[xt[x+i]])
			}
			out[x] = s
		}
	}
	dst := NewPlane(w, h)
	rows := make([][]float64, len(ky))
	for y := 0; y < h; y++ {
		for j := range ky {
			r := border.index(y+j-ry, h)
			rows[j] = tmp[r*w : (r+1)*w]
		}
		out := dst.Pix[y*w : (y+1)*w]
		for x := range out {
			var s float64
			for j, k := range ky {
				s += k * rows[j][x]
			}
			out[x] = s
		}
	}
	return dst
}

// Blur is the normalised box filter (cv::blur) with a kw×kh window anchored at
// its centre, BORDER_REFLECT_101, rounding as OpenCV (sum·(1/area), half to
// even).
func Blur(src *image.Gray, kw, kh int) *image.Gray {
	return boxFilter(src, kw, kh, BorderReflect101)
}

func boxFilter(src *image.Gray, kw, kh int, border Border) *image.Gray {
	if kw < 1 || kh < 1 {
		panic("preprocess.Blur: ksize must be >= 1")
	}
	pix, w, h := grayPix(src)
	dst := image.NewGray(image.Rect(0, 0, w, h))
	if w == 0 || h == 0 {
		return dst
	}
	rx, ry := kw/2, kh/2
	// Horizontal running sums of each row.
	hs := make([]int32, w*h)
	xt := borderTable(w, kw, border)
	for y := 0; y < h; y++ {
		row := pix[y*w : (y+1)*w]
		out := hs[y*w : (y+1)*w]
		var s int32
		for i := 0; i < kw; i++ {
			s += int32(row[xt[i-rx+kw]])
		}
		out[0] = s
		for x := 1; x < w; x++ {
			s += int32(row[xt[x+kw-1-rx+kw]]) - int32(row[xt[x-1-rx+kw]])
			out[x] = s
		}
	}
	scale := 1 / float64(kw*kh)
	col := make([]int32, w)
	for j := 0; j < kh; j++ {
		r := border.index(j-ry, h)
		for x, v := range hs[r*w : (r+1)*w] {
			col[x] += v
		}
	}
	for y := 0; y < h; y++ {
		out := dst.Pix[y*w : (y+1)*w]
		for x, s := range col {
			out[x] = satU8(float64(s) * scale)
		}
		if y+1 < h {
			add := border.index(y+1+kh-1-ry, h)
			sub := border.index(y-ry, h)
			a, b := hs[add*w:(add+1)*w], hs[sub*w:(sub+1)*w]
			for x := range col {
				col[x] += a[x] - b[x]
			}
		}
	}
	return dst
}

// GaussianKernel returns OpenCV's normalised Gaussian kernel of n taps
// (cv::getGaussianKernel): for sigma <= 0 and n <= 7 the fixed binomial
// tables, otherwise sigma (or 0.3·((n-1)/2-1)+0.8 when sigma <= 0).
func GaussianKernel(n int, sigma float64) []float64 {
	if sigma <= 0 {
		switch n {
		case 1:
			return []float64{1}
		case 3:
			return []float64{0.25, 0.5, 0.25}
		case 5:
			return []float64{0.0625, 0.25, 0.375, 0.25, 0.0625}
		case 7:
			return []float64{0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125}
		}
		sigma = math.FMA(float64(n), 0.15, 0.35)
	}
	scale2 := -0.125 / (sigma * sigma)
	n2 := (n - 1) / 2
	vals := make([]float64, n2)
	sum := 0.0
	for i, x := 0, 1-n; i < n2; i, x = i+1, x+2 {
		vals[i] = math.Exp(float64(x*x) * scale2)
		sum += vals[i]
	}
	sum = sum*2 + 1
	if n%2 == 0 {
		sum++
	}
	mul := 1 / sum
	k := make([]float64, n)
	for i, v := range vals {
		k[i] = v * mul
		k[n-1-i] = k[i]
	}
	k[n2] = mul
	if n%2 == 0 {
		k[n2+1] = mul
	}
	return k
}

// gaussianKernelQ8 is OpenCV's getGaussianKernelFixedPoint_ED with 8 fraction
// bits: error-diffused rounding that sums to exactly 256.
func gaussianKernelQ8(n int, sigma float64) []uint32 {
	k := GaussianKernel(n, sigma)
	out := make([]uint32, n)
	var err float64
	sum := 0
	for i := 0; i < n/2; i++ {
		adj := k[i]*256 + err
		v := math.RoundToEven(adj)
		err = adj - v
		out[i], out[n-1-i] = uint32(v), uint32(v)
		sum += int(v)
	}
	out[n/2] = uint32(256 - 2*sum)
	return out
}

// GaussianKsize is the kernel size OpenCV derives from sigma for 8-bit images
// when ksize is 0: round(sigma·6+1) made odd.
func GaussianKsize(sigma float64) int {
	return int(math.RoundToEven(sigma*3*2+1)) | 1
}

// GaussianBlur blurs src with a ksize×ksize Gaussian (cv::GaussianBlur):
// sigmaY 0 means sigmaX; sigma 0 derives sigma from ksize (binomial tables
// for ksize <= 7); ksize 0 derives ksize from sigma. BORDER_REFLECT_101.
// Uses OpenCV's bit-exact 8-bit fixed-point path (Q8 kernels, Q16 sums,
// round half up), so results equal OpenCV's. ksize must be odd or 0.
func GaussianBlur(src *image.Gray, ksize int, sigmaX, sigmaY float64) *image.Gray {
	if sigmaY <= 0 {
		sigmaY = sigmaX
	}
	kw, kh := ksize, ksize
	if kw <= 0 {
		kw = GaussianKsize(sigmaX)
	}
	if kh <= 0 {
		kh = GaussianKsize(sigmaY)
	}
	if kw%2 == 0 || kh%2 == 0 {
		panic("preprocess.GaussianBlur: ksize must be odd")
	}
	return sepFilterQ8(src, gaussianKernelQ8(kw, sigmaX), gaussianKernelQ8(kh, sigmaY))
}

// hRowQ8SIMD and vRowQ8SIMD are set by the AVX2 implementation (kernels of
// at most 15 taps, rows of at least 16 pixels).
var (
	hRowQ8SIMD func(pad []uint8, out []uint16, k []uint32)
	vRowQ8SIMD func(rows [][]uint16, out []uint8, k []uint32, buf []uint16)
	// hasAVX512 lets the AVX2 kernels narrow uint16 to uint8 with VPMOVUSWB.
	hasAVX512 bool
)

// sepFilterQ8 applies Q8 kernels kx then ky (each summing to 256) with
// BORDER_REFLECT_101: uint16 row sums, uint32 column sums, (s+2^15)>>16.
func sepFilterQ8(src *image.Gray, kx, ky []uint32) *image.Gray {
	pix, w, h := grayPix(src)
	dst := image.NewGray(image.Rect(0, 0, w, h))
	if w == 0 || h == 0 {
		return dst
	}
	rx, ry := len(kx)/2, len(ky)/2
	simdX := hRowQ8SIMD != nil && w >= 16 && len(kx) <= 15
	simdY := vRowQ8SIMD != nil && w >= 16 && len(ky) <= 15
	tmp := make([]uint16, w*h)
	pad := make([]uint8, w+2*rx)
	xt := borderTable(w, rx, BorderReflect101)
	for y := 0; y < h; y++ {
		row := pix[y*w : (y+1)*w]
		copy(pad[rx:rx+w], row)
		for i := 0; i < rx; i++ {
			pad[i] = row[xt[i]]
			pad[rx+w+i] = row[xt[rx+w+i]]
		}
		if simdX {
			hRowQ8SIMD(pad, tmp[y*w:(y+1)*w], kx)
		} else {
			hRowQ8(pad, tmp[y*w:(y+1)*w], kx)
		}
	}
	rows := make([][]uint16, len(ky))
	var acc []uint32
	if len(ky) > 7 {
		acc = make([]uint32, w)
	}
	buf := make([]uint16, w)
	for y := 0; y < h; y++ {
		for j := range ky {
			r := reflect101(y+j-ry, h)
			rows[j] = tmp[r*w : (r+1)*w]
		}
		if simdY {
			vRowQ8SIMD(rows, dst.Pix[y*w:(y+1)*w], ky, buf)
		} else {
			vRowQ8(rows, dst.Pix[y*w:(y+1)*w], ky, acc)
		}
	}
	return dst
}

// hRowQ8 computes out[x] = Σ k[i]·pad[x+i].
func hRowQ8(pad []uint8, out []uint16, k []uint32) {
	switch len(k) {
	case 3:
		k0, k1 := uint32(k[0]), uint32(k[1])
		pad = pad[:len(out)+2]
		for x := range out {
			p := pad[x : x+3 : x+3]
			out[x] = uint16(k0*(uint32(p[0])+uint32(p[2])) + k1*uint32(p[1]))
		}
	case 5:
		k0, k1, k2 := k[0], k[1], k[2]
		pad = pad[:len(out)+4]
		for x := range out {
			p := pad[x : x+5 : x+5]
			out[x] = uint16(k0*(uint32(p[0])+uint32(p[4])) + k1*(uint32(p[1])+uint32(p[3])) + k2*uint32(p[2]))
		}
	case 7:
		k0, k1, k2, k3 := k[0], k[1], k[2], k[3]
		pad = pad[:len(out)+6]
		for x := range out {
			p := pad[x : x+7 : x+7]
			out[x] = uint16(k0*(uint32(p[0])+uint32(p[6])) + k1*(uint32(p[1])+uint32(p[5])) +
				k2*(uint32(p[2])+uint32(p[4])) + k3*uint32(p[3]))
		}
	default:
		// Gaussian kernels are symmetric: pair the taps.
		r := len(k) / 2
		for x := range out {
			p := pad[x : x+len(k)]
			s := k[r] * uint32(p[r])
			for i := 0; i < r; i++ {
				s += k[i] * (uint32(p[i]) + uint32(p[2*r-i]))
			}
			out[x] = uint16(s)
		}
	}
}

// vRowQ8 computes out[x] = round(Σ k[j]·rows[j][x] / 2^16) saturated.
// acc is scratch space of len(out) for kernels longer than 7.
func vRowQ8(rows [][]uint16, out []uint8, k []uint32, acc []uint32) {
	n := len(out)
	switch len(k) {
	case 5:
		r0, r1, r2, r3, r4 := rows[0][:n], rows[1][:n], rows[2][:n], rows[3][:n], rows[4][:n]
		k0, k1, k2 := k[0], k[1], k[2]
		for x := range out {
			s := k0*(uint32(r0[x])+uint32(r4[x])) + k1*(uint32(r1[x])+uint32(r3[x])) + k2*uint32(r2[x])
			out[x] = sat16(s)
		}
	case 7:
		r0, r1, r2, r3, r4, r5, r6 := rows[0][:n], rows[1][:n], rows[2][:n], rows[3][:n], rows[4][:n], rows[5][:n], rows[6][:n]
		k0, k1, k2, k3 := k[0], k[1], k[2], k[3]
		for x := range out {
			s := k0*(uint32(r0[x])+uint32(r6[x])) + k1*(uint32(r1[x])+uint32(r5[x])) +
				k2*(uint32(r2[x])+uint32(r4[x])) + k3*uint32(r3[x])
			out[x] = sat16(s)
		}
	case 3:
		r0, r1, r2 := rows[0][:n], rows[1][:n], rows[2][:n]
		k0, k1 := k[0], k[1]
		for x := range out {
			out[x] = sat16(k0*(uint32(r0[x])+uint32(r2[x])) + k1*uint32(r1[x]))
		}
	default:
		// Symmetric kernel: accumulate row pairs into a uint32 buffer.
		r := len(k) / 2
		acc = acc[:n]
		mid := rows[r][:n]
		for x := range acc {
			acc[x] = k[r] * uint32(mid[x])
		}
		for j := 0; j < r; j++ {
			a, b, kj := rows[j][:n], rows[2*r-j][:n], k[j]
			for x := range acc {
				acc[x] += kj * (uint32(a[x]) + uint32(b[x]))
			}
		}
		for x, s := range acc {
			out[x] = sat16(s)
		}
	}
}

func sat16(s uint32) uint8 {
	v := (s + 1<<15) >> 16
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// BilateralFilter is cv::bilateralFilter on one channel: window radius d/2
// (d <= 0: round(1.5·sigmaSpace)), circular support, weights
// exp(-r²/2σs²)·exp(-Δ²/2σc²) in float32 summed in OpenCV's tap order,
// BORDER_REFLECT_101, rounded half to even.
func BilateralFilter(src *image.Gray, d int, sigmaColor, sigmaSpace float64) *image.Gray {
	pix, w, h := grayPix(src)
	radius, ofs, sw, cw := bilateralSetup(d, sigmaColor, sigmaSpace, 1)
	pw := w + 2*radius
	padded := padGray(pix, w, h, radius, BorderReflect101)
	dst := image.NewGray(image.Rect(0, 0, w, h))
	sum := make([]float32, w)
	wsum := make([]float32, w)
	for y := 0; y < h; y++ {
		clear(sum)
		clear(wsum)
		center := padded[(y+radius)*pw+radius:][:w]
		// Taps in the outer loop, pixels inside: the per-pixel summation
		// order is unchanged and the inner loop has no dependency chain.
		for k, o := range ofs {
			nb := padded[(y+radius+o.y)*pw+radius+o.x:][:w]
			swk := sw[k]
			for x, v := range nb {
				wt := swk * cw[absInt(int(v)-int(center[x]))]
				sum[x] += float32(v) * wt
				wsum[x] += wt
			}
		}
		out := dst.Pix[y*w : (y+1)*w]
		for x := range out {
			out[x] = satU8(float64(sum[x] / wsum[x]))
		}
	}
	return dst
}

// BilateralFilterRGBA is cv::bilateralFilter on a 3-channel image: the colour
// distance is |ΔR|+|ΔG|+|ΔB|, one weight per neighbour for all channels.
func BilateralFilterRGBA(src *image.RGBA, d int, sigmaColor, sigmaSpace float64) *image.RGBA {
	ch := Split(src)
	radius, ofs, sw, cw := bilateralSetup(d, sigmaColor, sigmaSpace, 3)
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	pw := w + 2*radius
	var pl [3][]uint8
	for c := range pl {
		pl[c] = padGray(ch[c].Pix, w, h, radius, BorderReflect101)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	var sums [3][]float32
	for c := range sums {
		sums[c] = make([]float32, w)
	}
	wsum := make([]float32, w)
	for y := 0; y < h; y++ {
		for c := range sums {
			clear(sums[c])
		}
		clear(wsum)
		c0 := (y+radius)*pw + radius
		r0, g0, b0 := pl[0][c0:][:w], pl[1][c0:][:w], pl[2][c0:][:w]
		sr, sg, sb := sums[0], sums[1], sums[2]
		for k, o := range ofs {
			off := (y+radius+o.y)*pw + radius + o.x
			rn, gn, bn := pl[0][off:][:w], pl[1][off:][:w], pl[2][off:][:w]
			swk := sw[k]
			for x := range rn {
				r, g, bb := rn[x], gn[x], bn[x]
				wt := swk * cw[absInt(int(r)-int(r0[x]))+absInt(int(g)-int(g0[x]))+absInt(int(bb)-int(b0[x]))]
				sr[x] += float32(r) * wt
				sg[x] += float32(g) * wt
				sb[x] += float32(bb) * wt
				wsum[x] += wt
			}
		}
		out := dst.Pix[y*dst.Stride:]
		alpha := ch[3].Pix[y*w:]
		for x := 0; x < w; x++ {
			out[4*x] = satU8(float64(sr[x] / wsum[x]))
			out[4*x+1] = satU8(float64(sg[x] / wsum[x]))
			out[4*x+2] = satU8(float64(sb[x] / wsum[x]))
			out[4*x+3] = alpha[x]
		}
	}
	return dst
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func bilateralSetup(d int, sigmaColor, sigmaSpace float64, cn int) (int, []offset, []float32, []float32) {
	if sigmaColor <= 0 {
		sigmaColor = 1
	}
	if sigmaSpace <= 0 {
		sigmaSpace = 1
	}
	cc := -0.5 / (sigmaColor * sigmaColor)
	sc := -0.5 / (sigmaSpace * sigmaSpace)
	radius := d / 2
	if d <= 0 {
		radius = int(math.RoundToEven(sigmaSpace * 1.5))
	}
	radius = max(radius, 1)
	cw := make([]float32, 256*cn)
	for i := range cw {
		cw[i] = float32(math.Exp(float64(i*i) * cc))
	}
	var ofs []offset
	var sw []float32
	for i := -radius; i <= radius; i++ {
		for j := -radius; j <= radius; j++ {
			r := math.Sqrt(float64(i*i) + float64(j*j))
			if r > float64(radius) {
				continue
			}
			sw = append(sw, float32(math.Exp(r*r*sc)))
			ofs = append(ofs, offset{x: j, y: i})
		}
	}
	return radius, ofs, sw, cw
}

// offset is a window offset.
type offset struct{ x, y int }

// padGray copies pix (w×h) into a (w+2p)×(h+2p) buffer with the border filled.
func padGray(pix []uint8, w, h, p int, border Border) []uint8 {
	pw := w + 2*p
	out := make([]uint8, pw*(h+2*p))
	xt := borderTable(w, p, border)
	for y := 0; y < h+2*p; y++ {
		row := pix[border.index(y-p, h)*w:][:w]
		o := out[y*pw : (y+1)*pw]
		for x := 0; x < p; x++ {
			o[x] = row[xt[x]]
			o[pw-1-x] = row[xt[pw-1-x]]
		}
		copy(o[p:p+w], row)
	}
	return out
}

// fma32 is a float32 fused multiply-add computed in float64: the product of
// two float32 values is exact in float64, so only the final sum is rounded
// twice, which cannot matter unless the float64 sum is inexact (it is exact
// for the 8-bit × kernel-coefficient sums used here). math.FMA is avoided:
// it is a slow software routine unless the binary targets GOAMD64=v3.
func fma32(a, b, c float32) float32 {
	return float32(float64(a)*float64(b) + float64(c))
}
