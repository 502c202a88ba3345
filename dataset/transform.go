package dataset

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/gocls/gocls/preprocess"
)

// Normalize is the model's input convention; it comes from the weights'
// preprocessing: out = ((pixel/255)*Scale - Mean[c]) / Std[c], with the
// output channels in BGR order when BGR is true. A zero Std or Scale is read as
// 1, so Normalize{} maps pixels to [0,1].
type Normalize struct {
	Mean, Std [3]float32
	Scale     float32
	BGR       bool
}

// affine returns per-output-channel a, b with out = v*a + b for v in [0,255],
// and the source channel of each output channel.
func (n Normalize) affine() (a, b [3]float32, srcCh [3]int) {
	scale := n.Scale
	if scale == 0 {
		scale = 1
	}
	for c := 0; c < 3; c++ {
		std := n.Std[c]
		if std == 0 {
			std = 1
		}
		a[c] = scale / 255 / std
		b[c] = -n.Mean[c] / std
		srcCh[c] = c
		if n.BGR {
			srcCh[c] = 2 - c
		}
	}
	return a, b, srcCh
}

// apply normalises buf ([H, W, 3] float32 values in [0,255]) in place.
func (n Normalize) apply(buf []float32) {
	a, b, ch := n.affine()
	for i := 0; i+2 < len(buf); i += 3 {
		v0, v1, v2 := buf[i+ch[0]], buf[i+ch[1]], buf[i+ch[2]]
		buf[i] = v0*a[0] + b[0]
		buf[i+1] = v1*a[1] + b[1]
		buf[i+2] = v2*a[2] + b[2]
	}
}

// Transform turns a decoded image into a normalised [H, W, 3] float32 crop
// (channels-last, row-major). Build one with TrainTransform or EvalTransform;
// it is immutable and safe for concurrent use.
type Transform struct {
	h, w          int
	train         bool
	aug           AugmentConfig
	resizeShorter int // eval: shorter side target
	norm          Normalize
	pre           preprocess.Step // run on the decoded image first (nil: none); see WithSteps
	auto          *autoAugment    // TrainTransform: TrivialAugmentWide or RandAugment (nil: off)
}

// Len returns the number of float32 values Apply writes (H*W*3).
func (t Transform) Len() int { return t.h * t.w * 3 }

// TrainTransform is the training pipeline producing crop x crop images, in
// this order: random-resized-crop (torchvision's RandomResizedCrop: area
// fraction a.Scale, log-uniform aspect a.Ratio, 10 tries then a centre crop;
// Pillow's antialiased bilinear resize, exactly) or, when a.RandomResizedCrop is false, resize
// of the shorter side to crop followed by a random crop with a.Padding of zero
// padding (a.RandomCrop) or a centre crop; horizontal flip with probability
// a.HFlip; TrivialAugmentWide or RandAugment (a.AutoAugment: torchvision's,
// on the 8-bit crop); rotation by U(-a.Rotation, a.Rotation) degrees
// (bilinear, zero fill); colour jitter (a.Jitter, torchvision semantics, random order);
// normalisation n. All randomness comes from the rng passed to Apply.
func TrainTransform(a AugmentConfig, crop int, n Normalize) Transform {
	if crop <= 0 {
		panic(fmt.Sprintf("dataset: TrainTransform: crop must be > 0, got %d", crop))
	}
	return Transform{h: crop, w: crop, train: true, aug: a, auto: newAutoAugment(a, crop, crop), norm: n}
}

// EvalTransform resizes the shorter side to resizeShorter (the longer one to
// floor(long*resizeShorter/short), as torchvision), takes the centre
// crop x crop window (offsets rounded half to even, as torchvision) and
// normalises. The resize and crop are fused: only the window is computed.
// Before normalisation the values equal torchvision's
// T.CenterCrop(crop)(T.Resize(resizeShorter)(img)) on a PIL image exactly
// (the resize is Pillow's; see the package documentation).
func EvalTransform(resizeShorter, crop int, n Normalize) Transform {
	if crop <= 0 || resizeShorter < crop {
		panic(fmt.Sprintf("dataset: EvalTransform: need 0 < crop <= resizeShorter, got %d, %d", crop, resizeShorter))
	}
	return Transform{h: crop, w: crop, resizeShorter: resizeShorter, norm: n}
}

// Apply writes the transform of img into dst (len >= Len()). Train transforms
// draw all their randomness from rng; eval transforms ignore it (nil is fine).
// Images other than *image.RGBA are first converted with DecodeOptions{}.
func (t Transform) Apply(dst []float32, img image.Image, rng *rand.Rand) {
	if len(dst) < t.Len() {
		panic(fmt.Sprintf("dataset: Transform.Apply: dst has %d values, need %d", len(dst), t.Len()))
	}
	src, ok := img.(*image.RGBA)
	if !ok {
		src = toRGB(img, Info{}, DecodeOptions{})
	}
	if t.pre != nil {
		src = t.pre(src)
	}
	job := t.plan(src.Rect.Dx(), src.Rect.Dy(), rng)
	job.box = job.box.Add(src.Rect.Min)
	t.render(dst, src, job, rng)
}

// render runs a planned job on src (whose Rect must cover job.sourceRect())
// and the post-processing.
func (t Transform) render(dst []float32, src *image.RGBA, job resampleJob, rng *rand.Rand) {
	dst = dst[:t.Len()]
	resampleRGBA(dst, src, job)
	t.post(dst, rng)
}

// plan draws the geometric parameters (crop box, flip) for a width x height
// source, consuming rng in a fixed order.
func (t Transform) plan(width, height int, rng *rand.Rand) resampleJob {
	if !t.train {
		return evalJob(width, height, t.resizeShorter, t.w, t.h)
	}
	a := t.aug
	var job resampleJob
	if a.RandomResizedCrop {
		x, y, w, h := rrcParams(width, height, a.Scale, a.Ratio, rng)
		job = resampleJob{box: image.Rect(x, y, x+w, y+h), fullW: t.w, fullH: t.h, outW: t.w, outH: t.h}
	} else {
		rw, rh := resizeShorterSize(width, height, t.w)
		job = resampleJob{box: image.Rect(0, 0, width, height), fullW: rw, fullH: rh, outW: t.w, outH: t.h}
		if a.RandomCrop {
			p := a.Padding
			job.offY = rng.IntN(rh+2*p-t.h+1) - p
			job.offX = rng.IntN(rw+2*p-t.w+1) - p
		} else {
			job.offX, job.offY = centreOffset(rw, t.w), centreOffset(rh, t.h)
		}
	}
	if a.HFlip > 0 && rng.Float64() < a.HFlip {
		job.flip = true
	}
	return job
}

func evalJob(width, height, shorter, cw, ch int) resampleJob {
	rw, rh := resizeShorterSize(width, height, shorter)
	return resampleJob{
		box: image.Rect(0, 0, width, height), fullW: rw, fullH: rh,
		offX: centreOffset(rw, cw), offY: centreOffset(rh, ch), outW: cw, outH: ch,
	}
}

// resizeShorterSize is torchvision's Resize(int) output size.
func resizeShorterSize(w, h, shorter int) (int, int) {
	if w <= h {
		return shorter, max(1, int(int64(shorter)*int64(h)/int64(w)))
	}
	return max(1, int(int64(shorter)*int64(w)/int64(h))), shorter
}

// centreOffset is torchvision's center_crop offset int(round((size-crop)/2)).
func centreOffset(size, crop int) int {
	return int(math.RoundToEven(float64(size-crop) / 2))
}

// rrcParams is torchvision's RandomResizedCrop.get_params.
func rrcParams(width, height int, scale, ratio [2]float64, rng *rand.Rand) (x, y, w, h int) {
	area := float64(width * height)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for try := 0; try < 10; try++ {
		target := area * (scale[0] + (scale[1]-scale[0])*rng.Float64())
		aspect := math.Exp(lr0 + (lr1-lr0)*rng.Float64())
		w = int(math.RoundToEven(math.Sqrt(target * aspect)))
		h = int(math.RoundToEven(math.Sqrt(target / aspect)))
		if w > 0 && w <= width && h > 0 && h <= height {
			y = rng.IntN(height - h + 1)
			x = rng.IntN(width - w + 1)
			return x, y, w, h
		}
	}
	in := float64(width) / float64(height)
	switch {
	case in < ratio[0]:
		w = width
		h = int(math.RoundToEven(float64(w) / ratio[0]))
	case in > ratio[1]:
		h = height
		w = int(math.RoundToEven(float64(h) * ratio[1]))
	default:
		w, h = width, height
	}
	w, h = max(1, min(w, width)), max(1, min(h, height))
	return (width - w) / 2, (height - h) / 2, w, h
}

// post applies auto-augmentation, rotation, colour jitter and normalisation
// to buf ([H,W,3] in [0,255]).
func (t Transform) post(buf []float32, rng *rand.Rand) {
	if t.train {
		if t.auto != nil {
			t.auto.apply(buf, rng)
		}
		if t.aug.Rotation > 0 {
			angle := (2*rng.Float64() - 1) * t.aug.Rotation
			rotate(buf, t.w, t.h, angle)
		}
		j := t.aug.Jitter
		if j.Brightness > 0 || j.Contrast > 0 || j.Saturation > 0 || j.Hue > 0 {
			colorJitter(buf, j, rng)
		}
	}
	t.norm.apply(buf)
}

// rotate turns buf ([h,w,3]) by angle degrees counter-clockwise about its
// centre with bilinear sampling; pixels from outside the image are 0.
func rotate(buf []float32, w, h int, angle float64) {
	src := make([]float32, len(buf))
	copy(src, buf)
	rad := angle * math.Pi / 180
	cos, sin := math.Cos(rad), math.Sin(rad)
	cx, cy := float64(w)/2, float64(h)/2
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// Inverse map: output (x,y) comes from source rotated by -angle
			// (y axis points down, so counter-clockwise on screen).
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			sx := cos*dx - sin*dy + cx - 0.5
			sy := sin*dx + cos*dy + cy - 0.5
			o := (y*w + x) * 3
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := float32(sx-float64(x0)), float32(sy-float64(y0))
			var acc [3]float32
			for k := 0; k < 4; k++ {
				xx, yy := x0+k&1, y0+k>>1
				if xx < 0 || yy < 0 || xx >= w || yy >= h {
					continue
				}
				wx, wy := fx, fy
				if k&1 == 0 {
					wx = 1 - fx
				}
				if k>>1 == 0 {
					wy = 1 - fy
				}
				p := (yy*w + xx) * 3
				for c := 0; c < 3; c++ {
					acc[c] += wx * wy * src[p+c]
				}
			}
			buf[o], buf[o+1], buf[o+2] = acc[0], acc[1], acc[2]
		}
	}
}

// colorJitter is torchvision's ColorJitter on [0,255] RGB values: factors are
// drawn first (brightness, contrast, saturation, hue), then the enabled
// adjustments run in a random order, clamping to [0,255] after each.
func colorJitter(buf []float32, j JitterConfig, rng *rand.Rand) {
	uni := func(x float64) float32 { return float32(1 - x + 2*x*rng.Float64()) }
	order := rng.Perm(4)
	var bf, cf, sf float32 = 1, 1, 1
	var hf float32
	if j.Brightness > 0 {
		bf = uni(j.Brightness)
	}
	if j.Contrast > 0 {
		cf = uni(j.Contrast)
	}
	if j.Saturation > 0 {
		sf = uni(j.Saturation)
	}
	if j.Hue > 0 {
		hf = float32((2*rng.Float64() - 1) * j.Hue)
	}
	for _, op := range order {
		switch {
		case op == 0 && j.Brightness > 0:
			for i, v := range buf {
				buf[i] = clamp255(v * bf)
			}
		case op == 1 && j.Contrast > 0:
			var sum float64
			for i := 0; i+2 < len(buf); i += 3 {
				sum += float64(gray(buf[i], buf[i+1], buf[i+2]))
			}
			mean := float32(sum / float64(len(buf)/3))
			for i, v := range buf {
				buf[i] = clamp255(mean + cf*(v-mean))
			}
		case op == 2 && j.Saturation > 0:
			for i := 0; i+2 < len(buf); i += 3 {
				g := gray(buf[i], buf[i+1], buf[i+2])
				buf[i] = clamp255(g + sf*(buf[i]-g))
				buf[i+1] = clamp255(g + sf*(buf[i+1]-g))
				buf[i+2] = clamp255(g + sf*(buf[i+2]-g))
			}
		case op == 3 && j.Hue > 0:
			for i := 0; i+2 < len(buf); i += 3 {
				h, s, v := rgbToHSV(buf[i], buf[i+1], buf[i+2])
				h += hf
				h -= float32(math.Floor(float64(h)))
				buf[i], buf[i+1], buf[i+2] = hsvToRGB(h, s, v)
			}
		}
	}
}

func clamp255(v float32) float32 { return min(max(v, 0), 255) }

// gray is ITU-R 601-2 luma, as PIL's convert("L").
func gray(r, g, b float32) float32 { return 0.299*r + 0.587*g + 0.114*b }

// rgbToHSV maps [0,255] RGB to h, s in [0,1) and v in [0,255].
func rgbToHSV(r, g, b float32) (h, s, v float32) {
	mx, mn := max(r, g, b), min(r, g, b)
	v = mx
	d := mx - mn
	if mx <= 0 || d <= 0 {
		return 0, 0, v
	}
	s = d / mx
	switch mx {
	case r:
		h = (g - b) / d
	case g:
		h = 2 + (b-r)/d
	default:
		h = 4 + (r-g)/d
	}
	h /= 6
	if h < 0 {
		h++
	}
	return h, s, v
}

func hsvToRGB(h, s, v float32) (r, g, b float32) {
	if s <= 0 {
		return v, v, v
	}
	h6 := h * 6
	i := int(h6) % 6
	f := h6 - float32(int(h6))
	p := v * (1 - s)
	q := v * (1 - s*f)
	t := v * (1 - s*(1-f))
	switch i {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}
