package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/gocls/gocls/dataset"
)

// MixupConfig mixes the images of a training batch and their targets as
// timm's Mixup does in mode "batch": one draw per batch, each image mixed
// with the image at the mirrored position of the batch (x.flip(0)).
type MixupConfig struct {
	MixupAlpha  float64 `yaml:"mixup_alpha"`  // Beta(a,a) of mixup's lambda (default 0: no mixup)
	CutmixAlpha float64 `yaml:"cutmix_alpha"` // Beta(a,a) of cutmix's lambda (default 0: no cutmix)
	Prob        float64 `yaml:"prob"`         // probability that a batch is mixed at all (default 1)
	SwitchProb  float64 `yaml:"switch_prob"`  // with both alphas, probability of cutmix rather than mixup (default 0.5)
	Mode        string  `yaml:"mode"`         // "batch" (default; the only mode)
}

func (m MixupConfig) enabled() bool { return m.MixupAlpha > 0 || m.CutmixAlpha > 0 }

// mixParams is one batch's draw: target weight Lam of the batch's own
// labels and, for cutmix, the box [YL,YH)x[XL,XH) pasted from the mirrored
// image. Lam 1 without Cutmix leaves the batch as it is.
type mixParams struct {
	Lam            float64
	Cutmix         bool
	YL, YH, XL, XH int
}

var noMix = mixParams{Lam: 1}

func (p mixParams) values() []float32 {
	cut := float32(0)
	if p.Cutmix {
		cut = 1
	}
	return []float32{float32(p.Lam), cut, float32(p.YL), float32(p.YH), float32(p.XL), float32(p.XH)}
}

// mixRNG is the random stream of one batch: a function of the run seed, the
// epoch and the batch index only, so that a resumed run draws the same.
func mixRNG(seed int64, epoch, batch int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(epoch)<<32|uint64(batch)))
}

// draw is timm Mixup._params_per_batch followed, for cutmix, by
// cutmix_bbox_and_lam with correct_lam (lambda becomes 1 - box area / image
// area, the box being clipped to an h x w image).
func (m MixupConfig) draw(rng *rand.Rand, h, w int) mixParams {
	if !m.enabled() || rng.Float64() >= m.Prob {
		return noMix
	}
	var p mixParams
	switch {
	case m.MixupAlpha > 0 && m.CutmixAlpha > 0:
		p.Cutmix = rng.Float64() < m.SwitchProb
		if p.Cutmix {
			p.Lam = betaSample(rng, m.CutmixAlpha)
		} else {
			p.Lam = betaSample(rng, m.MixupAlpha)
		}
	case m.MixupAlpha > 0:
		p.Lam = betaSample(rng, m.MixupAlpha)
	default:
		p.Cutmix = true
		p.Lam = betaSample(rng, m.CutmixAlpha)
	}
	if !p.Cutmix {
		return p
	}
	ratio := math.Sqrt(1 - p.Lam)
	cutH, cutW := int(float64(h)*ratio), int(float64(w)*ratio)
	cy, cx := rng.IntN(h), rng.IntN(w)
	p.YL, p.YH = clampInt(cy-cutH/2, 0, h), clampInt(cy+cutH/2, 0, h)
	p.XL, p.XH = clampInt(cx-cutW/2, 0, w), clampInt(cx+cutW/2, 0, w)
	p.Lam = 1 - float64((p.YH-p.YL)*(p.XH-p.XL))/float64(h*w)
	return p
}

func clampInt(v, lo, hi int) int { return min(max(v, lo), hi) }

// betaSample draws from Beta(a, a) as X/(X+Y) with X, Y ~ Gamma(a).
func betaSample(rng *rand.Rand, a float64) float64 {
	x, y := gammaSample(rng, a), gammaSample(rng, a)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}

// gammaSample draws from Gamma(a, 1) (Marsaglia and Tsang; for a < 1,
// Gamma(a+1)*U^(1/a)).
func gammaSample(rng *rand.Rand, a float64) float64 {
	if a < 1 {
		return gammaSample(rng, a+1) * math.Pow(1-rng.Float64(), 1/a)
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// mixer mixes the training batches in the graph; norm normalises uint8
// pixel batches first (the loader's Pixels), so that the mixing happens on
// the network's inputs, as timm's.
type mixer struct {
	norm dataset.Normalize
}

func (m *mixer) images(images, mix *Node) *Node {
	if images.DType() == dtypes.Uint8 {
		images = normalizeNode(images, m.norm)
	}
	return mixImages(images, mix)
}

// mixImages mixes images [batch, H, W, C] with their mirror along the batch
// as mix (mixParams.values) says: lam*x + (1-lam)*flip(x), or flip(x) pasted
// into the cutmix box.
func mixImages(images, mix *Node) *Node {
	g := images.Graph()
	dt := images.DType()
	at := func(i int) *Node { return ConvertDType(Reshape(Slice(mix, AxisElem(i))), dt) }
	flipped := Reverse(images, 0)
	lam := at(0)
	blended := Add(Mul(images, lam), Mul(flipped, OneMinus(lam)))
	dims := images.Shape().Dimensions
	rows := Iota(g, shapes.Make(dt, 1, dims[1], dims[2], 1), 1)
	cols := Iota(g, shapes.Make(dt, 1, dims[1], dims[2], 1), 2)
	inBox := And(And(GreaterOrEqual(rows, at(2)), LessThan(rows, at(3))),
		And(GreaterOrEqual(cols, at(4)), LessThan(cols, at(5))))
	cut := Where(BroadcastToShape(inBox, images.Shape()), flipped, images)
	isCut := GreaterThan(at(1), ScalarZero(g, dt))
	return Where(BroadcastToShape(isCut, images.Shape()), cut, blended)
}

// mixTarget is timm's mixup_target: smoothed one-hot targets (on 1-e+e/C,
// off e/C) of labels [batch], lam times their own plus 1-lam times the
// mirrored batch's.
func mixTarget(labels, mix *Node, classes int, smoothing float64, dt dtypes.DType) *Node {
	off := smoothing / float64(classes)
	y := AddScalar(MulScalar(OneHot(labels, classes, dt), 1-smoothing), off)
	lam := ConvertDType(Reshape(Slice(mix, AxisElem(0))), dt)
	return Add(Mul(y, lam), Mul(Reverse(y, 0), OneMinus(lam)))
}

// softCrossEntropy is -sum(target * log_softmax(logits)) per example
// (timm's SoftTargetCrossEntropy before its mean).
func softCrossEntropy(logits, target *Node) *Node {
	return Neg(ReduceSum(Mul(target, LogSoftmax(logits, -1)), -1))
}

func (m MixupConfig) validate(accumSteps int) error {
	switch {
	case !(m.MixupAlpha >= 0):
		return fmt.Errorf("mixup.mixup_alpha must be >= 0 (0: off), got %g", m.MixupAlpha)
	case !(m.CutmixAlpha >= 0):
		return fmt.Errorf("mixup.cutmix_alpha must be >= 0 (0: off), got %g", m.CutmixAlpha)
	case !(m.Prob >= 0 && m.Prob <= 1):
		return fmt.Errorf("mixup.prob must be in [0,1], got %g", m.Prob)
	case !(m.SwitchProb >= 0 && m.SwitchProb <= 1):
		return fmt.Errorf("mixup.switch_prob must be in [0,1], got %g", m.SwitchProb)
	case m.Mode != "batch":
		return fmt.Errorf("mixup.mode must be batch (the only mode implemented), got %q", m.Mode)
	case m.enabled() && accumSteps > 1:
		return fmt.Errorf("mixup.mixup_alpha and mixup.cutmix_alpha need optim.accum_steps 1, got %d", accumSteps)
	}
	return nil
}
