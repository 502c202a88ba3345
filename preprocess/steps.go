package preprocess

import (
	"fmt"
	"image"
)

// Step is one configured preprocessing operation on a colour image. Steps
// are deterministic and safe for concurrent use; the input is not modified.
type Step func(*image.RGBA) *image.RGBA

// StepConfig is one entry of a preprocessing list in a config file, e.g.
// YAML `{op: gaussian, ksize: 5}`. Op selects the operation; the other
// fields are its parameters (zero means the documented default).
type StepConfig struct {
	Op         string      `yaml:"op" json:"op"`
	Ksize      int         `yaml:"ksize,omitempty" json:"ksize,omitempty"`
	Sigma      float64     `yaml:"sigma,omitempty" json:"sigma,omitempty"`
	SigmaY     float64     `yaml:"sigma_y,omitempty" json:"sigma_y,omitempty"`
	D          int         `yaml:"d,omitempty" json:"d,omitempty"`
	SigmaColor float64     `yaml:"sigma_color,omitempty" json:"sigma_color,omitempty"`
	SigmaSpace float64     `yaml:"sigma_space,omitempty" json:"sigma_space,omitempty"`
	Thresh     float64     `yaml:"thresh,omitempty" json:"thresh,omitempty"`
	Maxval     float64     `yaml:"maxval,omitempty" json:"maxval,omitempty"`
	Type       string      `yaml:"type,omitempty" json:"type,omitempty"`
	Method     string      `yaml:"method,omitempty" json:"method,omitempty"`
	Block      int         `yaml:"block,omitempty" json:"block,omitempty"`
	C          float64     `yaml:"c,omitempty" json:"c,omitempty"`
	Morph      string      `yaml:"morph,omitempty" json:"morph,omitempty"`
	Shape      string      `yaml:"shape,omitempty" json:"shape,omitempty"`
	Iterations int         `yaml:"iterations,omitempty" json:"iterations,omitempty"`
	Dx         int         `yaml:"dx,omitempty" json:"dx,omitempty"`
	Dy         int         `yaml:"dy,omitempty" json:"dy,omitempty"`
	Filter     string      `yaml:"filter,omitempty" json:"filter,omitempty"`
	Kind       string      `yaml:"kind,omitempty" json:"kind,omitempty"`
	Radius     float64     `yaml:"radius,omitempty" json:"radius,omitempty"`
	Radius2    float64     `yaml:"radius2,omitempty" json:"radius2,omitempty"`
	Kernel     [][]float64 `yaml:"kernel,omitempty" json:"kernel,omitempty"`
}

// StepOps lists the operations ParseSteps accepts.
var StepOps = []string{"gray", "bgr", "hsv", "hls", "lab", "blur", "gaussian", "median", "bilateral",
	"filter2d", "threshold", "otsu", "iterative", "maxentropy", "adaptive", "morph", "sobel", "laplacian", "fft"}

// ParseSteps validates configs and turns each into a Step. Errors name the
// step index and op: "preprocess: step 1 (gaussian): ksize must be odd, got 4".
func ParseSteps(cfgs []StepConfig) ([]Step, error) {
	steps := make([]Step, len(cfgs))
	for i, c := range cfgs {
		s, err := parseStep(c)
		if err != nil {
			return nil, fmt.Errorf("preprocess: step %d (%s): %w", i, c.Op, err)
		}
		steps[i] = s
	}
	return steps, nil
}

// Chain composes steps left to right into one Step (identity when empty).
func Chain(steps []Step) Step {
	return func(img *image.RGBA) *image.RGBA {
		for _, s := range steps {
			img = s(img)
		}
		return img
	}
}

// maxKsize bounds window sizes from configs.
const maxKsize = 1001

func oddKsize(k, def int) (int, error) {
	if k == 0 {
		k = def
	}
	if k < 1 || k%2 == 0 {
		return 0, fmt.Errorf("ksize must be odd and >= 1, got %d", k)
	}
	if k > maxKsize {
		return 0, fmt.Errorf("ksize must be <= %d, got %d", maxKsize, k)
	}
	return k, nil
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// viaGray runs a single-channel op on the gray image and replicates the result.
func viaGray(op func(*image.Gray) *image.Gray) Step {
	return func(img *image.RGBA) *image.RGBA { return GrayToRGBA(op(Gray(img))) }
}

func perChannel(op func(*image.Gray) *image.Gray) Step {
	return func(img *image.RGBA) *image.RGBA { return PerChannel(img, op) }
}

func parseStep(c StepConfig) (Step, error) {
	switch c.Op {
	case "gray":
		return viaGray(func(g *image.Gray) *image.Gray { return g }), nil
	case "bgr":
		return SwapRB, nil
	case "hsv":
		return HSV, nil
	case "hls":
		return HLS, nil
	case "lab":
		return Lab, nil
	case "blur":
		k, err := oddKsize(c.Ksize, 3)
		if err != nil {
			return nil, err
		}
		return perChannel(func(g *image.Gray) *image.Gray { return Blur(g, k, k) }), nil
	case "gaussian":
		if c.Sigma < 0 || c.SigmaY < 0 {
			return nil, fmt.Errorf("sigma must be >= 0")
		}
		k := c.Ksize
		if k == 0 && c.Sigma == 0 {
			k = 5
		}
		if k < 0 || (k > 0 && k%2 == 0) {
			return nil, fmt.Errorf("ksize must be odd, got %d", k)
		}
		if k > maxKsize || c.Sigma > 160 || c.SigmaY > 160 {
			return nil, fmt.Errorf("need ksize <= %d and sigmas <= 160", maxKsize)
		}
		return perChannel(func(g *image.Gray) *image.Gray { return GaussianBlur(g, k, c.Sigma, c.SigmaY) }), nil
	case "median":
		k, err := oddKsize(c.Ksize, 3)
		if err != nil {
			return nil, err
		}
		return perChannel(func(g *image.Gray) *image.Gray { return MedianBlur(g, k) }), nil
	case "bilateral":
		d := c.D
		if d == 0 {
			d = 9
		}
		sc, ss := orDefault(c.SigmaColor, 75), orDefault(c.SigmaSpace, 75)
		if d > 99 || (d < 0 && ss > 33) {
			return nil, fmt.Errorf("d must be <= 99 (or sigma_space <= 33 with d < 0), got %d", d)
		}
		return func(img *image.RGBA) *image.RGBA { return BilateralFilterRGBA(img, d, sc, ss) }, nil
	case "filter2d":
		if len(c.Kernel) == 0 || len(c.Kernel[0]) == 0 {
			return nil, fmt.Errorf("kernel must be a non-empty matrix")
		}
		k := NewPlane(len(c.Kernel[0]), len(c.Kernel))
		for y, row := range c.Kernel {
			if len(row) != k.W {
				return nil, fmt.Errorf("kernel row %d has %d values, want %d", y, len(row), k.W)
			}
			copy(k.Pix[y*k.W:], row)
		}
		return perChannel(func(g *image.Gray) *image.Gray { return Filter2D(g, k) }), nil
	case "threshold":
		t, err := ParseThresholdType(orString(c.Type, "binary"))
		if err != nil {
			return nil, err
		}
		mv := orDefault(c.Maxval, 255)
		return perChannel(func(g *image.Gray) *image.Gray { return Threshold(g, c.Thresh, mv, t) }), nil
	case "otsu":
		return viaGray(func(g *image.Gray) *image.Gray {
			return Threshold(g, float64(Otsu(g)), 255, ThreshBinary)
		}), nil
	case "iterative":
		return viaGray(func(g *image.Gray) *image.Gray {
			return Threshold(g, IterativeThreshold(g), 255, ThreshBinary)
		}), nil
	case "maxentropy":
		return viaGray(func(g *image.Gray) *image.Gray {
			return Threshold(g, float64(MaxEntropyThreshold(g)), 255, ThreshBinary)
		}), nil
	case "adaptive":
		m, err := ParseAdaptiveMethod(orString(c.Method, "mean"))
		if err != nil {
			return nil, err
		}
		b := c.Block
		if b == 0 {
			b = 11
		}
		if b < 3 || b%2 == 0 {
			return nil, fmt.Errorf("block must be odd and >= 3, got %d", b)
		}
		inv := false
		switch c.Type {
		case "", "binary":
		case "binary_inv":
			inv = true
		default:
			return nil, fmt.Errorf("adaptive type must be binary or binary_inv, got %q", c.Type)
		}
		mv := orDefault(c.Maxval, 255)
		return viaGray(func(g *image.Gray) *image.Gray { return AdaptiveThreshold(g, mv, m, inv, b, c.C) }), nil
	case "morph":
		op, err := ParseMorphOp(orString(c.Morph, "open"))
		if err != nil {
			return nil, err
		}
		sh, err := ParseShape(orString(c.Shape, "rect"))
		if err != nil {
			return nil, err
		}
		k := c.Ksize
		if k == 0 {
			k = 3
		}
		if k < 1 || k > maxKsize {
			return nil, fmt.Errorf("ksize must be in [1, %d], got %d", maxKsize, k)
		}
		it := c.Iterations
		if it == 0 {
			it = 1
		}
		if it < 0 {
			return nil, fmt.Errorf("iterations must be >= 1, got %d", it)
		}
		se := StructuringElement(sh, k, k)
		return perChannel(func(g *image.Gray) *image.Gray { return MorphologyEx(g, op, se, it) }), nil
	case "sobel":
		k := c.Ksize
		if k == 0 {
			k = 3
		}
		if k != 1 && k != 3 && k != 5 && k != 7 {
			return nil, fmt.Errorf("ksize must be 1, 3, 5 or 7, got %d", k)
		}
		dx, dy := c.Dx, c.Dy
		if dx == 0 && dy == 0 {
			dx = 1
		}
		if dx < 0 || dy < 0 || dx >= max(k, 3) || dy >= max(k, 3) {
			return nil, fmt.Errorf("need 0 <= dx, dy < ksize, got dx=%d dy=%d", dx, dy)
		}
		return viaGray(func(g *image.Gray) *image.Gray { return ConvertScaleAbs(Sobel(g, dx, dy, k), 1, 0) }), nil
	case "laplacian":
		k, err := oddKsize(c.Ksize, 1)
		if err != nil {
			return nil, err
		}
		return viaGray(func(g *image.Gray) *image.Gray { return ConvertScaleAbs(Laplacian(g, k), 1, 0) }), nil
	case "fft":
		f, err := ParseFreqFilter(orString(c.Filter, "lowpass"), orString(c.Kind, "gaussian"), c.Radius, c.Radius2)
		if err != nil {
			return nil, err
		}
		return perChannel(func(g *image.Gray) *image.Gray { return FrequencyFilter(g, f).ToGray8() }), nil
	case "":
		return nil, fmt.Errorf("missing op (want one of %v)", StepOps)
	}
	return nil, fmt.Errorf("unknown op %q (want one of %v)", c.Op, StepOps)
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ParseAdaptiveMethod maps "mean" and "gaussian" to an AdaptiveMethod.
func ParseAdaptiveMethod(s string) (AdaptiveMethod, error) {
	switch s {
	case "mean":
		return AdaptiveMean, nil
	case "gaussian":
		return AdaptiveGaussian, nil
	}
	return 0, fmt.Errorf("preprocess: unknown adaptive method %q (want mean or gaussian)", s)
}
