package preprocess

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	_ "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/devdata"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		msg  string
	}{
		{"threshold", second(ParseThresholdType("binaryy")), `unknown threshold type "binaryy"`},
		{"shape", second(ParseShape("disk")), `unknown shape "disk"`},
		{"morph", second(ParseMorphOp("thin")), `unknown morphology op "thin"`},
		{"adaptive", second(ParseAdaptiveMethod("median")), `unknown adaptive method "median"`},
		{"filter", second(ParseFreqFilter("notch", "ideal", 3, 0)), `unknown filter "notch"`},
		{"kind", second(ParseFreqFilter("lowpass", "box", 3, 0)), `unknown filter kind "box"`},
		{"radius", second(ParseFreqFilter("lowpass", "ideal", 0, 0)), "radius must be > 0"},
		{"bandpass", second(ParseFreqFilter("bandpass", "ideal", 5, 5)), "radius2 (5) > radius (5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			require.Contains(t, tc.err.Error(), tc.msg)
			require.True(t, strings.HasPrefix(tc.err.Error(), "preprocess: "))
		})
	}
}

func second[T any](_ T, err error) error { return err }

func TestParseStepsErrors(t *testing.T) {
	type S = StepConfig
	for _, tc := range []struct {
		cfg S
		msg string
	}{
		{S{"ksize": 3}, "preprocess: step 1: missing op (valid: adaptive, bilateral, blur, cvtcolor,"},
		{S{"op": 3}, "op must be a name, got 3 (valid: adaptive,"},
		{S{"op": "sharpen"}, `unknown operation "sharpen" (valid: adaptive, bilateral,`},
		{S{"op": "components"}, "components is not a preprocessing step (its result is a label image); valid operations: adaptive,"},
		{S{"op": "gaussian", "block": 5}, `unknown key "block" (valid: ksize, sigma, sigma_y)`},
		{S{"op": "otsu", "ksize": 5}, `unknown key "ksize" (valid: none)`},
		{S{"op": "gaussian", "ksize": 4}, "ksize must be odd (or 0 with sigma > 0), got 4"},
		{S{"op": "gaussian", "ksize": 2.5}, "ksize: want an integer, got 2.5"},
		{S{"op": "gaussian", "ksize": "five"}, `ksize: want an integer, got "five"`},
		{S{"op": "gaussian", "sigma": -1}, "need 0 <= sigmas <= 160"},
		{S{"op": "gaussian", "sigma": math.NaN()}, "sigma: want a number, got NaN"},
		{S{"op": "gaussian", "ksize": 0, "sigma": 1e6}, "sigmas <= 160"},
		{S{"op": "median", "ksize": 6}, "ksize must be odd and >= 1, got 6"},
		{S{"op": "median", "ksize": 100001}, "ksize must be <= 1001, got 100001"},
		{S{"op": "blur", "ksize": -3}, "ksize must be in [1, 1001], got -3"},
		{S{"op": "bilateral", "d": 1001}, "d must be <= 99"},
		{S{"op": "morph", "ksize": 5000}, "ksize must be in [1, 1001], got 5000"},
		{S{"op": "morph", "morph": "thin"}, "morph: unknown value thin (valid: erode, dilate, open, close, gradient, tophat, blackhat)"},
		{S{"op": "morph", "shape": "disk"}, "shape: unknown value disk (valid: rect, ellipse, cross)"},
		{S{"op": "morph", "iterations": -1}, "iterations must be in [0, 1001]"},
		{S{"op": "threshold", "type": "bin"}, "type: unknown value bin (valid: binary, binary_inv, trunc, tozero, tozero_inv)"},
		{S{"op": "adaptive", "block": 4}, "block must be odd and in [3, 1001], got 4"},
		{S{"op": "adaptive", "method": "x"}, "method: unknown value x (valid: mean, gaussian)"},
		{S{"op": "adaptive", "type": "trunc"}, "type: unknown value trunc (valid: binary, binary_inv)"},
		{S{"op": "cvtcolor", "code": "yuv"}, "code: unknown value yuv (valid: hsv, hls, lab, bgr, gray)"},
		{S{"op": "sobel", "ksize": 9}, "ksize must be 1, 3, 5, 7 or -1, got 9"},
		{S{"op": "sobel", "dx": 3, "ksize": 3}, "bad derivative orders dx 3 dy 0 for ksize 3"},
		{S{"op": "laplacian", "ksize": 2}, "ksize must be odd"},
		{S{"op": "fft", "radius": 0}, "fft): filter radius must be > 0"},
		{S{"op": "fft", "order": 0}, "order must be >= 1"},
		{S{"op": "filter2d", "kernel": []any{}}, "kernel: want a non-empty matrix"},
		{S{"op": "filter2d", "kernel": [][]float64{{1, 2}, {3}}}, "kernel: row 2 has 1 values, want 2"},
		{S{"op": "filter2d", "kernel": "1,2;x"}, `kernel: bad matrix value "x"`},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			_, err := ParseSteps([]StepConfig{tc.cfg})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.msg)
			if op, ok := tc.cfg["op"]; ok {
				require.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("preprocess: step 1 (%v): ", op)), err.Error())
			}
			require.NotContains(t, err.Error(), "\n")
			_, err = ResolveSteps([]StepConfig{tc.cfg})
			require.Error(t, err)
		})
	}
	_, err := ParseSteps([]StepConfig{{"op": "blur"}, {"op": "median", "ksize": 2}})
	require.ErrorContains(t, err, "preprocess: step 2 (median): ksize must be odd")
}

func TestSteps(t *testing.T) {
	src := photo(t, "photo.png")
	gray := Gray(src)
	pc := func(op func(*image.Gray) *image.Gray) *image.RGBA { return PerChannel(src, op) }
	type S = StepConfig
	for _, tc := range []struct {
		name string
		cfg  S
		want *image.RGBA
	}{
		{"gray", S{"op": "gray"}, GrayToRGBA(gray)},
		{"cvtcolor", S{"op": "cvtcolor"}, HSV(src)},
		{"cvtcolor bgr", S{"op": "cvtcolor", "code": "bgr"}, SwapRB(src)},
		{"cvtcolor hls", S{"op": "cvtcolor", "code": "hls"}, HLS(src)},
		{"cvtcolor lab", S{"op": "cvtcolor", "code": "lab"}, Lab(src)},
		{"cvtcolor gray", S{"op": "cvtcolor", "code": "gray"}, GrayToRGBA(gray)},
		{"blur", S{"op": "blur"}, pc(func(g *image.Gray) *image.Gray { return Blur(g, 5, 5) })},
		{"gaussian", S{"op": "gaussian"}, pc(func(g *image.Gray) *image.Gray { return GaussianBlur(g, 7, 0, 0) })},
		{"gaussian sigma", S{"op": "gaussian", "ksize": 0, "sigma": 1.5}, pc(func(g *image.Gray) *image.Gray { return GaussianBlur(g, 0, 1.5, 0) })},
		{"median", S{"op": "median", "ksize": 3}, pc(func(g *image.Gray) *image.Gray { return MedianBlur(g, 3) })},
		{"bilateral", S{"op": "bilateral", "d": 9}, BilateralFilterRGBA(src, 9, 75, 75)},
		{"filter2d", S{"op": "filter2d", "kernel": []any{[]any{0, -1, 0}, []any{-1, 5.0, -1}, []any{0, -1, 0}}},
			pc(func(g *image.Gray) *image.Gray {
				return Filter2D(g, &Plane{W: 3, H: 3, Pix: []float64{0, -1, 0, -1, 5, -1, 0, -1, 0}})
			})},
		{"filter2d string", S{"op": "filter2d", "kernel": "1,2,1"},
			pc(func(g *image.Gray) *image.Gray { return Filter2D(g, &Plane{W: 3, H: 1, Pix: []float64{1, 2, 1}}) })},
		{"threshold", S{"op": "threshold", "thresh": 100, "type": "trunc"}, GrayToRGBA(Threshold(gray, 100, 255, ThreshTrunc))},
		{"otsu", S{"op": "otsu"}, GrayToRGBA(Threshold(gray, float64(Otsu(gray)), 255, ThreshBinary))},
		{"iterative", S{"op": "iterative"}, GrayToRGBA(Threshold(gray, IterativeThreshold(gray), 255, ThreshBinary))},
		{"maxentropy", S{"op": "maxentropy"}, GrayToRGBA(Threshold(gray, float64(MaxEntropyThreshold(gray)), 255, ThreshBinary))},
		{"adaptive", S{"op": "adaptive", "method": "gaussian", "block": 7, "c": 2}, GrayToRGBA(AdaptiveThreshold(gray, 255, AdaptiveGaussian, false, 7, 2))},
		{"morph", S{"op": "morph", "morph": "close", "shape": "ellipse", "ksize": 5},
			pc(func(g *image.Gray) *image.Gray {
				return MorphologyEx(g, MorphClose, StructuringElement(ShapeEllipse, 5, 5), 1)
			})},
		{"sobel", S{"op": "sobel", "dx": 0, "dy": 1}, GrayToRGBA(ConvertScaleAbs(Sobel(gray, 0, 1, 3), 1, 0))},
		{"laplacian", S{"op": "laplacian", "ksize": 3}, GrayToRGBA(ConvertScaleAbs(Laplacian(gray, 3), 1, 0))},
		{"fft", S{"op": "fft", "radius": 10}, GrayToRGBA(FrequencyFilter(gray, FreqFilter{Pass: LowPass, Kind: Gaussian, Radius: 10, Order: 2}).ToGray8())},
		{"fft highpass", S{"op": "fft", "radius": 10, "filter": "highpass"},
			GrayToRGBA(FrequencyFilter(gray, FreqFilter{Pass: HighPass, Kind: Gaussian, Radius: 10, Order: 2}).Normalize())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps, err := ParseSteps([]StepConfig{tc.cfg})
			require.NoError(t, err)
			before := append([]uint8(nil), src.Pix...)
			got := steps[0](src)
			require.Equal(t, before, src.Pix, "input must not change")
			require.Equal(t, tc.want.Pix, got.Pix)
		})
	}
	steps, err := ParseSteps([]StepConfig{{"op": "gaussian", "ksize": 3}, {"op": "gray"}})
	require.NoError(t, err)
	require.Equal(t, GrayToRGBA(Gray(steps[0](src))).Pix, Chain(steps)(src).Pix)
	require.Equal(t, src.Pix, Chain(nil)(src).Pix)
}

// Every operation builds with its defaults, and resolving is idempotent
// and survives a JSON round trip (numbers come back as float64), so a
// recorded step rebuilds the same operation.
func TestResolveSteps(t *testing.T) {
	src := photo(t, "photo.png")
	for _, d := range Ops {
		t.Run(d.Name, func(t *testing.T) {
			cfg := StepConfig{"op": d.Name}
			r, err := ResolveSteps([]StepConfig{cfg})
			require.NoError(t, err)
			require.Len(t, r[0], len(d.Params)+1)
			b, err := json.Marshal(r)
			require.NoError(t, err)
			var back []StepConfig
			require.NoError(t, json.Unmarshal(b, &back))
			r2, err := ResolveSteps(back)
			require.NoError(t, err)
			require.Equal(t, r, r2)
			a, err := ParseSteps([]StepConfig{cfg})
			require.NoError(t, err)
			b2, err := ParseSteps(back)
			require.NoError(t, err)
			require.Equal(t, a[0](src).Pix, b2[0](src).Pix)
		})
	}
}

// Apply keeps gray input gray for per-channel ops and gives single-channel
// results for gray-input ops, as cmd/imgproc writes them.
func TestOpApply(t *testing.T) {
	src := photo(t, "photo.png")
	gray := Gray(src)
	med, err := LookupOp("median")
	require.NoError(t, err)
	op, err := med.Build(StepConfig{"ksize": 3})
	require.NoError(t, err)
	require.Equal(t, MedianBlur(gray, 3).Pix, op.Apply(gray).(*image.Gray).Pix)
	require.Equal(t, PerChannel(src, func(g *image.Gray) *image.Gray { return MedianBlur(g, 3) }).Pix, op.Apply(src).(*image.RGBA).Pix)
	otsu, err := LookupOp("otsu")
	require.NoError(t, err)
	op, err = otsu.Build(nil)
	require.NoError(t, err)
	require.Equal(t, Threshold(gray, float64(Otsu(gray)), 255, ThreshBinary).Pix, op.Apply(src).(*image.Gray).Pix)
	hsv, err := LookupOp("cvtcolor")
	require.NoError(t, err)
	op, err = hsv.Build(nil)
	require.NoError(t, err)
	require.Equal(t, HSV(GrayToRGBA(gray)).Pix, op.Apply(gray).(*image.RGBA).Pix)
}

func TestThresholdEdgeCases(t *testing.T) {
	g := &image.Gray{Pix: []uint8{0, 1, 127, 128, 254, 255}, Stride: 6, Rect: image.Rect(0, 0, 6, 1)}
	for _, tc := range []struct {
		t, m float64
		typ  ThresholdType
		want []uint8
	}{
		{127, 255, ThreshBinary, []uint8{0, 0, 0, 255, 255, 255}},
		{127.9, 255, ThreshBinary, []uint8{0, 0, 0, 255, 255, 255}},
		{-1, 200, ThreshBinary, []uint8{200, 200, 200, 200, 200, 200}},
		{255, 255, ThreshBinary, []uint8{0, 0, 0, 0, 0, 0}},
		{127, 99.5, ThreshBinaryInv, []uint8{100, 100, 100, 0, 0, 0}},
		{127, 0, ThreshTrunc, []uint8{0, 1, 127, 127, 127, 127}},
		{-5, 0, ThreshTrunc, []uint8{0, 0, 0, 0, 0, 0}},
		{127, 0, ThreshToZero, []uint8{0, 0, 0, 128, 254, 255}},
		{127, 0, ThreshToZeroInv, []uint8{0, 1, 127, 0, 0, 0}},
		{300, 0, ThreshToZeroInv, []uint8{0, 1, 127, 128, 254, 255}},
	} {
		t.Run(fmt.Sprintf("%v_%g", tc.typ, tc.t), func(t *testing.T) {
			require.Equal(t, tc.want, Threshold(g, tc.t, tc.m, tc.typ).Pix)
		})
	}
	flat := &image.Gray{Pix: []uint8{9, 9, 9, 9}, Stride: 2, Rect: image.Rect(0, 0, 2, 2)}
	require.EqualValues(t, 0, Otsu(flat))
	require.EqualValues(t, 9, MaxEntropyThreshold(flat))
	require.InDelta(t, 9, IterativeThreshold(flat), 1e-12)
	// A two-level image: every method separates the levels.
	two := &image.Gray{Pix: []uint8{10, 10, 10, 200, 200, 10}, Stride: 6, Rect: image.Rect(0, 0, 6, 1)}
	for _, th := range []float64{float64(Otsu(two)), IterativeThreshold(two), float64(MaxEntropyThreshold(two))} {
		require.Equal(t, []uint8{0, 0, 0, 255, 255, 0}, Threshold(two, th, 255, ThreshBinary).Pix, "threshold %g", th)
	}
}

func TestColourConversionsSmall(t *testing.T) {
	px := func(r, g, b uint8) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 1, 1))
		img.Pix[0], img.Pix[1], img.Pix[2], img.Pix[3] = r, g, b, 255
		return img
	}
	for _, tc := range []struct {
		name    string
		in      [3]uint8
		hsv     [3]uint8
		hls     [3]uint8
		lab     [3]uint8
		grayVal uint8
	}{
		// Values from cv2.cvtColor (OpenCV 4.6).
		{"red", [3]uint8{255, 0, 0}, [3]uint8{0, 255, 255}, [3]uint8{0, 128, 255}, [3]uint8{136, 208, 195}, 76},
		{"green", [3]uint8{0, 255, 0}, [3]uint8{60, 255, 255}, [3]uint8{60, 128, 255}, [3]uint8{224, 42, 211}, 150},
		{"blue", [3]uint8{0, 0, 255}, [3]uint8{120, 255, 255}, [3]uint8{120, 128, 255}, [3]uint8{82, 207, 20}, 29},
		{"white", [3]uint8{255, 255, 255}, [3]uint8{0, 0, 255}, [3]uint8{0, 255, 0}, [3]uint8{255, 128, 128}, 255},
		{"black", [3]uint8{0, 0, 0}, [3]uint8{0, 0, 0}, [3]uint8{0, 0, 0}, [3]uint8{0, 128, 128}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := px(tc.in[0], tc.in[1], tc.in[2])
			require.Equal(t, tc.hsv[:], HSV(img).Pix[:3])
			require.Equal(t, tc.hls[:], HLS(img).Pix[:3])
			require.Equal(t, tc.lab[:], Lab(img).Pix[:3])
			require.Equal(t, tc.grayVal, Gray(img).Pix[0])
			require.Equal(t, []uint8{tc.in[2], tc.in[1], tc.in[0]}, SwapRB(img).Pix[:3])
		})
	}
	img := photo(t, "photo.png")
	ch := Split(img)
	require.Equal(t, img.Pix, Merge(ch[0], ch[1], ch[2], ch[3]).Pix)
}

func TestToRGBA(t *testing.T) {
	nrgba := image.NewNRGBA(image.Rect(2, 3, 4, 4))
	nrgba.SetNRGBA(2, 3, color.NRGBA{200, 100, 50, 0}) // transparent: colour kept, as cv2.imread
	nrgba.SetNRGBA(3, 3, color.NRGBA{10, 20, 30, 128})
	require.Equal(t, []uint8{200, 100, 50, 255, 10, 20, 30, 255}, ToRGBA(nrgba).Pix)

	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.RGBA{1, 2, 3, 255}, color.Gray{77}})
	pal.SetColorIndex(1, 0, 1)
	require.Equal(t, []uint8{1, 2, 3, 255, 77, 77, 77, 255}, ToRGBA(pal).Pix)

	g16 := image.NewGray16(image.Rect(0, 0, 1, 1))
	g16.SetGray16(0, 0, color.Gray16{0x80ff})
	require.Equal(t, []uint8{0x80, 0x80, 0x80, 255}, ToRGBA(g16).Pix)
	require.Equal(t, []uint8{0x80}, ToGray(g16).Pix)

	var buf bytes.Buffer
	require.NoError(t, gif.Encode(&buf, pal, nil))
	dec, err := gif.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, ToRGBA(pal).Pix, ToRGBA(dec).Pix)
}

func TestNPYRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3}, {2, 3}, {0, 4}, {2, 1, 3}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float64, n)
		for i := range data {
			data[i] = float64(i)*1.5 - 2
		}
		var b bytes.Buffer
		require.NoError(t, WriteNPY(&b, shape, data))
		require.Zero(t, (len(b.Bytes())-8*n)%64, "header must be padded to 64 bytes")
		a := readNPY(t, b.Bytes())
		require.Equal(t, shape, a.Shape)
		require.Equal(t, data, a.Data)
	}
	require.ErrorContains(t, WriteNPY(&bytes.Buffer{}, []int{2, 2}, []float64{1}), "shape [2 2] holds 4 values, got 1")
	// numpy wrote dft.npy in Fortran order; readNPY reorders it.
	a := goldenNPY(t, "dft")
	require.Equal(t, []int{45, 75}, a.Shape)
}

// TestCat12 runs the operations on real dataset files (palette, RGBA, gray,
// GIF, PNG named .jpg) when ../shared/data/cat12 exists.
func TestCat12(t *testing.T) {
	dir := cat12Dir(t)
	entries, err := os.ReadDir(filepath.Join(dir, "cat_12_train"))
	require.NoError(t, err)
	kinds := map[string]int{}
	steps, err := ParseSteps([]StepConfig{{"op": "gaussian", "ksize": 5}, {"op": "median", "ksize": 5}, {"op": "morph"}})
	require.NoError(t, err)
	run := Chain(steps)
	checked := 0
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, "cat_12_train", e.Name()))
		require.NoError(t, err)
		cfg, format, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			continue
		}
		key := format + "/" + modelName(cfg.ColorModel)
		if kinds[key] >= 2 {
			continue
		}
		kinds[key]++
		f, err = os.Open(filepath.Join(dir, "cat_12_train", e.Name()))
		require.NoError(t, err)
		img, _, err := image.Decode(f)
		f.Close()
		require.NoError(t, err, e.Name())
		rgba := ToRGBA(img)
		out := run(rgba)
		require.Equal(t, rgba.Bounds().Size(), out.Bounds().Size())
		g := Gray(rgba)
		c := ConnectedComponents(Threshold(g, float64(Otsu(g)), 255, ThreshBinary), 8)
		require.Positive(t, c.Count, e.Name())
		checked++
	}
	t.Logf("checked %d files of kinds %v", checked, kinds)
}

// cat12Dir returns the cat12 development data, or skips.
func cat12Dir(t *testing.T) string { t.Helper(); return devdata.Cat12(t) }

func modelName(m color.Model) string {
	switch m {
	case color.RGBAModel:
		return "rgba"
	case color.RGBA64Model:
		return "rgba64"
	case color.NRGBAModel:
		return "nrgba"
	case color.NRGBA64Model:
		return "nrgba64"
	case color.GrayModel:
		return "gray"
	case color.Gray16Model:
		return "gray16"
	case color.YCbCrModel:
		return "ycbcr"
	case color.CMYKModel:
		return "cmyk"
	}
	if _, ok := m.(color.Palette); ok {
		return "palette"
	}
	return fmt.Sprintf("%T", m)
}
