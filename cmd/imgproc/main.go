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
// to the PNG's red, 1 to green and 2 to blue. The operations that are also
// training preprocessing steps (preprocess.Ops) take as flags the keys of a
// data.preprocess step, with the same defaults and checks. Every op takes
// -max-pixels N (default 100000000, <0: no limit): an input whose header
// declares more pixels is refused before it is decoded. Exit status: 0 success,
// 1 failure (unreadable or too large input, write error), 2 usage error. Run
// `imgproc help` for the ops.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/gocls/gocls/dataset"
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
	"gray":        stepSpec("gray"),
	"cvtcolor":    stepSpec("cvtcolor"),
	"threshold":   stepSpec("threshold"),
	"otsu":        {"IN OUT.png   (prints {\"threshold\": T})", autoThreshold(func(g *image.Gray) float64 { return float64(preprocess.Otsu(g)) })},
	"iterative":   {"IN OUT.png   (prints {\"threshold\": T})", autoThreshold(preprocess.IterativeThreshold)},
	"maxentropy":  {"IN OUT.png   (prints {\"threshold\": T})", autoThreshold(func(g *image.Gray) float64 { return float64(preprocess.MaxEntropyThreshold(g)) })},
	"adaptive":    stepSpec("adaptive"),
	"blur":        stepSpec("blur"),
	"gaussian":    stepSpec("gaussian"),
	"median":      stepSpec("median"),
	"bilateral":   stepSpec("bilateral"),
	"filter2d":    stepSpec("filter2d"),
	"sobel":       stepSpec("sobel"),
	"laplacian":   stepSpec("laplacian"),
	"addweighted": {"-with IN2 -alpha 0.5 -beta 0.5 [-gamma 0] IN OUT.png", opAddWeighted},
	"morph":       stepSpec("morph"),
	"components":  {"-connectivity 4|8 IN OUT.png   (Otsu-binarised; prints {\"count\": N, \"largest_area\": A})", opComponents},
	"fft":         stepSpec("fft"),
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
	fs.Int("max-pixels", dataset.DefaultMaxPixels, "refuse images whose header declares more pixels (<0: no limit)")
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
	img, err := decode(in, maxPixels(fs))
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

// maxPixels is the value of the -max-pixels flag that runErr gives every op.
func maxPixels(fs *flag.FlagSet) int {
	return fs.Lookup("max-pixels").Value.(flag.Getter).Get().(int)
}

// decode reads an image, first checking the size its header declares
// against maxPixels (dataset.DecodeOptions' limit), so that a small file
// declaring a huge image is refused before its pixels are allocated.
func decode(path string, maxPixels int) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imgproc: %w", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("imgproc: %s: decoding image: %w", path, err)
	}
	if err := (dataset.DecodeOptions{MaxPixels: maxPixels}).CheckSize(cfg.Width, cfg.Height); err != nil {
		return nil, fmt.Errorf("imgproc: %s: %w (see -max-pixels)", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("imgproc: %w", err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("imgproc: %s: decoding image: %w", path, err)
	}
	if b := img.Bounds(); b.Dx() == 0 || b.Dy() == 0 {
		return nil, fmt.Errorf("imgproc: %s: empty image", path)
	}
	return img, nil
}

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

type action = func(in image.Image, out string, stdout io.Writer) error

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

func opAddWeighted(fs *flag.FlagSet) action {
	with := fs.String("with", "", "second image (same size)")
	a := fs.Float64("alpha", 0.5, "weight of IN")
	b := fs.Float64("beta", 0.5, "weight of the -with image")
	g := fs.Float64("gamma", 0, "added constant")
	return func(in image.Image, out string, _ io.Writer) error {
		if *with == "" {
			return badFlag("-with IN2 is required")
		}
		in2, err := decode(*with, maxPixels(fs))
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
		in2, err := decode(*with, maxPixels(fs))
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
