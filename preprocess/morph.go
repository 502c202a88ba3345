package preprocess

import (
	"fmt"
	"image"
	"math"
)

// Shape is a structuring-element shape (cv::MorphShapes).
type Shape int

const (
	ShapeRect    Shape = iota // all ones
	ShapeCross                // centre row and column
	ShapeEllipse              // ellipse inscribed in the box
)

// ParseShape maps "rect", "cross", "ellipse" to a Shape.
func ParseShape(s string) (Shape, error) {
	switch s {
	case "rect":
		return ShapeRect, nil
	case "cross":
		return ShapeCross, nil
	case "ellipse":
		return ShapeEllipse, nil
	}
	return 0, fmt.Errorf("preprocess: unknown shape %q (want rect, ellipse or cross)", s)
}

// Kernel is a binary structuring element of W×H cells, row-major [H, W],
// anchored at its centre (W/2, H/2).
type Kernel struct {
	W, H int
	On   []bool
}

// StructuringElement builds a w×h element exactly as
// cv::getStructuringElement with the default (centre) anchor.
func StructuringElement(shape Shape, w, h int) Kernel {
	if w < 1 || h < 1 {
		panic("preprocess.StructuringElement: size must be >= 1")
	}
	k := Kernel{W: w, H: h, On: make([]bool, w*h)}
	ax, ay := w/2, h/2
	r, c := h/2, w/2
	invR2 := 0.0
	if r != 0 {
		invR2 = 1 / float64(r*r)
	}
	for i := 0; i < h; i++ {
		j1, j2 := 0, 0
		switch {
		case shape == ShapeRect || (shape == ShapeCross && i == ay):
			j2 = w
		case shape == ShapeCross:
			j1, j2 = ax, ax+1
		default:
			dy := i - r
			if absInt(dy) <= r {
				dx := int(math.RoundToEven(float64(c) * math.Sqrt(float64(r*r-dy*dy)*invR2)))
				j1 = max(c-dx, 0)
				j2 = min(c+dx+1, w)
			}
		}
		for j := j1; j < j2; j++ {
			k.On[i*w+j] = true
		}
	}
	return k
}

// run is a horizontal run of ones in a kernel row: offsets dy, x0..x1 (inclusive).
type run struct{ dy, x0, x1 int }

func (k Kernel) runs() []run {
	var rs []run
	for i := 0; i < k.H; i++ {
		for j := 0; j < k.W; {
			if !k.On[i*k.W+j] {
				j++
				continue
			}
			s := j
			for j < k.W && k.On[i*k.W+j] {
				j++
			}
			rs = append(rs, run{dy: i - k.H/2, x0: s - k.W/2, x1: j - 1 - k.W/2})
		}
	}
	return rs
}

// Erode is cv::erode: the minimum over the element, applied iterations
// times; pixels outside the image are ignored (OpenCV's default border
// value for morphology).
func Erode(src *image.Gray, k Kernel, iterations int) *image.Gray {
	return morphIter(src, k, iterations, true)
}

// Dilate is cv::dilate: the maximum over the element, iterations times,
// ignoring pixels outside the image.
func Dilate(src *image.Gray, k Kernel, iterations int) *image.Gray {
	return morphIter(src, k, iterations, false)
}

func morphIter(src *image.Gray, k Kernel, iterations int, erode bool) *image.Gray {
	pix, w, h := grayPix(src)
	out := make([]uint8, w*h)
	copy(out, pix)
	rs := k.runs()
	for it := 0; it < iterations; it++ {
		out = morphOnce(out, w, h, rs, erode)
	}
	return &image.Gray{Pix: out, Stride: w, Rect: image.Rect(0, 0, w, h)}
}

// morphOnce computes the min (erode) or max over the runs. The image is
// padded with the operation's identity (255 for erode, 0 for dilate), which
// is exactly "pixels outside are ignored". For each distinct horizontal span
// the running extremum of every padded row is computed with element-wise
// row passes, then the spans' rows are combined per output row.
func morphOnce(pix []uint8, w, h int, rs []run, erode bool) []uint8 {
	dst := make([]uint8, w*h)
	if len(rs) == 0 {
		return dst
	}
	ident := uint8(0)
	op := maxInto
	if erode {
		ident, op = 255, minInto
	}
	rx, ry := 0, 0
	for _, r := range rs {
		rx = max(rx, -r.x0, r.x1)
		ry = max(ry, -r.dy, r.dy)
	}
	pw, ph := w+2*rx, h+2*ry
	p := make([]uint8, pw*ph)
	for i := range p {
		p[i] = ident
	}
	for y := 0; y < h; y++ {
		copy(p[(y+ry)*pw+rx:], pix[y*w:(y+1)*w])
	}
	type span struct{ x0, x1 int }
	cache := map[span][]uint8{}
	for _, r := range rs {
		sp := span{r.x0, r.x1}
		if _, ok := cache[sp]; ok {
			continue
		}
		hm := make([]uint8, w*ph)
		for y := 0; y < ph; y++ {
			row, o := p[y*pw:(y+1)*pw], hm[y*w:(y+1)*w]
			copy(o, row[rx+r.x0:])
			for dx := r.x0 + 1; dx <= r.x1; dx++ {
				op(o, row[rx+dx:rx+dx+w])
			}
		}
		cache[sp] = hm
	}
	for i := range dst {
		dst[i] = ident
	}
	for _, r := range rs {
		hm := cache[span{r.x0, r.x1}]
		for y := 0; y < h; y++ {
			sy := y + ry + r.dy
			op(dst[y*w:(y+1)*w], hm[sy*w:(sy+1)*w])
		}
	}
	return dst
}

// minInto sets dst[i] = min(dst[i], src[i]) (src at least as long); the
// AVX2 build replaces it.
var minInto = minIntoScalar

// maxInto is minInto for max.
var maxInto = maxIntoScalar

func minIntoScalar(dst, src []uint8) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = min(dst[i], v)
	}
}

func maxIntoScalar(dst, src []uint8) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = max(dst[i], v)
	}
}

// MorphOp selects a compound morphological operation (cv::MorphTypes).
type MorphOp int

const (
	MorphErode    MorphOp = iota // erode
	MorphDilate                  // dilate
	MorphOpen                    // dilate(erode(src))
	MorphClose                   // erode(dilate(src))
	MorphGradient                // dilate(src) - erode(src)
	MorphTopHat                  // src - open(src)
	MorphBlackHat                // close(src) - src
)

var morphNames = map[string]MorphOp{
	"erode": MorphErode, "dilate": MorphDilate, "open": MorphOpen, "close": MorphClose,
	"gradient": MorphGradient, "tophat": MorphTopHat, "blackhat": MorphBlackHat,
}

// ParseMorphOp maps erode, dilate, open, close, gradient, tophat, blackhat.
func ParseMorphOp(s string) (MorphOp, error) {
	op, ok := morphNames[s]
	if !ok {
		return 0, fmt.Errorf("preprocess: unknown morphology op %q (want erode, dilate, open, close, gradient, tophat or blackhat)", s)
	}
	return op, nil
}

// MorphologyEx is cv::morphologyEx: iterations apply to each erode/dilate
// step (open = erode×n then dilate×n). Differences saturate at 0.
func MorphologyEx(src *image.Gray, op MorphOp, k Kernel, iterations int) *image.Gray {
	switch op {
	case MorphErode:
		return Erode(src, k, iterations)
	case MorphDilate:
		return Dilate(src, k, iterations)
	case MorphOpen:
		return Dilate(Erode(src, k, iterations), k, iterations)
	case MorphClose:
		return Erode(Dilate(src, k, iterations), k, iterations)
	case MorphGradient:
		return subSat(Dilate(src, k, iterations), Erode(src, k, iterations))
	case MorphTopHat:
		return subSat(src, Dilate(Erode(src, k, iterations), k, iterations))
	case MorphBlackHat:
		return subSat(Erode(Dilate(src, k, iterations), k, iterations), src)
	}
	panic("preprocess.MorphologyEx: unknown op")
}

func subSat(a, b *image.Gray) *image.Gray {
	pa, w, h := grayPix(a)
	pb, _, _ := grayPix(b)
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for i := range pa {
		dst.Pix[i] = clampU8(int(pa[i]) - int(pb[i]))
	}
	return dst
}
