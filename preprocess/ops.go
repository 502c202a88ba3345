package preprocess

import (
	"fmt"
	"image"
	"math"
)

// Ops defines every operation that is both a preprocessing step and a
// cmd/imgproc command: the one table of their parameters, defaults and
// checks (the config keys are the command's flag names).
var Ops = []OpDef{
	{Name: "gray", build: func(args) (Op, error) { return Op{Gray: identity, FromGray: true}, nil }},
	{Name: "cvtcolor", Params: []Param{
		nameP("code", "hsv", "target colour space (bgr swaps R and B); channel 0 (H or L) goes to R, 1 to G, 2 to B",
			"hsv", "hls", "lab", "bgr", "gray"),
	}, build: buildCvtColor},
	{Name: "threshold", Params: []Param{
		floatP("thresh", 127, "threshold"),
		floatP("maxval", 255, "value for pixels that pass"),
		nameP("type", "binary", "threshold type", "binary", "binary_inv", "trunc", "tozero", "tozero_inv"),
	}, build: buildThreshold},
	{Name: "otsu", build: autoThreshold(func(g *image.Gray) float64 { return float64(Otsu(g)) })},
	{Name: "iterative", build: autoThreshold(IterativeThreshold)},
	{Name: "maxentropy", build: autoThreshold(func(g *image.Gray) float64 { return float64(MaxEntropyThreshold(g)) })},
	{Name: "adaptive", Params: []Param{
		nameP("method", "mean", "local threshold from the block's mean or Gaussian-weighted mean", "mean", "gaussian"),
		intP("block", 7, "odd block size >= 3"),
		floatP("c", 2, "constant subtracted from the local mean"),
		nameP("type", "binary", "threshold type", "binary", "binary_inv"),
		floatP("maxval", 255, "value for pixels that pass"),
	}, build: buildAdaptive},
	{Name: "blur", Params: []Param{intP("ksize", 5, "box size")}, build: buildBlur},
	{Name: "gaussian", Params: []Param{
		intP("ksize", 7, "odd kernel size (0: from sigma)"),
		floatP("sigma", 0, "sigma X (0: from ksize)"),
		floatP("sigma_y", 0, "sigma Y (0: same as sigma)"),
	}, build: buildGaussian},
	{Name: "median", Params: []Param{intP("ksize", 5, "odd aperture size")}, build: buildMedian},
	{Name: "bilateral", Params: []Param{
		intP("d", 7, "neighbourhood diameter (<= 0: from sigma_space)"),
		floatP("sigma_color", 75, "colour sigma"),
		floatP("sigma_space", 75, "space sigma"),
	}, build: buildBilateral},
	{Name: "filter2d", Params: []Param{
		{Key: "kernel", Kind: MatrixParam, Default: [][]float64{{0, -1, 0}, {-1, 5, -1}, {0, -1, 0}},
			Help: "kernel rows (on the command line: rows separated by ';', values by ',')"},
	}, build: buildFilter2D},
	{Name: "sobel", Params: []Param{
		intP("dx", 1, "x derivative order"),
		intP("dy", 0, "y derivative order"),
		intP("ksize", 3, "1, 3, 5, 7 (-1: Scharr)"),
	}, build: buildSobel},
	{Name: "laplacian", Params: []Param{intP("ksize", 1, "odd aperture size <= 31")}, build: buildLaplacian},
	{Name: "morph", Params: []Param{
		nameP("morph", "open", "morphological operation", "erode", "dilate", "open", "close", "gradient", "tophat", "blackhat"),
		nameP("shape", "rect", "structuring element shape", "rect", "ellipse", "cross"),
		intP("ksize", 5, "structuring element size"),
		intP("iterations", 1, "iterations of each erode/dilate"),
	}, build: buildMorph},
	{Name: "fft", Params: []Param{
		nameP("filter", "lowpass", "frequency band kept", "lowpass", "highpass", "bandpass"),
		nameP("kind", "gaussian", "filter profile", "ideal", "gaussian", "butterworth"),
		floatP("radius", 30, "cutoff radius in frequency samples (inner radius for bandpass)"),
		floatP("radius2", 0, "outer radius for bandpass"),
		intP("order", 2, "Butterworth order"),
		nameP("scale", "auto", "8-bit conversion: clip (round, clamp to 0..255), minmax, or auto (clip for lowpass, minmax otherwise)",
			"auto", "clip", "minmax"),
	}, build: buildFFT},
}

func intP(key string, def int, help string) Param {
	return Param{Key: key, Kind: IntParam, Default: def, Help: help}
}

func floatP(key string, def float64, help string) Param {
	return Param{Key: key, Kind: FloatParam, Default: def, Help: help}
}

func nameP(key, def, help string, choices ...string) Param {
	return Param{Key: key, Kind: NameParam, Default: def, Choices: choices, Help: help}
}

// maxKsize bounds window sizes so that a typo cannot exhaust memory or time.
const maxKsize = 1001

func checkOdd(name string, k int) error {
	if k < 1 || k%2 == 0 {
		return fmt.Errorf("%s must be odd and >= 1, got %d", name, k)
	}
	if k > maxKsize {
		return fmt.Errorf("%s must be <= %d, got %d", name, maxKsize, k)
	}
	return nil
}

func identity(g *image.Gray) *image.Gray { return g }

func buildCvtColor(a args) (Op, error) {
	switch a.name("code") {
	case "hsv":
		return Op{Colour: HSV}, nil
	case "hls":
		return Op{Colour: HLS}, nil
	case "lab":
		return Op{Colour: Lab}, nil
	case "bgr":
		return Op{Colour: SwapRB}, nil
	}
	return Op{Gray: identity, FromGray: true}, nil
}

func buildThreshold(a args) (Op, error) {
	t, err := ParseThresholdType(a.name("type"))
	if err != nil {
		return Op{}, err
	}
	thresh, mv := a.float("thresh"), a.float("maxval")
	return Op{FromGray: true, Gray: func(g *image.Gray) *image.Gray { return Threshold(g, thresh, mv, t) }}, nil
}

func autoThreshold(find func(*image.Gray) float64) func(args) (Op, error) {
	return func(args) (Op, error) {
		return Op{FromGray: true, Gray: func(g *image.Gray) *image.Gray { return Threshold(g, find(g), 255, ThreshBinary) }}, nil
	}
}

func buildAdaptive(a args) (Op, error) {
	m, err := ParseAdaptiveMethod(a.name("method"))
	if err != nil {
		return Op{}, err
	}
	b := a.int("block")
	if b < 3 || b%2 == 0 || b > maxKsize {
		return Op{}, fmt.Errorf("block must be odd and in [3, %d], got %d", maxKsize, b)
	}
	mv, c, inv := a.float("maxval"), a.float("c"), a.name("type") == "binary_inv"
	return Op{FromGray: true, Gray: func(g *image.Gray) *image.Gray { return AdaptiveThreshold(g, mv, m, inv, b, c) }}, nil
}

func buildBlur(a args) (Op, error) {
	k := a.int("ksize")
	if k < 1 || k > maxKsize {
		return Op{}, fmt.Errorf("ksize must be in [1, %d], got %d", maxKsize, k)
	}
	return Op{Gray: func(g *image.Gray) *image.Gray { return Blur(g, k, k) }}, nil
}

func buildGaussian(a args) (Op, error) {
	k, s, sy := a.int("ksize"), a.float("sigma"), a.float("sigma_y")
	if k < 0 || (k > 0 && k%2 == 0) || (k == 0 && s <= 0) {
		return Op{}, fmt.Errorf("ksize must be odd (or 0 with sigma > 0), got %d", k)
	}
	if s < 0 || sy < 0 || s > 160 || sy > 160 || k > maxKsize {
		return Op{}, fmt.Errorf("need 0 <= sigmas <= 160 and ksize <= %d", maxKsize)
	}
	return Op{Gray: func(g *image.Gray) *image.Gray { return GaussianBlur(g, k, s, sy) }}, nil
}

func buildMedian(a args) (Op, error) {
	k := a.int("ksize")
	if err := checkOdd("ksize", k); err != nil {
		return Op{}, err
	}
	return Op{Gray: func(g *image.Gray) *image.Gray { return MedianBlur(g, k) }}, nil
}

func buildBilateral(a args) (Op, error) {
	d, sc, ss := a.int("d"), a.float("sigma_color"), a.float("sigma_space")
	if d > 99 || (d <= 0 && math.Round(ss*1.5) > 49) {
		return Op{}, fmt.Errorf("d must be <= 99 (or sigma_space <= 33 with d <= 0), got %d", d)
	}
	return Op{
		Gray:   func(g *image.Gray) *image.Gray { return BilateralFilter(g, d, sc, ss) },
		Colour: func(img *image.RGBA) *image.RGBA { return BilateralFilterRGBA(img, d, sc, ss) },
	}, nil
}

func buildFilter2D(a args) (Op, error) {
	rows := a.matrix("kernel")
	k := NewPlane(len(rows[0]), len(rows))
	for y, r := range rows {
		copy(k.Pix[y*k.W:], r)
	}
	return Op{Gray: func(g *image.Gray) *image.Gray { return Filter2D(g, k) }}, nil
}

func saturateAbs(p *Plane) *image.Gray { return ConvertScaleAbs(p, 1, 0) }

// floatOp is a gray-input op with a float result and its 8-bit conversion.
func floatOp(f func(*image.Gray) *Plane, to8 func(*Plane) *image.Gray) Op {
	return Op{FromGray: true, Float: f, Gray: func(g *image.Gray) *image.Gray { return to8(f(g)) }}
}

func buildSobel(a args) (Op, error) {
	dx, dy, k := a.int("dx"), a.int("dy"), a.int("ksize")
	if k != -1 && k != 1 && k != 3 && k != 5 && k != 7 {
		return Op{}, fmt.Errorf("ksize must be 1, 3, 5, 7 or -1, got %d", k)
	}
	lim := max(k, 3)
	if k == -1 {
		lim = 2
	}
	if dx < 0 || dy < 0 || dx+dy == 0 || dx >= lim || dy >= lim || (k == -1 && dx+dy != 1) {
		return Op{}, fmt.Errorf("bad derivative orders dx %d dy %d for ksize %d", dx, dy, k)
	}
	return floatOp(func(g *image.Gray) *Plane { return Sobel(g, dx, dy, k) }, saturateAbs), nil
}

func buildLaplacian(a args) (Op, error) {
	k := a.int("ksize")
	if err := checkOdd("ksize", k); err != nil {
		return Op{}, err
	}
	if k > 31 {
		return Op{}, fmt.Errorf("ksize must be <= 31, got %d", k)
	}
	return floatOp(func(g *image.Gray) *Plane { return Laplacian(g, k) }, saturateAbs), nil
}

func buildMorph(a args) (Op, error) {
	mo, err := ParseMorphOp(a.name("morph"))
	if err != nil {
		return Op{}, err
	}
	sh, err := ParseShape(a.name("shape"))
	if err != nil {
		return Op{}, err
	}
	k, it := a.int("ksize"), a.int("iterations")
	if k < 1 || k > maxKsize {
		return Op{}, fmt.Errorf("ksize must be in [1, %d], got %d", maxKsize, k)
	}
	if it < 0 || it > maxKsize {
		return Op{}, fmt.Errorf("iterations must be in [0, %d], got %d", maxKsize, it)
	}
	se := StructuringElement(sh, k, k)
	return Op{Gray: func(g *image.Gray) *image.Gray { return MorphologyEx(g, mo, se, it) }}, nil
}

func buildFFT(a args) (Op, error) {
	f, err := ParseFreqFilter(a.name("filter"), a.name("kind"), a.float("radius"), a.float("radius2"))
	if err != nil {
		return Op{}, err
	}
	if f.Order = a.int("order"); f.Order < 1 {
		return Op{}, fmt.Errorf("order must be >= 1, got %d", f.Order)
	}
	to8 := (*Plane).Normalize
	if s := a.name("scale"); s == "clip" || (s == "auto" && f.Pass == LowPass) {
		to8 = (*Plane).ToGray8
	}
	return floatOp(func(g *image.Gray) *Plane { return FrequencyFilter(g, f) }, to8), nil
}
