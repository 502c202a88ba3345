package preprocess

import (
	"image"
	"math"
)

// DerivKernel returns OpenCV's 1-D Sobel kernel of the given size and
// derivative order (cv::getDerivKernels): ksize 1 gives [1] (order 0) or the
// 3-tap [-1 0 1] / [1 -2 1]; larger sizes are binomial smoothing
// differentiated order times. ksize -1 gives the Scharr kernels.
func DerivKernel(order, ksize int) []float64 {
	if ksize == -1 {
		switch order {
		case 0:
			return []float64{3, 10, 3}
		case 1:
			return []float64{-1, 0, 1}
		}
		panic("preprocess.DerivKernel: Scharr supports order 0 or 1")
	}
	if ksize == 1 && order > 0 {
		ksize = 3
	}
	if ksize == 1 {
		return []float64{1}
	}
	if ksize == 3 {
		switch order {
		case 0:
			return []float64{1, 2, 1}
		case 1:
			return []float64{-1, 0, 1}
		case 2:
			return []float64{1, -2, 1}
		}
	}
	if order >= ksize {
		panic("preprocess.DerivKernel: order must be < ksize")
	}
	k := make([]int, ksize+1)
	k[0] = 1
	for i := 0; i < ksize-order-1; i++ {
		old := k[0]
		for j := 1; j <= ksize; j++ {
			nv := k[j] + k[j-1]
			k[j-1] = old
			old = nv
		}
	}
	for i := 0; i < order; i++ {
		old := -k[0]
		for j := 1; j <= ksize; j++ {
			nv := k[j-1] - k[j]
			k[j-1] = old
			old = nv
		}
	}
	out := make([]float64, ksize)
	for i := range out {
		out[i] = float64(k[i])
	}
	return out
}

// Sobel computes the dx-th/dy-th image derivative with the extended Sobel
// operator (cv::Sobel with ddepth CV_64F, scale 1, delta 0,
// BORDER_REFLECT_101). ksize is 1, 3, 5 or 7 (or -1 for Scharr). Returns a
// [H, W] Plane; values are exact integers.
func Sobel(src *image.Gray, dx, dy, ksize int) *Plane {
	if ksize != -1 && (ksize < 1 || ksize > 31 || ksize%2 == 0) {
		panic("preprocess.Sobel: ksize must be 1, 3, 5, 7 (odd <= 31) or -1")
	}
	if dx < 0 || dy < 0 || dx+dy == 0 {
		panic("preprocess.Sobel: need dx >= 0, dy >= 0, dx+dy > 0")
	}
	kx := DerivKernel(dx, ksize)
	ky := DerivKernel(dy, ksize)
	if ksize == 1 {
		// OpenCV uses a 1-tap kernel along the direction without a derivative.
		if dx == 0 {
			kx = []float64{1}
		}
		if dy == 0 {
			ky = []float64{1}
		}
	}
	return SepFilterFloat(src, kx, ky, BorderReflect101)
}

// Laplacian computes d²/dx² + d²/dy² like cv::Laplacian with ddepth CV_64F:
// ksize 1 uses [[0 1 0] [1 -4 1] [0 1 0]], ksize 3 [[2 0 2] [0 -8 0] [2 0 2]],
// larger odd sizes the sum of the second-order Sobel derivatives.
// BORDER_REFLECT_101; [H, W] Plane.
func Laplacian(src *image.Gray, ksize int) *Plane {
	switch {
	case ksize == 1:
		return Filter2DFloat(src, &Plane{W: 3, H: 3, Pix: []float64{0, 1, 0, 1, -4, 1, 0, 1, 0}}, BorderReflect101)
	case ksize == 3:
		return Filter2DFloat(src, &Plane{W: 3, H: 3, Pix: []float64{2, 0, 2, 0, -8, 0, 2, 0, 2}}, BorderReflect101)
	case ksize > 3 && ksize%2 == 1:
		a := SepFilterFloat(src, DerivKernel(2, ksize), DerivKernel(0, ksize), BorderReflect101)
		b := SepFilterFloat(src, DerivKernel(0, ksize), DerivKernel(2, ksize), BorderReflect101)
		for i := range a.Pix {
			a.Pix[i] += b.Pix[i]
		}
		return a
	}
	panic("preprocess.Laplacian: ksize must be odd and >= 1")
}

// AddWeighted returns saturate(a·alpha + b·beta + gamma) per pixel like
// cv::addWeighted on 8-bit images: float32 with OpenCV's fused
// multiply-adds, fma(a, alpha, fma(b, beta, gamma)), which matches its AVX2
// path bit for bit. Sizes must match.
func AddWeighted(a *image.Gray, alpha float64, b *image.Gray, beta, gamma float64) *image.Gray {
	pa, w, h := grayPix(a)
	pb, w2, h2 := grayPix(b)
	if w != w2 || h != h2 {
		panic("preprocess.AddWeighted: sizes differ")
	}
	al, be, ga := float32(alpha), float32(beta), float32(gamma)
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for i := range pa {
		inner := fma32(float32(pb[i]), be, ga)
		dst.Pix[i] = satU8(float64(fma32(float32(pa[i]), al, inner)))
	}
	return dst
}

// ConvertScaleAbs returns saturate(|v·scale + shift|) per pixel
// (cv::convertScaleAbs), the usual way to view a Sobel result.
func ConvertScaleAbs(p *Plane, scale, shift float64) *image.Gray {
	dst := image.NewGray(image.Rect(0, 0, p.W, p.H))
	for i, v := range p.Pix {
		dst.Pix[i] = satU8(math.Abs(v*scale + shift))
	}
	return dst
}
