package preprocess

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Fast kernels checked against slow, obviously correct versions on random
// and structured images of awkward sizes.

var testSizes = []image.Point{{1, 1}, {1, 7}, {7, 1}, {2, 2}, {5, 3}, {31, 9}, {32, 5}, {37, 23}, {70, 33}}

func randGray(w, h int, seed uint64) *image.Gray {
	r := rand.New(rand.NewPCG(seed, 7))
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		switch seed % 3 {
		case 0:
			g.Pix[i] = uint8(r.IntN(256))
		case 1: // few levels: many ties
			g.Pix[i] = uint8(r.IntN(4) * 80)
		default: // smooth gradient plus noise
			x, y := i%w, i/w
			g.Pix[i] = clampU8(x*5 + y*3 + r.IntN(9) - 4)
		}
	}
	return g
}

// subImageCopy returns g embedded in a bigger image with a non-zero origin
// and a stride larger than its width, to exercise grayPix.
func subImageCopy(g *image.Gray) *image.Gray {
	b := g.Bounds()
	big := image.NewGray(image.Rect(-3, -2, b.Dx()+5, b.Dy()+4))
	for i := range big.Pix {
		big.Pix[i] = 99
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			big.SetGray(x, y, g.GrayAt(x, y))
		}
	}
	return big.SubImage(image.Rect(0, 0, b.Dx(), b.Dy())).(*image.Gray)
}

// forSizes runs fn on random images of every test size, once with the
// vectorised kernels (when the build has them) and once with the scalar ones.
func forSizes(t *testing.T, fn func(t *testing.T, g *image.Gray)) {
	for _, mode := range []string{"simd", "avx2", "scalar"} {
		for _, sz := range testSizes {
			for seed := uint64(0); seed < 3; seed++ {
				t.Run(fmt.Sprintf("%s/%dx%d/%d", mode, sz.X, sz.Y, seed), func(t *testing.T) {
					switch mode {
					case "avx2":
						old := hasAVX512
						hasAVX512 = false
						t.Cleanup(func() { hasAVX512 = old })
					case "scalar":
						withoutSIMD(t)
					}
					fn(t, randGray(sz.X, sz.Y, seed))
				})
			}
		}
	}
}

// withoutSIMD switches to the scalar kernels until the test ends.
func withoutSIMD(t *testing.T) {
	m, h, v, mi, ma := medianSIMD, hRowQ8SIMD, vRowQ8SIMD, minInto, maxInto
	medianSIMD, hRowQ8SIMD, vRowQ8SIMD, minInto, maxInto = nil, nil, nil, minIntoScalar, maxIntoScalar
	t.Cleanup(func() { medianSIMD, hRowQ8SIMD, vRowQ8SIMD, minInto, maxInto = m, h, v, mi, ma })
}

func TestSIMDAvailable(t *testing.T) {
	t.Logf("vectorised kernels: median %v, gaussian %v, AVX-512 narrowing %v", medianSIMD != nil, hRowQ8SIMD != nil, hasAVX512)
}

func TestGaussianBlurVsReference(t *testing.T) {
	for _, p := range []struct {
		k      int
		sx, sy float64
	}{{3, 0, 0}, {5, 0, 0}, {7, 0, 0}, {9, 0, 0}, {5, 1.2, 0.7}, {0, 1.5, 0}} {
		t.Run(fmt.Sprintf("k%d_s%g_%g", p.k, p.sx, p.sy), func(t *testing.T) {
			forSizes(t, func(t *testing.T, g *image.Gray) {
				kw, kh := p.k, p.k
				if kw == 0 {
					kw, kh = GaussianKsize(p.sx), GaussianKsize(p.sx)
				}
				sy := p.sy
				if sy == 0 {
					sy = p.sx
				}
				kx, ky := gaussianKernelQ8(kw, p.sx), gaussianKernelQ8(kh, sy)
				w, h := g.Bounds().Dx(), g.Bounds().Dy()
				want := image.NewGray(g.Bounds())
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						var s uint64
						for j := range ky {
							for i := range kx {
								v := g.GrayAt(reflect101(x+i-kw/2, w), reflect101(y+j-kh/2, h)).Y
								s += uint64(ky[j]) * uint64(kx[i]) * uint64(v)
							}
						}
						want.Pix[y*w+x] = uint8(min((s+1<<15)>>16, 255))
					}
				}
				requireGray(t, want, GaussianBlur(subImageCopy(g), p.k, p.sx, p.sy), 0)
			})
		})
	}
	for _, n := range []int{3, 5, 7, 9, 11, 15} {
		var s uint32
		for _, v := range gaussianKernelQ8(n, 0) {
			s += v
		}
		require.EqualValues(t, 256, s, "Q8 kernel %d must sum to 256", n)
	}
}

func medianRef(g *image.Gray, k int) *image.Gray {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	win := make([]uint8, 0, k*k)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			win = win[:0]
			for dy := -k / 2; dy <= k/2; dy++ {
				for dx := -k / 2; dx <= k/2; dx++ {
					win = append(win, g.GrayAt(replicate(x+dx, w), replicate(y+dy, h)).Y)
				}
			}
			slices.Sort(win)
			out.Pix[y*w+x] = win[len(win)/2]
		}
	}
	return out
}

func TestMedianBlurVsReference(t *testing.T) {
	for _, k := range []int{1, 3, 5, 7, 9} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			forSizes(t, func(t *testing.T, g *image.Gray) {
				want := medianRef(g, k)
				requireGray(t, want, MedianBlur(subImageCopy(g), k), 0)
				if k > 1 {
					out := make([]uint8, len(want.Pix))
					pix, w, h := grayPix(g)
					medianHuang(pix, out, w, h, k)
					require.Equal(t, want.Pix, out, "histogram path")
				}
			})
		})
	}
}

func TestBlurVsReference(t *testing.T) {
	for _, k := range []image.Point{{1, 1}, {3, 3}, {5, 3}, {2, 4}, {9, 9}} {
		t.Run(fmt.Sprintf("%dx%d", k.X, k.Y), func(t *testing.T) {
			forSizes(t, func(t *testing.T, g *image.Gray) {
				w, h := g.Bounds().Dx(), g.Bounds().Dy()
				want := image.NewGray(g.Bounds())
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						s := 0
						for dy := 0; dy < k.Y; dy++ {
							for dx := 0; dx < k.X; dx++ {
								s += int(g.GrayAt(reflect101(x+dx-k.X/2, w), reflect101(y+dy-k.Y/2, h)).Y)
							}
						}
						want.Pix[y*w+x] = satU8(float64(s) / float64(k.X*k.Y))
					}
				}
				requireGray(t, want, Blur(subImageCopy(g), k.X, k.Y), 0)
			})
		})
	}
}

func TestMorphologyVsReference(t *testing.T) {
	for _, sh := range []Shape{ShapeRect, ShapeEllipse, ShapeCross} {
		for _, k := range []image.Point{{3, 3}, {5, 5}, {4, 6}, {7, 3}} {
			t.Run(fmt.Sprintf("%d_%dx%d", sh, k.X, k.Y), func(t *testing.T) {
				se := StructuringElement(sh, k.X, k.Y)
				forSizes(t, func(t *testing.T, g *image.Gray) {
					w, h := g.Bounds().Dx(), g.Bounds().Dy()
					ero, dil := image.NewGray(g.Bounds()), image.NewGray(g.Bounds())
					for y := 0; y < h; y++ {
						for x := 0; x < w; x++ {
							lo, hi := uint8(255), uint8(0)
							for ky := 0; ky < se.H; ky++ {
								for kx := 0; kx < se.W; kx++ {
									sx, sy := x+kx-se.W/2, y+ky-se.H/2
									if !se.On[ky*se.W+kx] || sx < 0 || sy < 0 || sx >= w || sy >= h {
										continue
									}
									v := g.GrayAt(sx, sy).Y
									lo, hi = min(lo, v), max(hi, v)
								}
							}
							ero.Pix[y*w+x], dil.Pix[y*w+x] = lo, hi
						}
					}
					requireGray(t, ero, Erode(subImageCopy(g), se, 1), 0)
					requireGray(t, dil, Dilate(subImageCopy(g), se, 1), 0)
					requireGray(t, Erode(ero, se, 1), Erode(g, se, 2), 0)
				})
			})
		}
	}
}

// componentsRef labels with an explicit-stack flood fill, visiting seeds in
// OpenCV's numbering order (raster for 4, 2×2 blocks for 8).
func componentsRef(g *image.Gray, conn int) ([]int32, int) {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	labels := make([]int32, w*h)
	n := int32(0)
	fill := func(x0, y0 int) {
		if g.GrayAt(x0, y0).Y == 0 || labels[y0*w+x0] != 0 {
			return
		}
		n++
		stack := []image.Point{{x0, y0}}
		labels[y0*w+x0] = n
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if (dx == 0 && dy == 0) || (conn == 4 && dx != 0 && dy != 0) {
						continue
					}
					x, y := p.X+dx, p.Y+dy
					if x < 0 || y < 0 || x >= w || y >= h || g.GrayAt(x, y).Y == 0 || labels[y*w+x] != 0 {
						continue
					}
					labels[y*w+x] = n
					stack = append(stack, image.Point{x, y})
				}
			}
		}
	}
	if conn == 4 {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				fill(x, y)
			}
		}
	} else {
		for by := 0; by < h; by += 2 {
			for bx := 0; bx < w; bx += 2 {
				for dy := 0; dy < 2 && by+dy < h; dy++ {
					for dx := 0; dx < 2 && bx+dx < w; dx++ {
						fill(bx+dx, by+dy)
					}
				}
			}
		}
	}
	return labels, int(n)
}

func TestConnectedComponentsVsReference(t *testing.T) {
	for _, conn := range []int{4, 8} {
		t.Run(fmt.Sprint(conn), func(t *testing.T) {
			forSizes(t, func(t *testing.T, g *image.Gray) {
				bin := Threshold(g, 127, 255, ThreshBinary)
				want, n := componentsRef(bin, conn)
				c := ConnectedComponents(subImageCopy(bin), conn)
				require.Equal(t, n, c.Count)
				require.Equal(t, want, c.Labels)
				area := 0
				for l := 1; l <= c.Count; l++ {
					area += c.Stats[l].Area
				}
				require.Equal(t, area+c.Stats[0].Area, len(c.Labels))
			})
		})
	}
	// A U shape joins late: both arms get provisional labels first.
	u := image.NewGray(image.Rect(0, 0, 5, 4))
	for _, p := range []image.Point{{0, 0}, {4, 0}, {0, 1}, {4, 1}, {0, 2}, {4, 2}, {0, 3}, {1, 3}, {2, 3}, {3, 3}, {4, 3}, {2, 0}} {
		u.SetGray(p.X, p.Y, color.Gray{Y: 255})
	}
	c := ConnectedComponents(u, 4)
	require.Equal(t, 2, c.Count)
	require.Equal(t, 11, c.Stats[1].Area)
	require.Equal(t, ComponentStats{Area: 11, Left: 0, Top: 0, Width: 5, Height: 4}, c.Stats[1])
	require.Equal(t, ComponentStats{Area: 1, Left: 2, Top: 0, Width: 1, Height: 1}, c.Stats[2])
	require.Equal(t, 1, c.Largest())
}

func TestConnectedComponentsHugeBlob(t *testing.T) {
	// The seed's recursive fill overflows its stack here; ours is iterative.
	const n = 4000
	g := image.NewGray(image.Rect(0, 0, n, n))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	for _, conn := range []int{4, 8} {
		c := ConnectedComponents(g, conn)
		require.Equal(t, 1, c.Count)
		require.Equal(t, ComponentStats{Area: n * n, Left: 0, Top: 0, Width: n, Height: n}, c.Stats[1])
		require.Equal(t, 1, c.Largest())
	}
}

func TestSobelVsFilter2D(t *testing.T) {
	for _, p := range [][3]int{{1, 0, 1}, {0, 1, 1}, {1, 0, 3}, {1, 1, 3}, {2, 0, 5}, {1, 2, 7}, {1, 0, -1}, {0, 1, -1}} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			dx, dy, k := p[0], p[1], p[2]
			kx, ky := DerivKernel(dx, k), DerivKernel(dy, k)
			if k == 1 {
				if dx == 0 {
					kx = []float64{1}
				}
				if dy == 0 {
					ky = []float64{1}
				}
			}
			k2 := NewPlane(len(kx), len(ky))
			for j, b := range ky {
				for i, a := range kx {
					k2.Pix[j*k2.W+i] = a * b
				}
			}
			forSizes(t, func(t *testing.T, g *image.Gray) {
				require.Equal(t, Filter2DFloat(g, k2, BorderReflect101).Pix, Sobel(subImageCopy(g), dx, dy, k).Pix)
			})
		})
	}
	require.Equal(t, []float64{-1, -2, 0, 2, 1}, DerivKernel(1, 5))
	require.Equal(t, []float64{1, 4, 6, 4, 1}, DerivKernel(0, 5))
	require.Equal(t, []float64{1, 0, -2, 0, 1}, DerivKernel(2, 5))
}

func TestDFTVsNaive(t *testing.T) {
	for _, sz := range []image.Point{{1, 1}, {2, 3}, {5, 7}, {8, 8}, {13, 4}, {16, 9}, {3, 17}, {12, 30}, {45, 2}, {49, 6}, {97, 2}, {11, 26}, {64, 1}} {
		t.Run(fmt.Sprintf("%dx%d", sz.X, sz.Y), func(t *testing.T) {
			w, h := sz.X, sz.Y
			p := PlaneFromGray(randGray(w, h, 0))
			want := NewComplex(w, h)
			for v := 0; v < h; v++ {
				for u := 0; u < w; u++ {
					var s complex128
					for y := 0; y < h; y++ {
						for x := 0; x < w; x++ {
							ang := -2 * math.Pi * (float64(u*x)/float64(w) + float64(v*y)/float64(h))
							s += complex(p.Pix[y*w+x], 0) * cmplx.Rect(1, ang)
						}
					}
					want.Pix[v*w+u] = s
				}
			}
			got := DFT(p)
			for i := range want.Pix {
				require.InDelta(t, 0, cmplx.Abs(got.Pix[i]-want.Pix[i]), 1e-9*float64(w*h*255), "element %d", i)
			}
			back := IDFT(got).Real()
			for i := range p.Pix {
				require.InDelta(t, p.Pix[i], back.Pix[i], 1e-9)
			}
			require.Equal(t, got.Pix, IFFTShift(FFTShift(got)).Pix)
		})
	}
	// fftshift moves the zero frequency to (W/2, H/2) for odd and even sizes.
	for _, sz := range []image.Point{{4, 4}, {5, 3}} {
		c := NewComplex(sz.X, sz.Y)
		c.Pix[0] = 1
		s := FFTShift(c)
		require.Equal(t, complex(1, 0), s.Pix[(sz.Y/2)*sz.X+sz.X/2])
	}
}

func TestFreqFilterMasks(t *testing.T) {
	for _, kind := range []FilterKind{Ideal, Gaussian, Butterworth} {
		lp := FreqFilter{Pass: LowPass, Kind: kind, Radius: 4}.Mask(17, 12)
		hp := FreqFilter{Pass: HighPass, Kind: kind, Radius: 4}.Mask(17, 12)
		bp := FreqFilter{Pass: BandPass, Kind: kind, Radius: 2, Radius2: 5}.Mask(17, 12)
		c := 6*17 + 8
		require.Equal(t, 1.0, lp.Pix[c], "low-pass keeps DC")
		require.Equal(t, 0.0, hp.Pix[c], "high-pass removes DC")
		require.Equal(t, 0.0, bp.Pix[c], "band-pass removes DC")
		for i := range lp.Pix {
			require.InDelta(t, 1, lp.Pix[i]+hp.Pix[i], 1e-12)
			require.True(t, bp.Pix[i] >= 0 && bp.Pix[i] <= 1)
		}
	}
	// A constant image passes a low-pass filter unchanged.
	g := image.NewGray(image.Rect(0, 0, 9, 6))
	for i := range g.Pix {
		g.Pix[i] = 77
	}
	out := FrequencyFilter(g, FreqFilter{Pass: LowPass, Kind: Gaussian, Radius: 2})
	for _, v := range out.Pix {
		require.InDelta(t, 77, v, 1e-9)
	}
}

func TestBilateralFlatAndEdge(t *testing.T) {
	// Flat regions stay flat; a strong edge survives a small sigma-color.
	g := image.NewGray(image.Rect(0, 0, 20, 10))
	for y := 0; y < 10; y++ {
		for x := 0; x < 20; x++ {
			if x >= 10 {
				g.Pix[y*20+x] = 200
			} else {
				g.Pix[y*20+x] = 20
			}
		}
	}
	out := BilateralFilter(g, 5, 10, 5)
	require.Equal(t, g.Pix, out.Pix)
	rgba := GrayToRGBA(g)
	require.Equal(t, rgba.Pix, BilateralFilterRGBA(rgba, 5, 10, 5).Pix)
}
