// Command imgproc applies one preprocess operation to an image file.
//
//	imgproc OP [flags] IN OUT
//
// 8-bit results are written as PNG, float results as NumPy .npy (float64,
// shape [H, W]); scalar results are printed to stdout as one JSON line.
// Any PNG/JPEG/GIF/BMP/TIFF/WebP input is accepted (the content decides,
// not the extension). Blurs, morphology and colour conversions work per
// channel on colour input (like OpenCV on a 3-channel Mat); thresholds,
// gradients, components and the frequency-domain ops convert colour input
// to gray with OpenCV's weights first. cvtcolor writes channel 0 (H or L)
// to the PNG's red, 1 to green and 2 to blue. Exit status: 0 success,
// 1 failure (unreadable input, write error), 2 usage error. Run
// `imgproc help` for the ops.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/gif"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/gocls/gocls/internal/atomicfile"
	"github.com/gocls/gocls/preprocess"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

type opSpec struct {
	usage string
	flags func(fs *flag.FlagSet) func(in image.Image, out string, stdout io.Writer) error
}

var ops = map[string]opSpec{
	"decode":      {"IN OUT.png   (the decoded 8-bit RGB image)", opDecode},
	"gray":        {"IN OUT.png", opGray},
	"cvtcolor":    {"-code hsv|hls|lab|bgr|gray IN OUT.png", opCvtColor},
	"threshold":   {"-thresh 127 -maxval 255 -type binary|binary_inv|trunc|tozero|tozero_inv IN OUT.png", opThreshold},
	"otsu":        {"IN OUT.png   (prints {\"threshold\": T})", autoThreshold(func(g *image.Gray) float64 { return float64(preprocess.Otsu(g)) })},
	"iterative":   {"IN OUT.png   (prints {\"threshold\": T})", autoThreshold(preprocess.IterativeThreshold)},
	"maxentropy":  {"IN OUT.png   (prints {\"threshold\": T})", autoThreshold(func(g *image.Gray) float64 { return float64(preprocess.MaxEntropyThreshold(g)) })},
	"adaptive":    {"-method mean|gaussian -block 7 -c 2 [-type binary|binary_inv] [-maxval 255] IN OUT.png", opAdaptive},
	"blur":        {"-ksize 5 IN OUT.png", opBlur},
	"gaussian":    {"-ksize 7 [-sigma 0] [-sigma-y 0] IN OUT.png", opGaussian},
	"median":      {"-ksize 5 IN OUT.png", opMedian},
	"bilateral":   {"-d 7 -sigma-color 75 -sigma-space 75 IN OUT.png", opBilateral},
	"filter2d":    {"-kernel '0,-1,0;-1,5,-1;0,-1,0' IN OUT.png", opFilter2D},
	"sobel":       {"-dx 1 -dy 0 -ksize 5 IN OUT.npy   (OUT.png: |result| saturated)", opSobel},
	"laplacian":   {"[-ksize 1] IN OUT.npy   (OUT.png: |result| saturated)", opLaplacian},
	"addweighted": {"-with IN2 -alpha 0.5 -beta 0.5 [-gamma 0] IN OUT.png", opAddWeighted},
	"morph":       {"-op erode|dilate|open|close|gradient|tophat|blackhat -shape rect|ellipse|cross -ksize 5 [-iterations 1] IN OUT.png", opMorph},
	"components":  {"-connectivity 4|8 IN OUT.png   (Otsu-binarised; prints {\"count\": N, \"largest_area\": A})", opComponents},
	"fft":         {"-filter lowpass|highpass|bandpass -kind ideal|gaussian|butterworth -radius R [-radius2 R2] [-order 2] [-scale auto|clip|minmax] IN OUT.png|OUT.npy", opFFT},
	"spectrum":    {"IN OUT.png   (log(1+|F|), shifted, min-max scaled; OUT.npy: unscaled)", opSpectrum},
	"phase":       {"IN OUT.npy   (shifted phase in radians; OUT.png: min-max scaled)", opPhase},
	"swap":        {"-with IN2 IN OUT.png   (amplitude of IN, phase of IN2; min-max scaled, or OUT.npy)", opSwap},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: imgproc OP [flags] IN OUT")
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  imgproc %s %s\n", n, ops[n].usage)
	}
}

// run executes the command line args (without the program name) and
// returns the exit status: 0 success, 1 failure, 2 usage error.
func run(args []string, stdout, stderr io.Writer) int {
	if err := runErr(args, stdout, stderr); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "imgproc: %v\n", err)
			return 2
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func runErr(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return fmt.Errorf("%w: missing OP", errUsage)
		}
		return nil
	}
	spec, ok := ops[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("%w: unknown op %q", errUsage, args[0])
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "usage: imgproc %s %s\n", args[0], spec.usage) }
	do := spec.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %s: %v", errUsage, args[0], err)
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return fmt.Errorf("%w: %s: want IN OUT, got %d arguments", errUsage, args[0], fs.NArg())
	}
	in, out := fs.Arg(0), fs.Arg(1)
	img, err := decode(in)
	if err != nil {
		return err
	}
	if err := do(img, out, stdout); err != nil {
		var ue usageErr
		if errors.As(err, &ue) {
			return fmt.Errorf("%w: %s: %s", errUsage, args[0], ue.msg)
		}
		return err
	}
	return nil
}

// usageErr reports a bad flag value found while running an op.
type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func badFlag(format string, a ...any) error { return usageErr{fmt.Sprintf(format, a...)} }

// isColour reports whether img has colour channels (anything but 8/16-bit gray).
func isColour(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return false
	}
	return true
}

func writePNG(path string, img image.Image) error {
	if strings.EqualFold(filepath.Ext(path), ".npy") {
		if g, ok := img.(*image.Gray); ok {
			return writeNPY(path, preprocess.PlaneFromGray(g))
		}
		return fmt.Errorf("imgproc: %s: colour results can only be written as PNG", path)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("imgproc: writing %s: %w", path, err)
	}
	return nil
}

func writeNPY(path string, p *preprocess.Plane) error {
	err := atomicfile.Write(path, func(w io.Writer) error { return preprocess.WriteNPY(w, []int{p.H, p.W}, p.Pix) })
	if err != nil {
		return fmt.Errorf("imgproc: writing %s: %w", path, err)
	}
	return nil
}

// writeFloat writes p as .npy, or for any other extension as a PNG made by
// toGray.
func writeFloat(path string, p *preprocess.Plane, toGray func(*preprocess.Plane) *image.Gray) error {
	if strings.EqualFold(filepath.Ext(path), ".npy") {
		return writeNPY(path, p)
	}
	return writePNG(path, toGray(p))
}

// printJSON prints one JSON object line with the keys in the given order,
// spaced as in the CLI contract: {"count": 3, "largest_area": 120}.
func printJSON(w io.Writer, kv ...any) error {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < len(kv); i += 2 {
		k, err := json.Marshal(kv[i])
		if err != nil {
			return err
		}
		v, err := json.Marshal(kv[i+1])
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", k, v)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// perChannel applies a gray op to gray input, or to each channel of colour input.
func perChannel(img image.Image, op func(*image.Gray) *image.Gray) image.Image {
	if !isColour(img) {
		return op(preprocess.ToGray(img))
	}
	return preprocess.PerChannel(preprocess.ToRGBA(img), op)
}

type action = func(in image.Image, out string, stdout io.Writer) error

func opGray(fs *flag.FlagSet) action {
	return func(in image.Image, out string, _ io.Writer) error { return writePNG(out, preprocess.ToGray(in)) }
}

func opCvtColor(fs *flag.FlagSet) action {
	code := fs.String("code", "hsv", "target: hsv, hls, lab, bgr (swap R and B) or gray")
	return func(in image.Image, out string, _ io.Writer) error {
		rgba := preprocess.ToRGBA(in)
		switch *code {
		case "hsv":
			return writePNG(out, preprocess.HSV(rgba))
		case "hls":
			return writePNG(out, preprocess.HLS(rgba))
		case "lab":
			return writePNG(out, preprocess.Lab(rgba))
		case "bgr", "rgb":
			return writePNG(out, preprocess.SwapRB(rgba))
		case "gray":
			return writePNG(out, preprocess.Gray(rgba))
		}
		return badFlag("unknown -code %q (want hsv, hls, lab, bgr or gray)", *code)
	}
}

func opThreshold(fs *flag.FlagSet) action {
	t := fs.Float64("thresh", 127, "threshold")
	mv := fs.Float64("maxval", 255, "value for pixels that pass")
	typ := fs.String("type", "binary", "binary, binary_inv, trunc, tozero or tozero_inv")
	return func(in image.Image, out string, _ io.Writer) error {
		tt, err := preprocess.ParseThresholdType(*typ)
		if err != nil {
			return badFlag("%v", err)
		}
		return writePNG(out, preprocess.Threshold(preprocess.ToGray(in), *t, *mv, tt))
	}
}

func autoThreshold(find func(*image.Gray) float64) func(fs *flag.FlagSet) action {
	return func(fs *flag.FlagSet) action {
		return func(in image.Image, out string, stdout io.Writer) error {
			g := preprocess.ToGray(in)
			t := find(g)
			if err := writePNG(out, preprocess.Threshold(g, t, 255, preprocess.ThreshBinary)); err != nil {
				return err
			}
			return printJSON(stdout, "threshold", t)
		}
	}
}

func opAdaptive(fs *flag.FlagSet) action {
	method := fs.String("method", "mean", "mean or gaussian")
	block := fs.Int("block", 7, "odd block size >= 3")
	c := fs.Float64("c", 2, "constant subtracted from the local mean")
	typ := fs.String("type", "binary", "binary or binary_inv")
	mv := fs.Float64("maxval", 255, "value for pixels that pass")
	return func(in image.Image, out string, _ io.Writer) error {
		m, err := preprocess.ParseAdaptiveMethod(*method)
		if err != nil {
			return badFlag("%v", err)
		}
		if *block < 3 || *block%2 == 0 {
			return badFlag("-block must be odd and >= 3, got %d", *block)
		}
		if *typ != "binary" && *typ != "binary_inv" {
			return badFlag("-type must be binary or binary_inv, got %q", *typ)
		}
		return writePNG(out, preprocess.AdaptiveThreshold(preprocess.ToGray(in), *mv, m, *typ == "binary_inv", *block, *c))
	}
}

// maxKsize bounds window sizes so a typo cannot exhaust memory.
const maxKsize = 1001

func checkOdd(name string, k int) error {
	if k < 1 || k%2 == 0 {
		return badFlag("-%s must be odd and >= 1, got %d", name, k)
	}
	if k > maxKsize {
		return badFlag("-%s must be <= %d, got %d", name, maxKsize, k)
	}
	return nil
}

func opBlur(fs *flag.FlagSet) action {
	k := fs.Int("ksize", 5, "box size")
	return func(in image.Image, out string, _ io.Writer) error {
		if *k < 1 || *k > maxKsize {
			return badFlag("-ksize must be in [1, %d], got %d", maxKsize, *k)
		}
		return writePNG(out, perChannel(in, func(g *image.Gray) *image.Gray { return preprocess.Blur(g, *k, *k) }))
	}
}

func opGaussian(fs *flag.FlagSet) action {
	k := fs.Int("ksize", 7, "odd kernel size (0: from sigma)")
	s := fs.Float64("sigma", 0, "sigma X (0: from ksize)")
	sy := fs.Float64("sigma-y", 0, "sigma Y (0: same as sigma)")
	return func(in image.Image, out string, _ io.Writer) error {
		if *k < 0 || (*k > 0 && *k%2 == 0) || (*k == 0 && *s <= 0) {
			return badFlag("-ksize must be odd (or 0 with -sigma > 0), got %d", *k)
		}
		if *s < 0 || *sy < 0 || *s > 160 || *sy > 160 || *k > maxKsize {
			return badFlag("need 0 <= sigmas <= 160 and -ksize <= %d", maxKsize)
		}
		return writePNG(out, perChannel(in, func(g *image.Gray) *image.Gray { return preprocess.GaussianBlur(g, *k, *s, *sy) }))
	}
}

func opMedian(fs *flag.FlagSet) action {
	k := fs.Int("ksize", 5, "odd aperture size")
	return func(in image.Image, out string, _ io.Writer) error {
		if err := checkOdd("ksize", *k); err != nil {
			return err
		}
		return writePNG(out, perChannel(in, func(g *image.Gray) *image.Gray { return preprocess.MedianBlur(g, *k) }))
	}
}

func opBilateral(fs *flag.FlagSet) action {
	d := fs.Int("d", 7, "neighbourhood diameter (<= 0: from sigma-space)")
	sc := fs.Float64("sigma-color", 75, "colour sigma")
	ss := fs.Float64("sigma-space", 75, "space sigma")
	return func(in image.Image, out string, _ io.Writer) error {
		if *d > 99 || (*d <= 0 && math.Round(*ss*1.5) > 49) {
			return badFlag("-d must be <= 99 (or -sigma-space <= 33 with -d 0), got -d %d", *d)
		}
		if isColour(in) {
			return writePNG(out, preprocess.BilateralFilterRGBA(preprocess.ToRGBA(in), *d, *sc, *ss))
		}
		return writePNG(out, preprocess.BilateralFilter(preprocess.ToGray(in), *d, *sc, *ss))
	}
}

func parseKernel(s string) (*preprocess.Plane, error) {
	var rows [][]float64
	for _, r := range strings.Split(s, ";") {
		var row []float64
		for _, f := range strings.Split(r, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return nil, badFlag("bad -kernel value %q", f)
			}
			row = append(row, v)
		}
		if len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, badFlag("-kernel rows have different lengths")
		}
		rows = append(rows, row)
	}
	k := preprocess.NewPlane(len(rows[0]), len(rows))
	for y, r := range rows {
		copy(k.Pix[y*k.W:], r)
	}
	return k, nil
}

func opFilter2D(fs *flag.FlagSet) action {
	ks := fs.String("kernel", "0,-1,0;-1,5,-1;0,-1,0", "rows separated by ';', values by ','")
	return func(in image.Image, out string, _ io.Writer) error {
		k, err := parseKernel(*ks)
		if err != nil {
			return err
		}
		return writePNG(out, perChannel(in, func(g *image.Gray) *image.Gray { return preprocess.Filter2D(g, k) }))
	}
}

func absSat(p *preprocess.Plane) *image.Gray { return preprocess.ConvertScaleAbs(p, 1, 0) }

func opSobel(fs *flag.FlagSet) action {
	dx := fs.Int("dx", 1, "x derivative order")
	dy := fs.Int("dy", 0, "y derivative order")
	k := fs.Int("ksize", 3, "1, 3, 5, 7 (-1: Scharr)")
	return func(in image.Image, out string, _ io.Writer) error {
		if *k != -1 && *k != 1 && *k != 3 && *k != 5 && *k != 7 {
			return badFlag("-ksize must be 1, 3, 5, 7 or -1, got %d", *k)
		}
		lim := max(*k, 3)
		if *k == -1 {
			lim = 2
		}
		if *dx < 0 || *dy < 0 || *dx+*dy == 0 || *dx >= lim || *dy >= lim || (*k == -1 && *dx+*dy != 1) {
			return badFlag("bad derivative orders -dx %d -dy %d for -ksize %d", *dx, *dy, *k)
		}
		return writeFloat(out, preprocess.Sobel(preprocess.ToGray(in), *dx, *dy, *k), absSat)
	}
}

func opLaplacian(fs *flag.FlagSet) action {
	k := fs.Int("ksize", 1, "odd aperture size")
	return func(in image.Image, out string, _ io.Writer) error {
		if err := checkOdd("ksize", *k); err != nil {
			return err
		}
		if *k > 31 {
			return badFlag("-ksize must be <= 31, got %d", *k)
		}
		return writeFloat(out, preprocess.Laplacian(preprocess.ToGray(in), *k), absSat)
	}
}

func opAddWeighted(fs *flag.FlagSet) action {
	with := fs.String("with", "", "second image (same size)")
	a := fs.Float64("alpha", 0.5, "weight of IN")
	b := fs.Float64("beta", 0.5, "weight of the -with image")
	g := fs.Float64("gamma", 0, "added constant")
	return func(in image.Image, out string, _ io.Writer) error {
		if *with == "" {
			return badFlag("-with IN2 is required")
		}
		in2, err := decode(*with)
		if err != nil {
			return err
		}
		if in.Bounds().Size() != in2.Bounds().Size() {
			return fmt.Errorf("imgproc: %s: size %v differs from IN's %v", *with, in2.Bounds().Size(), in.Bounds().Size())
		}
		if !isColour(in) && !isColour(in2) {
			return writePNG(out, preprocess.AddWeighted(preprocess.ToGray(in), *a, preprocess.ToGray(in2), *b, *g))
		}
		c1, c2 := preprocess.Split(preprocess.ToRGBA(in)), preprocess.Split(preprocess.ToRGBA(in2))
		var res [3]*image.Gray
		for i := range res {
			res[i] = preprocess.AddWeighted(c1[i], *a, c2[i], *b, *g)
		}
		return writePNG(out, preprocess.Merge(res[0], res[1], res[2], nil))
	}
}

func opMorph(fs *flag.FlagSet) action {
	op := fs.String("op", "open", "erode, dilate, open, close, gradient, tophat or blackhat")
	shape := fs.String("shape", "rect", "rect, ellipse or cross")
	k := fs.Int("ksize", 5, "structuring element size")
	it := fs.Int("iterations", 1, "iterations of each erode/dilate")
	return func(in image.Image, out string, _ io.Writer) error {
		mo, err := preprocess.ParseMorphOp(*op)
		if err != nil {
			return badFlag("%v", err)
		}
		sh, err := preprocess.ParseShape(*shape)
		if err != nil {
			return badFlag("%v", err)
		}
		if *k < 1 || *k > 1001 {
			return badFlag("-ksize must be in [1, 1001], got %d", *k)
		}
		if *it < 0 {
			return badFlag("-iterations must be >= 0, got %d", *it)
		}
		se := preprocess.StructuringElement(sh, *k, *k)
		return writePNG(out, perChannel(in, func(g *image.Gray) *image.Gray { return preprocess.MorphologyEx(g, mo, se, *it) }))
	}
}

func opComponents(fs *flag.FlagSet) action {
	conn := fs.Int("connectivity", 8, "4 or 8")
	return func(in image.Image, out string, stdout io.Writer) error {
		if *conn != 4 && *conn != 8 {
			return badFlag("-connectivity must be 4 or 8, got %d", *conn)
		}
		g := preprocess.ToGray(in)
		bin := preprocess.Threshold(g, float64(preprocess.Otsu(g)), 255, preprocess.ThreshBinary)
		c := preprocess.ConnectedComponents(bin, *conn)
		if err := writePNG(out, c.LabelImage()); err != nil {
			return err
		}
		return printJSON(stdout, "count", c.Count, "largest_area", c.Stats[c.Largest()].Area)
	}
}

func opFFT(fs *flag.FlagSet) action {
	pass := fs.String("filter", "lowpass", "lowpass, highpass or bandpass")
	kind := fs.String("kind", "gaussian", "ideal, gaussian or butterworth")
	r := fs.Float64("radius", 30, "cutoff radius in frequency samples (inner radius for bandpass)")
	r2 := fs.Float64("radius2", 0, "outer radius for bandpass")
	order := fs.Int("order", 2, "Butterworth order")
	scale := fs.String("scale", "auto", "PNG scaling: clip (round, clamp to 0..255), minmax, or auto (clip for lowpass, minmax otherwise)")
	return func(in image.Image, out string, _ io.Writer) error {
		f, err := preprocess.ParseFreqFilter(*pass, *kind, *r, *r2)
		if err != nil {
			return badFlag("%v", err)
		}
		if *order < 1 {
			return badFlag("-order must be >= 1, got %d", *order)
		}
		f.Order = *order
		mode := *scale
		if mode == "auto" {
			mode = "minmax"
			if f.Pass == preprocess.LowPass {
				mode = "clip"
			}
		}
		var conv func(*preprocess.Plane) *image.Gray
		switch mode {
		case "clip":
			conv = (*preprocess.Plane).ToGray8
		case "minmax":
			conv = (*preprocess.Plane).Normalize
		default:
			return badFlag("-scale must be auto, clip or minmax, got %q", *scale)
		}
		return writeFloat(out, preprocess.FrequencyFilter(preprocess.ToGray(in), f), conv)
	}
}

func opSpectrum(fs *flag.FlagSet) action {
	return func(in image.Image, out string, _ io.Writer) error {
		p := preprocess.PlaneFromGray(preprocess.ToGray(in))
		return writeFloat(out, preprocess.LogMagnitude(preprocess.FFTShift(preprocess.DFT(p))), (*preprocess.Plane).Normalize)
	}
}

func opPhase(fs *flag.FlagSet) action {
	return func(in image.Image, out string, _ io.Writer) error {
		p := preprocess.PlaneFromGray(preprocess.ToGray(in))
		return writeFloat(out, preprocess.Phase(preprocess.FFTShift(preprocess.DFT(p))), (*preprocess.Plane).Normalize)
	}
}

func opSwap(fs *flag.FlagSet) action {
	with := fs.String("with", "", "image giving the phase (same size)")
	return func(in image.Image, out string, _ io.Writer) error {
		if *with == "" {
			return badFlag("-with IN2 is required")
		}
		in2, err := decode(*with)
		if err != nil {
			return err
		}
		if in.Bounds().Size() != in2.Bounds().Size() {
			return fmt.Errorf("imgproc: %s: size %v differs from IN's %v", *with, in2.Bounds().Size(), in.Bounds().Size())
		}
		a := preprocess.PlaneFromGray(preprocess.ToGray(in))
		b := preprocess.PlaneFromGray(preprocess.ToGray(in2))
		ab, _ := preprocess.SwapAmplitudePhase(a, b)
		return writeFloat(out, ab, (*preprocess.Plane).Normalize)
	}
}
