package preprocess

import (
	"image"
	"testing"
)

// Benchmarks run on a 500×375 photo: testdata/photo.png (160×120) upscaled
// with bilinear interpolation. b.SetBytes counts one byte per pixel for gray
// ops and four for RGBA ones, so the MB/s column of a gray op is MP/s.
// Report single-core figures with -cpu 1.

const benchW, benchH = 500, 375

func benchInputs(b *testing.B) (*image.RGBA, *image.Gray) {
	src := photo(b, "photo.png")
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	dst := image.NewRGBA(image.Rect(0, 0, benchW, benchH))
	for y := 0; y < benchH; y++ {
		fy := (float64(y)+0.5)*float64(sh)/benchH - 0.5
		y0 := max(int(fy), 0)
		y1 := min(y0+1, sh-1)
		wy := max(fy-float64(y0), 0)
		for x := 0; x < benchW; x++ {
			fx := (float64(x)+0.5)*float64(sw)/benchW - 0.5
			x0 := max(int(fx), 0)
			x1 := min(x0+1, sw-1)
			wx := max(fx-float64(x0), 0)
			for c := 0; c < 4; c++ {
				p := func(xx, yy int) float64 { return float64(src.Pix[yy*src.Stride+4*xx+c]) }
				v := (1-wy)*((1-wx)*p(x0, y0)+wx*p(x1, y0)) + wy*((1-wx)*p(x0, y1)+wx*p(x1, y1))
				dst.Pix[y*dst.Stride+4*x+c] = satU8(v)
			}
		}
	}
	return dst, Gray(dst)
}

func benchGray(b *testing.B, op func(*image.Gray)) {
	_, g := benchInputs(b)
	b.SetBytes(int64(benchW * benchH))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		op(g)
	}
}

func benchRGBA(b *testing.B, op func(*image.RGBA)) {
	c, _ := benchInputs(b)
	b.SetBytes(int64(4 * benchW * benchH))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		op(c)
	}
}

func BenchmarkGray(b *testing.B)  { benchRGBA(b, func(c *image.RGBA) { Gray(c) }) }
func BenchmarkHSV(b *testing.B)   { benchRGBA(b, func(c *image.RGBA) { HSV(c) }) }
func BenchmarkHLS(b *testing.B)   { benchRGBA(b, func(c *image.RGBA) { HLS(c) }) }
func BenchmarkLab(b *testing.B)   { benchRGBA(b, func(c *image.RGBA) { Lab(c) }) }
func BenchmarkSplit(b *testing.B) { benchRGBA(b, func(c *image.RGBA) { Split(c) }) }

func BenchmarkFilter2D3x3(b *testing.B) {
	k := &Plane{W: 3, H: 3, Pix: []float64{0, -1, 0, -1, 5, -1, 0, -1, 0}}
	benchGray(b, func(g *image.Gray) { Filter2D(g, k) })
}
func BenchmarkBlur5(b *testing.B)     { benchGray(b, func(g *image.Gray) { Blur(g, 5, 5) }) }
func BenchmarkGaussian3(b *testing.B) { benchGray(b, func(g *image.Gray) { GaussianBlur(g, 3, 0, 0) }) }
func BenchmarkGaussian5(b *testing.B) { benchGray(b, func(g *image.Gray) { GaussianBlur(g, 5, 0, 0) }) }
func BenchmarkGaussian7(b *testing.B) { benchGray(b, func(g *image.Gray) { GaussianBlur(g, 7, 0, 0) }) }
func BenchmarkGaussian5RGBA(b *testing.B) {
	benchRGBA(b, func(c *image.RGBA) {
		PerChannel(c, func(g *image.Gray) *image.Gray { return GaussianBlur(g, 5, 0, 0) })
	})
}
func BenchmarkMedian3(b *testing.B) { benchGray(b, func(g *image.Gray) { MedianBlur(g, 3) }) }
func BenchmarkMedian5(b *testing.B) { benchGray(b, func(g *image.Gray) { MedianBlur(g, 5) }) }
func BenchmarkMedian5Histogram(b *testing.B) {
	benchGray(b, func(g *image.Gray) {
		pix, w, h := grayPix(g)
		medianHuang(pix, make([]uint8, w*h), w, h, 5)
	})
}
func BenchmarkMedian7(b *testing.B) { benchGray(b, func(g *image.Gray) { MedianBlur(g, 7) }) }
func BenchmarkBilateral7(b *testing.B) {
	benchGray(b, func(g *image.Gray) { BilateralFilter(g, 7, 75, 75) })
}
func BenchmarkBilateral9RGBA(b *testing.B) {
	benchRGBA(b, func(c *image.RGBA) { BilateralFilterRGBA(c, 9, 75, 75) })
}
func BenchmarkThreshold(b *testing.B) {
	benchGray(b, func(g *image.Gray) { Threshold(g, 127, 255, ThreshBinary) })
}
func BenchmarkOtsu(b *testing.B)       { benchGray(b, func(g *image.Gray) { Otsu(g) }) }
func BenchmarkIterative(b *testing.B)  { benchGray(b, func(g *image.Gray) { IterativeThreshold(g) }) }
func BenchmarkMaxEntropy(b *testing.B) { benchGray(b, func(g *image.Gray) { MaxEntropyThreshold(g) }) }
func BenchmarkAdaptiveMean7(b *testing.B) {
	benchGray(b, func(g *image.Gray) { AdaptiveThreshold(g, 255, AdaptiveMean, false, 7, 2) })
}
func BenchmarkAdaptiveGaussian7(b *testing.B) {
	benchGray(b, func(g *image.Gray) { AdaptiveThreshold(g, 255, AdaptiveGaussian, false, 7, 2) })
}
func BenchmarkSobel3(b *testing.B)     { benchGray(b, func(g *image.Gray) { Sobel(g, 1, 0, 3) }) }
func BenchmarkLaplacian1(b *testing.B) { benchGray(b, func(g *image.Gray) { Laplacian(g, 1) }) }
func BenchmarkAddWeighted(b *testing.B) {
	benchGray(b, func(g *image.Gray) { AddWeighted(g, 0.5, g, 0.5, 0) })
}
func BenchmarkErodeRect5(b *testing.B) {
	k := StructuringElement(ShapeRect, 5, 5)
	benchGray(b, func(g *image.Gray) { Erode(g, k, 1) })
}
func BenchmarkDilateEllipse5(b *testing.B) {
	k := StructuringElement(ShapeEllipse, 5, 5)
	benchGray(b, func(g *image.Gray) { Dilate(g, k, 1) })
}
func BenchmarkOpenCross5(b *testing.B) {
	k := StructuringElement(ShapeCross, 5, 5)
	benchGray(b, func(g *image.Gray) { MorphologyEx(g, MorphOpen, k, 1) })
}
func BenchmarkComponents8(b *testing.B) {
	_, g := benchInputs(b)
	bin := Threshold(g, float64(Otsu(g)), 255, ThreshBinary)
	b.SetBytes(int64(benchW * benchH))
	b.ReportAllocs()
	for b.Loop() {
		ConnectedComponents(bin, 8)
	}
}
func BenchmarkDFT(b *testing.B) { benchGray(b, func(g *image.Gray) { DFT(PlaneFromGray(g)) }) }
func BenchmarkFrequencyFilter(b *testing.B) {
	f := FreqFilter{Pass: LowPass, Kind: Gaussian, Radius: 30}
	benchGray(b, func(g *image.Gray) { FrequencyFilter(g, f) })
}
func BenchmarkSpectrum(b *testing.B) { benchGray(b, func(g *image.Gray) { spectrum(g) }) }
