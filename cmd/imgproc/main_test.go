package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/preprocess"
)

// writeTestPNG writes a small synthetic colour image (gradients plus two
// bright blobs) and returns its path and the image.
func writeTestPNG(t *testing.T, dir, name string, seed int) (string, *image.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 37, 29))
	for y := 0; y < 29; y++ {
		for x := 0; x < 37; x++ {
			r := uint8((x*7 + y*3 + seed*11) % 256)
			g := uint8((x * y * (seed + 1)) % 200)
			b := uint8((x + 2*y) * 3)
			if (x-10)*(x-10)+(y-8)*(y-8) < 20 || (x > 25 && y > 18) {
				r, g, b = 250, 240, 230
			}
			img.Set(x, y, color.RGBA{r, g, b, 255})
		}
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
	return path, img
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	return img
}

// requireNPY checks that the file at path is want written by
// preprocess.WriteNPY, as an [H, W] array: the same values, exactly.
func requireNPY(t *testing.T, want *preprocess.Plane, path string) {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, preprocess.WriteNPY(&b, []int{want.H, want.W}, want.Pix))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(b.Bytes(), got), "%s differs from the expected [%d, %d] array", path, want.H, want.W)
}

func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	in, rgba := writeTestPNG(t, dir, "in.png", 1)
	in2, rgba2 := writeTestPNG(t, dir, "in2.png", 2)
	gray := preprocess.Gray(rgba)
	otsu := preprocess.Otsu(gray)
	comps := preprocess.ConnectedComponents(preprocess.Threshold(gray, float64(otsu), 255, preprocess.ThreshBinary), 4)

	for _, tc := range []struct {
		name   string
		args   []string
		stdout string
		want   image.Image       // expected PNG result
		npy    *preprocess.Plane // expected .npy result
	}{
		{name: "gray", args: []string{"gray"}, want: gray},
		{name: "cvtcolor hsv", args: []string{"cvtcolor", "-code", "hsv"}, want: preprocess.HSV(rgba)},
		{name: "cvtcolor lab", args: []string{"cvtcolor", "-code", "lab"}, want: preprocess.Lab(rgba)},
		{name: "cvtcolor hls", args: []string{"cvtcolor", "-code", "hls"}, want: preprocess.HLS(rgba)},
		{name: "cvtcolor bgr", args: []string{"cvtcolor", "-code", "bgr"}, want: preprocess.SwapRB(rgba)},
		{name: "threshold", args: []string{"threshold", "-thresh", "100", "-maxval", "200", "-type", "tozero_inv"},
			want: preprocess.Threshold(gray, 100, 200, preprocess.ThreshToZeroInv)},
		{name: "otsu", args: []string{"otsu"}, stdout: `{"threshold": ` + itoa(int(otsu)) + "}\n",
			want: preprocess.Threshold(gray, float64(otsu), 255, preprocess.ThreshBinary)},
		{name: "maxentropy", args: []string{"maxentropy"},
			stdout: `{"threshold": ` + itoa(int(preprocess.MaxEntropyThreshold(gray))) + "}\n"},
		{name: "iterative", args: []string{"iterative"},
			want: preprocess.Threshold(gray, preprocess.IterativeThreshold(gray), 255, preprocess.ThreshBinary)},
		{name: "adaptive", args: []string{"adaptive", "-method", "gaussian", "-block", "7", "-c", "2"},
			want: preprocess.AdaptiveThreshold(gray, 255, preprocess.AdaptiveGaussian, false, 7, 2)},
		{name: "blur", args: []string{"blur", "-ksize", "5"},
			want: preprocess.PerChannel(rgba, func(g *image.Gray) *image.Gray { return preprocess.Blur(g, 5, 5) })},
		{name: "gaussian", args: []string{"gaussian", "-ksize", "7", "-sigma", "0"},
			want: preprocess.PerChannel(rgba, func(g *image.Gray) *image.Gray { return preprocess.GaussianBlur(g, 7, 0, 0) })},
		{name: "median", args: []string{"median", "-ksize", "5"},
			want: preprocess.PerChannel(rgba, func(g *image.Gray) *image.Gray { return preprocess.MedianBlur(g, 5) })},
		{name: "bilateral", args: []string{"bilateral", "-d", "7", "-sigma_color", "75", "-sigma_space", "75"},
			want: preprocess.BilateralFilterRGBA(rgba, 7, 75, 75)},
		{name: "sobel", args: []string{"sobel", "-dx", "1", "-dy", "0", "-ksize", "5"}, npy: preprocess.Sobel(gray, 1, 0, 5)},
		{name: "laplacian", args: []string{"laplacian"}, npy: preprocess.Laplacian(gray, 1)},
		{name: "morph", args: []string{"morph", "-morph", "tophat", "-shape", "ellipse", "-ksize", "5", "-iterations", "2"},
			want: preprocess.PerChannel(rgba, func(g *image.Gray) *image.Gray {
				return preprocess.MorphologyEx(g, preprocess.MorphTopHat, preprocess.StructuringElement(preprocess.ShapeEllipse, 5, 5), 2)
			})},
		{name: "components", args: []string{"components", "-connectivity", "4"},
			stdout: `{"count": ` + itoa(comps.Count) + `, "largest_area": ` + itoa(comps.Stats[comps.Largest()].Area) + "}\n",
			want:   comps.LabelImage()},
		{name: "fft lowpass", args: []string{"fft", "-filter", "lowpass", "-kind", "butterworth", "-radius", "6"},
			want: preprocess.FrequencyFilter(gray, preprocess.FreqFilter{Pass: preprocess.LowPass, Kind: preprocess.Butterworth, Radius: 6, Order: 2}).ToGray8()},
		{name: "fft bandpass npy", args: []string{"fft", "-filter", "bandpass", "-kind", "ideal", "-radius", "3", "-radius2", "9"},
			npy: preprocess.FrequencyFilter(gray, preprocess.FreqFilter{Pass: preprocess.BandPass, Kind: preprocess.Ideal, Radius: 3, Radius2: 9})},
		{name: "spectrum", args: []string{"spectrum"}, want: preprocess.LogMagnitude(preprocess.FFTShift(preprocess.DFT(preprocess.PlaneFromGray(gray)))).Normalize()},
		{name: "addweighted", args: []string{"addweighted", "-with", in2, "-alpha", "0.3", "-beta", "0.7"},
			want: func() image.Image {
				a, b := preprocess.Split(rgba), preprocess.Split(rgba2)
				return preprocess.Merge(preprocess.AddWeighted(a[0], 0.3, b[0], 0.7, 0), preprocess.AddWeighted(a[1], 0.3, b[1], 0.7, 0),
					preprocess.AddWeighted(a[2], 0.3, b[2], 0.7, 0), nil)
			}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ext := ".png"
			if tc.npy != nil {
				ext = ".npy"
			}
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+ext)
			code, stdout, stderr := runCLI(append(tc.args, in, out)...)
			require.Equal(t, 0, code, "stderr: %s", stderr)
			if tc.stdout != "" {
				require.Equal(t, tc.stdout, stdout)
			}
			if strings.HasPrefix(stdout, "{") {
				var m map[string]float64
				require.NoError(t, json.Unmarshal([]byte(stdout), &m))
			}
			switch {
			case tc.npy != nil:
				requireNPY(t, tc.npy, out)
			case tc.want != nil:
				got := readPNG(t, out)
				requireSameImage(t, tc.want, got)
			default:
				readPNG(t, out)
			}
		})
	}
}

// requireSameImage compares pixel values (gray as gray, colour as RGB).
func requireSameImage(t *testing.T, want, got image.Image) {
	t.Helper()
	require.Equal(t, want.Bounds().Size(), got.Bounds().Size())
	if wg, ok := want.(*image.Gray); ok {
		gg, ok := got.(*image.Gray)
		require.True(t, ok, "want a gray PNG, got %T", got)
		require.Equal(t, wg.Pix, gg.Pix)
		return
	}
	require.Equal(t, preprocess.ToRGBA(want).Pix, preprocess.ToRGBA(got).Pix)
}

func itoa(v int) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	in, _ := writeTestPNG(t, dir, "in.png", 1)
	small := filepath.Join(dir, "small.png")
	f, err := os.Create(small)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, image.NewGray(image.Rect(0, 0, 3, 3))))
	require.NoError(t, f.Close())
	bad := filepath.Join(dir, "bad.png")
	require.NoError(t, os.WriteFile(bad, []byte("not an image"), 0o644))
	out := filepath.Join(dir, "out.png")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no args", nil, 2, "missing OP"},
		{"unknown op", []string{"sharpen", in, out}, 2, `unknown op "sharpen"`},
		{"missing out", []string{"gray", in}, 2, "want IN OUT"},
		{"bad flag", []string{"blur", "-size", "3", in, out}, 2, "flag provided but not defined"},
		{"even median", []string{"median", "-ksize", "4", in, out}, 2, "ksize must be odd"},
		{"huge median", []string{"median", "-ksize", "100001", in, out}, 2, "ksize must be <= 1001"},
		{"huge bilateral", []string{"bilateral", "-d", "1001", in, out}, 2, "d must be <= 99"},
		{"huge sigma", []string{"gaussian", "-ksize", "0", "-sigma", "1e9", in, out}, 2, "sigmas <= 160"},
		{"even gaussian", []string{"gaussian", "-ksize", "4", in, out}, 2, "ksize must be odd"},
		{"bad threshold type", []string{"threshold", "-type", "binaryx", in, out}, 2, "invalid value \"binaryx\" for flag -type: unknown value binaryx (valid: binary, binary_inv, trunc, tozero, tozero_inv)"},
		{"bad adaptive block", []string{"adaptive", "-block", "4", in, out}, 2, "block must be odd"},
		{"bad method", []string{"adaptive", "-method", "median", in, out}, 2, "unknown value median (valid: mean, gaussian)"},
		{"bad morph op", []string{"morph", "-morph", "thin", in, out}, 2, "unknown value thin (valid: erode, dilate,"},
		{"bad shape", []string{"morph", "-shape", "disk", in, out}, 2, "unknown value disk (valid: rect, ellipse, cross)"},
		{"bad connectivity", []string{"components", "-connectivity", "6", in, out}, 2, "-connectivity must be 4 or 8"},
		{"bad sobel ksize", []string{"sobel", "-ksize", "4", in, out}, 2, "ksize must be 1, 3, 5, 7"},
		{"bad sobel order", []string{"sobel", "-dx", "0", "-dy", "0", in, out}, 2, "bad derivative orders"},
		{"bad filter", []string{"fft", "-filter", "notch", in, out}, 2, "unknown value notch (valid: lowpass, highpass, bandpass)"},
		{"bad kind", []string{"fft", "-kind", "box", in, out}, 2, "unknown value box (valid: ideal, gaussian, butterworth)"},
		{"bandpass radii", []string{"fft", "-filter", "bandpass", "-radius", "5", "-radius2", "3", in, out}, 2, "radius2"},
		{"bad code", []string{"cvtcolor", "-code", "yuv", in, out}, 2, "unknown value yuv (valid: hsv, hls, lab, bgr, gray)"},
		{"missing with", []string{"swap", in, out}, 2, "-with IN2 is required"},
		{"size mismatch", []string{"swap", "-with", small, in, out}, 1, "small.png: size"},
		{"missing input", []string{"gray", filepath.Join(dir, "nope.png"), out}, 1, "nope.png"},
		{"not an image", []string{"gray", bad, out}, 1, "bad.png: decoding image"},
		{"unwritable", []string{"gray", in, filepath.Join(dir, "no", "dir", "out.png")}, 1, "writing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(tc.args...)
			require.Equal(t, tc.code, code, "stderr: %s", stderr)
			require.Contains(t, stderr, tc.msg)
		})
	}
	_, err = os.Stat(out)
	require.True(t, os.IsNotExist(err), "no output may be left behind by failed runs")
}

// TestDecodeOp checks `imgproc decode` against Pillow's pixels of the
// internal/jpeg golden files (colour, grey, CMYK).
func TestDecodeOp(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"s420", "gray", "cmyk", "prog420"} {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join("..", "..", "internal", "jpeg", "testdata", name+".jpg")
			out := filepath.Join(dir, name+".png")
			code, _, stderr := runCLI("decode", in, out)
			require.Equal(t, 0, code, stderr)
			want, err := os.ReadFile(filepath.Join("..", "..", "internal", "jpeg", "testdata", name+".rgb"))
			require.NoError(t, err)
			img := readPNG(t, out)
			var got []byte
			b := img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					r, g, bl, _ := img.At(x, y).RGBA()
					got = append(got, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
				}
			}
			require.True(t, bytes.Equal(want, got), "pixels differ from Pillow's")
		})
	}
}
