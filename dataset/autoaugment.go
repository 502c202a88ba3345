package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// TrivialAugmentWide and RandAugment as torchvision 0.14 applies them to PIL
// images (torchvision.transforms.autoaugment): the same 14 operations, the
// same magnitude bins (num_magnitude_bins=31) and the same pixels for a given
// (operation, magnitude); see autoaugment_ops.go. Only the random draws come
// from the sample's RNG instead of torch's generator. They run on the 8-bit
// crop after random-resized-crop and flip, as T.TrivialAugmentWide() or
// T.RandAugment() placed between RandomHorizontalFlip and ToTensor.

// The config values of AugmentConfig.AutoAugment: torchvision's reference
// training scripts' --auto-augment names.
const (
	AutoAugmentTrivialWide = "ta_wide" // TrivialAugmentWide
	AutoAugmentRand        = "ra"      // RandAugment
)

// autoOp is one operation of the augmentation space, in torchvision's order.
type autoOp uint8

const (
	opIdentity autoOp = iota
	opShearX
	opShearY
	opTranslateX
	opTranslateY
	opRotate
	opBrightness
	opColor
	opContrast
	opSharpness
	opPosterize
	opSolarize
	opAutoContrast
	opEqualize
	numAutoOps
)

var autoOpNames = [numAutoOps]string{"Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate",
	"Brightness", "Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize"}

func (o autoOp) String() string { return autoOpNames[o] }

// autoBins is torchvision's default num_magnitude_bins for both transforms.
const autoBins = 31

// opRange is one entry of torchvision's _augmentation_space: the magnitude
// bins (nil for the operations without a magnitude, a 0-d tensor there) and
// whether a drawn magnitude is negated with probability 1/2.
type opRange struct {
	mags   []float64
	signed bool
}

// trivialAugmentSpace is TrivialAugmentWide._augmentation_space(31).
func trivialAugmentSpace() [numAutoOps]opRange {
	return [numAutoOps]opRange{
		opShearX:     {linspace32(0, 0.99, autoBins), true},
		opShearY:     {linspace32(0, 0.99, autoBins), true},
		opTranslateX: {linspace32(0, 32, autoBins), true},
		opTranslateY: {linspace32(0, 32, autoBins), true},
		opRotate:     {linspace32(0, 135, autoBins), true},
		opBrightness: {linspace32(0, 0.99, autoBins), true},
		opColor:      {linspace32(0, 0.99, autoBins), true},
		opContrast:   {linspace32(0, 0.99, autoBins), true},
		opSharpness:  {linspace32(0, 0.99, autoBins), true},
		opPosterize:  {posterizeBits(autoBins, 6), false},
		opSolarize:   {linspace32(255, 0, autoBins), false},
	}
}

// randAugmentSpace is RandAugment._augmentation_space(31, (h, w)): the
// translations scale with the image.
func randAugmentSpace(h, w int) [numAutoOps]opRange {
	return [numAutoOps]opRange{
		opShearX:     {linspace32(0, 0.3, autoBins), true},
		opShearY:     {linspace32(0, 0.3, autoBins), true},
		opTranslateX: {linspace32(0, 150.0/331.0*float64(w), autoBins), true},
		opTranslateY: {linspace32(0, 150.0/331.0*float64(h), autoBins), true},
		opRotate:     {linspace32(0, 30, autoBins), true},
		opBrightness: {linspace32(0, 0.9, autoBins), true},
		opColor:      {linspace32(0, 0.9, autoBins), true},
		opContrast:   {linspace32(0, 0.9, autoBins), true},
		opSharpness:  {linspace32(0, 0.9, autoBins), true},
		opPosterize:  {posterizeBits(autoBins, 4), false},
		opSolarize:   {linspace32(255, 0, autoBins), false},
	}
}

// linspace32 is torch.linspace(start, end, n) in float32 as the CPU kernel
// of torch 1.13 (Debian's python3-torch, AVX2 kernel) computes it: the first
// 2*8 values (when n >= 16) in two vectors of base + k*step, the others one
// by one as start + step*i (first half) or end - step*(n-1-i) (second half)
// with a single rounding (the compiled kernel fuses the multiply-add). At a
// few bins this differs by one float32 ulp from the plain formula;
// TestAutoAugmentSpaces checks every bin against torch's values.
func linspace32(start, end float64, n int) []float64 {
	s, e := float32(start), float32(end)
	step := (e - s) / float32(n-1)
	half := n / 2
	out := make([]float64, n)
	i := 0
	for ; i <= n-16; i += 16 {
		for _, b := range [2]int{i, i + 8} {
			var base float32
			if b < half {
				base = s + float32(step*float32(b))
			} else {
				base = e - float32(step*float32(n-b-1))
			}
			for k := 0; k < 8; k++ {
				out[b+k] = float64(base + float32(float32(k)*step))
			}
		}
	}
	for ; i < n; i++ {
		if i < half {
			out[i] = float64(fma32(float32(i), step, s))
		} else {
			out[i] = float64(fma32(-float32(n-i-1), step, e))
		}
	}
	return out
}

// fma32 is a*b+c rounded once to float32. The product of two float32 is
// exact in float64, and so is the sum for linspace's operands (exponents
// within a few binades), so the only rounding is the final one.
func fma32(a, b, c float32) float32 { return float32(float64(a)*float64(b) + float64(c)) }

// posterizeBits is torchvision's 8 - (arange(n) / ((n-1)/div)).round().int()
// (float32 division, rounding half to even).
func posterizeBits(n int, div float64) []float64 {
	d := float32(float64(n-1) / div)
	out := make([]float64, n)
	for i := range out {
		out[i] = 8 - math.RoundToEven(float64(float32(i)/d))
	}
	return out
}

// opDraw is one drawn operation and its signed magnitude.
type opDraw struct {
	op  autoOp
	mag float64
}

// autoAugment is a configured TrivialAugmentWide or RandAugment for one image
// size. It is safe for concurrent use.
type autoAugment struct {
	space     [numAutoOps]opRange
	wide      bool // TrivialAugmentWide: one op, magnitude bin drawn uniformly
	numOps    int  // RandAugment: ops applied in sequence
	magnitude int  // RandAugment: the bin of every op
	w, h      int
	scratch   sync.Pool // *autoScratch
}

// newAutoAugment returns the augmentation a.AutoAugment names for w x h
// images, nil when it is off. a must be valid (Config.Validate).
func newAutoAugment(a AugmentConfig, w, h int) *autoAugment {
	switch a.AutoAugment {
	case "":
		return nil
	case AutoAugmentTrivialWide:
		return &autoAugment{space: trivialAugmentSpace(), wide: true, numOps: 1, w: w, h: h}
	case AutoAugmentRand:
		return &autoAugment{space: randAugmentSpace(h, w), numOps: a.RANumOps, magnitude: a.RAMagnitude, w: w, h: h}
	}
	panic(fmt.Sprintf("dataset: TrainTransform: unknown auto_augment %q", a.AutoAugment))
}

// draw appends the operations of one image to ops, consuming rng as
// torchvision consumes torch's generator: the op index, then (TrivialAugment,
// ops with bins) the bin, then (signed ops) the sign.
func (a *autoAugment) draw(rng *rand.Rand, ops []opDraw) []opDraw {
	for range a.numOps {
		op := autoOp(rng.IntN(int(numAutoOps)))
		r := a.space[op]
		var mag float64
		if r.mags != nil {
			bin := a.magnitude
			if a.wide {
				bin = rng.IntN(len(r.mags))
			}
			mag = r.mags[bin]
		}
		if r.signed && rng.IntN(2) == 1 {
			mag = -mag
		}
		ops = append(ops, opDraw{op, mag})
	}
	return ops
}

// autoScratch is one goroutine's working memory: the image, a second image
// for the operations that cannot work in place, and the nearest-neighbour
// column table.
type autoScratch struct {
	img, tmp []uint8
	cols     []int
	ops      []opDraw
}

// apply draws the operations and applies them to buf, a w x h [0,255] RGB
// crop whose values are whole numbers (the resampler's 8-bit output).
func (a *autoAugment) apply(buf []float32, rng *rand.Rand) {
	sc, _ := a.scratch.Get().(*autoScratch)
	if sc == nil {
		n := a.w * a.h * 3
		sc = &autoScratch{img: make([]uint8, n), tmp: make([]uint8, n), cols: make([]int, a.w)}
	}
	defer a.scratch.Put(sc)
	sc.ops = a.draw(rng, sc.ops[:0])
	for i, v := range buf[:len(sc.img)] {
		sc.img[i] = uint8(v) // exact: whole numbers in [0,255]
	}
	img := pixels{sc.img, a.w, a.h}
	tmp := pixels{sc.tmp, a.w, a.h}
	for _, d := range sc.ops {
		if applyOp(d.op, d.mag, img, tmp, sc.cols) {
			img, tmp = tmp, img
		}
	}
	for i, v := range img.pix {
		buf[i] = float32(v)
	}
}
