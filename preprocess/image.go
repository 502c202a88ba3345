package preprocess

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// Plane is a single-channel float64 image, row-major with layout [H, W]:
// the pixel at column x, row y is Pix[y*W+x]. Float results (Sobel,
// Laplacian, log-magnitude, phase) are Planes.
type Plane struct {
	W, H int
	Pix  []float64
}

// NewPlane returns a zeroed w×h Plane.
func NewPlane(w, h int) *Plane { return &Plane{W: w, H: h, Pix: make([]float64, w*h)} }

// Complex is a single-channel complex128 image with layout [H, W] (row-major),
// the result of DFT.
type Complex struct {
	W, H int
	Pix  []complex128
}

// NewComplex returns a zeroed w×h Complex image.
func NewComplex(w, h int) *Complex { return &Complex{W: w, H: h, Pix: make([]complex128, w*h)} }

// PlaneFromGray converts an 8-bit image to a Plane with the same values.
func PlaneFromGray(src *image.Gray) *Plane {
	pix, w, h := grayPix(src)
	p := NewPlane(w, h)
	for i, v := range pix {
		p.Pix[i] = float64(v)
	}
	return p
}

// ToGray8 converts a Plane to 8 bits with OpenCV's saturate_cast (round half
// to even, clamp to [0, 255]), like Mat.convertTo(CV_8U).
func (p *Plane) ToGray8() *image.Gray {
	dst := image.NewGray(image.Rect(0, 0, p.W, p.H))
	for i, v := range p.Pix {
		dst.Pix[i] = satU8(v)
	}
	return dst
}

// Normalize maps the Plane's range [min, max] linearly onto [0, 255] and
// rounds, like cv::normalize(NORM_MINMAX, CV_8U). A constant Plane gives zeros.
func (p *Plane) Normalize() *image.Gray {
	dst := image.NewGray(image.Rect(0, 0, p.W, p.H))
	if len(p.Pix) == 0 {
		return dst
	}
	lo, hi := p.Pix[0], p.Pix[0]
	for _, v := range p.Pix {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	if hi <= lo {
		return dst
	}
	scale := 255 / (hi - lo)
	for i, v := range p.Pix {
		dst.Pix[i] = satU8((v - lo) * scale)
	}
	return dst
}

// satU8 is OpenCV's saturate_cast<uchar>(double): round half to even, clamp.
func satU8(v float64) uint8 {
	r := math.RoundToEven(v)
	if r <= 0 || math.IsNaN(r) {
		return 0
	}
	if r >= 255 {
		return 255
	}
	return uint8(r)
}

// clampU8 clamps an int to [0, 255].
func clampU8(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// grayPix returns src's pixels as a contiguous row-major slice (a view when
// src is already contiguous, otherwise a copy) and its size.
func grayPix(src *image.Gray) ([]uint8, int, int) {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if src.Stride == w {
		off := src.PixOffset(b.Min.X, b.Min.Y)
		return src.Pix[off : off+w*h], w, h
	}
	pix := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		off := src.PixOffset(b.Min.X, b.Min.Y+y)
		copy(pix[y*w:(y+1)*w], src.Pix[off:off+w])
	}
	return pix, w, h
}

// reflect101 maps an out-of-range index into [0, n) as OpenCV's
// BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba); n == 1 maps everything to 0.
func reflect101(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		} else {
			i = 2*n - 2 - i
		}
	}
	return i
}

// replicate maps an index into [0, n) as BORDER_REPLICATE (aaaa|abcd|dddd).
func replicate(i, n int) int {
	if i < 0 {
		return 0
	}
	if i >= n {
		return n - 1
	}
	return i
}

// Border selects how pixels outside the image are synthesised.
type Border int

const (
	// BorderReflect101 is OpenCV's default BORDER_REFLECT_101: gfedcb|abcdefgh|gfedcba.
	BorderReflect101 Border = iota
	// BorderReplicate repeats the edge pixel: aaaaaa|abcdefgh|hhhhhhh.
	BorderReplicate
)

func (b Border) index(i, n int) int {
	if b == BorderReplicate {
		return replicate(i, n)
	}
	return reflect101(i, n)
}

// borderTable returns, for positions -pad..n+pad-1, the source index under b.
func borderTable(n, pad int, b Border) []int {
	t := make([]int, n+2*pad)
	for i := range t {
		t[i] = b.index(i-pad, n)
	}
	return t
}

// ToRGBA converts any decoded image to a contiguous *image.RGBA whose alpha
// is 255, ignoring the source alpha as cv2.imread(IMREAD_COLOR) does (colour
// values are the non-premultiplied ones). Grayscale sources are replicated.
func ToRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch s := img.(type) {
	case *image.RGBA:
		for y := 0; y < b.Dy(); y++ {
			row := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			out := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				c := color.RGBA{row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]}
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = n.R, n.G, n.B, 255
			}
		}
	case *image.NRGBA:
		for y := 0; y < b.Dy(); y++ {
			row := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			out := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = row[4*x], row[4*x+1], row[4*x+2], 255
			}
		}
	case *image.Gray:
		for y := 0; y < b.Dy(); y++ {
			row := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			out := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				v := row[x]
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = v, v, v, 255
			}
		}
	case *image.YCbCr:
		draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	default:
		for y := 0; y < b.Dy(); y++ {
			out := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				n := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = n.R, n.G, n.B, 255
			}
		}
	}
	return dst
}

// ToGray converts any decoded image to 8-bit gray: gray sources are copied,
// colour ones use OpenCV's RGB2GRAY weights (see Gray).
func ToGray(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok {
		pix, w, h := grayPix(g)
		dst := image.NewGray(image.Rect(0, 0, w, h))
		copy(dst.Pix, pix)
		return dst
	}
	return Gray(ToRGBA(img))
}

// Split returns the R, G, B and A channels of src as gray images.
func Split(src *image.RGBA) [4]*image.Gray {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	var out [4]*image.Gray
	for c := range out {
		out[c] = image.NewGray(image.Rect(0, 0, w, h))
	}
	for y := 0; y < h; y++ {
		row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
		for x := 0; x < w; x++ {
			i := y*w + x
			out[0].Pix[i], out[1].Pix[i], out[2].Pix[i], out[3].Pix[i] = row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
		}
	}
	return out
}

// Merge builds an RGBA image from channel images of equal size; a nil alpha
// means 255. It panics if the sizes differ (a programmer error).
func Merge(r, g, b, a *image.Gray) *image.RGBA {
	rp, w, h := grayPix(r)
	gp, w2, h2 := grayPix(g)
	bp, w3, h3 := grayPix(b)
	if w2 != w || w3 != w || h2 != h || h3 != h {
		panic("preprocess.Merge: channel sizes differ")
	}
	var ap []uint8
	if a != nil {
		var w4, h4 int
		ap, w4, h4 = grayPix(a)
		if w4 != w || h4 != h {
			panic("preprocess.Merge: channel sizes differ")
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		al := uint8(255)
		if ap != nil {
			al = ap[i]
		}
		dst.Pix[4*i], dst.Pix[4*i+1], dst.Pix[4*i+2], dst.Pix[4*i+3] = rp[i], gp[i], bp[i], al
	}
	return dst
}

// PerChannel applies a single-channel operation to R, G and B of src and
// keeps alpha, the way OpenCV filters a 3-channel Mat channel by channel.
func PerChannel(src *image.RGBA, op func(*image.Gray) *image.Gray) *image.RGBA {
	ch := Split(src)
	return Merge(op(ch[0]), op(ch[1]), op(ch[2]), ch[3])
}

// GrayToRGBA replicates a gray image into R, G and B with alpha 255.
func GrayToRGBA(g *image.Gray) *image.RGBA { return Merge(g, g, g, nil) }
