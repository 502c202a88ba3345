package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestResampleMatchesSlow(t *testing.T) {
	src := testImage(61, 47)
	tests := []struct {
		name string
		job  resampleJob
	}{
		{"identity", resampleJob{box: src.Rect, fullW: 61, fullH: 47, outW: 61, outH: 47}},
		{"down 3.3x", resampleJob{box: src.Rect, fullW: 18, fullH: 14, outW: 18, outH: 14}},
		{"up", resampleJob{box: image.Rect(5, 7, 20, 19), fullW: 40, fullH: 33, outW: 40, outH: 33}},
		{"crop down flip", resampleJob{box: image.Rect(3, 2, 60, 40), fullW: 16, fullH: 16, outW: 16, outH: 16, flip: true}},
		{"window", resampleJob{box: src.Rect, fullW: 30, fullH: 23, offX: 4, offY: 3, outW: 20, outH: 15}},
		{"padded window", resampleJob{box: src.Rect, fullW: 20, fullH: 15, offX: -3, offY: -2, outW: 24, outH: 20, flip: true}},
		{"one pixel", resampleJob{box: image.Rect(10, 10, 11, 11), fullW: 5, fullH: 4, outW: 5, outH: 4}},
		{"even rows to the last pixel", resampleJob{box: image.Rect(0, 1, 61, 47), fullW: 61, fullH: 46, outW: 61, outH: 46}},
		{"odd rows to the last pixel", resampleJob{box: image.Rect(0, 2, 61, 47), fullW: 61, fullH: 45, outW: 61, outH: 45}},
	}
	rng := rand.New(rand.NewPCG(16, 3))
	for i := range 40 {
		tests = append(tests, struct {
			name string
			job  resampleJob
		}{fmt.Sprintf("random %d", i), randomJob(rng, src.Rect)})
	}
	forEachResampleKernel(func(simd bool) {
		slack := newRGBA(src.Rect)
		copy(slack.Pix, src.Pix)
		for _, img := range []*image.RGBA{slack, exactRGBA(src)} { // with and without slack after the pixels
			for _, tc := range tests {
				t.Run(fmt.Sprintf("%s simd=%v slack=%d", tc.name, simd, cap(img.Pix)-len(img.Pix)), func(t *testing.T) {
					got := make([]float32, tc.job.outW*tc.job.outH*3)
					for i := range got {
						got[i] = -1 // must be overwritten, padding included
					}
					resampleRGBA(got, img, tc.job)
					requireSameValues(t, slowResample(img, tc.job), got)
				})
			}
		}
	})
}

// randomJob draws a crop box inside r, an output size from 1/5 to 5 times
// the box, and sometimes a shifted window and a flip.
func randomJob(rng *rand.Rand, r image.Rectangle) resampleJob {
	x0, y0 := rng.IntN(r.Dx()), rng.IntN(r.Dy())
	x1, y1 := x0+1+rng.IntN(r.Dx()-x0), y0+1+rng.IntN(r.Dy()-y0)
	size := func(in int) int { return max(1, int(float64(in)*math.Exp(rng.Float64()*3.2-1.6))) }
	j := resampleJob{box: image.Rect(x0, y0, x1, y1), fullW: size(x1 - x0), fullH: size(y1 - y0), flip: rng.IntN(2) == 0}
	j.outW, j.outH = j.fullW, j.fullH
	if rng.IntN(3) == 0 {
		j.offX, j.offY = rng.IntN(5)-2, rng.IntN(5)-2
		j.outW, j.outH = max(1, j.fullW-rng.IntN(3)), max(1, j.fullH+rng.IntN(3)-1)
	}
	return j
}

// requireSameValues checks that got equals the 8-bit values want exactly.
func requireSameValues(t *testing.T, want []uint8, got []float32) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if float32(want[i]) != got[i] {
			require.Failf(t, "values differ", "index %d (pixel %d channel %d): want %d, got %v", i, i/3, i%3, want[i], got[i])
		}
	}
}

// exactRGBA copies img into a buffer without spare capacity.
func exactRGBA(img *image.RGBA) *image.RGBA {
	pix := make([]byte, len(img.Pix))
	copy(pix, img.Pix)
	return &image.RGBA{Pix: pix, Stride: img.Stride, Rect: img.Rect}
}

// TestResampleMatchesPillow compares with Pillow's crop+resize(BILINEAR) of
// testdata/photo.png (testdata/resize_*.png from make_testdata.py): equal.
func TestResampleMatchesPillow(t *testing.T) {
	photo := toRGB(loadPNG(t, "testdata/photo.png"), Info{}, DecodeOptions{})
	boxes := []struct{ l, t, r, b, w, h int }{
		{0, 0, 160, 120, 64, 48}, {0, 0, 160, 120, 37, 29}, {10, 5, 150, 100, 224, 224},
		{33, 17, 97, 61, 24, 24}, {0, 0, 160, 120, 160, 40},
	}
	for i, bx := range boxes {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want := toRGB(loadPNG(t, fmt.Sprintf("testdata/resize_%d.png", i)), Info{}, DecodeOptions{})
			job := resampleJob{box: image.Rect(bx.l, bx.t, bx.r, bx.b), fullW: bx.w, fullH: bx.h, outW: bx.w, outH: bx.h}
			got := make([]float32, bx.w*bx.h*3)
			resampleRGBA(got, photo, job)
			requireSameValues(t, rgbValues(want), got)
		})
	}
}

func TestRRCParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	scale, ratio := [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3}
	var areaSum float64
	for i := 0; i < 2000; i++ {
		w, h := 300+i%7, 300-i%5
		x, y, cw, ch := rrcParams(w, h, scale, ratio, rng)
		require.True(t, x >= 0 && y >= 0 && cw > 0 && ch > 0 && x+cw <= w && y+ch <= h, "%d %d %d %d in %dx%d", x, y, cw, ch, w, h)
		areaSum += float64(cw*ch) / float64(w*h)
	}
	require.InDelta(t, 0.50, areaSum/2000, 0.05) // U(0.08,1) is 0.54, less the large crops rejected for their aspect
	// Fallback: impossible ratios give a centre crop with clamped aspect.
	x, y, w, h := rrcParams(100, 10, [2]float64{1, 1}, [2]float64{1, 2}, rng)
	require.Equal(t, []int{40, 0, 20, 10}, []int{x, y, w, h})
}

func TestEvalTransformGeometry(t *testing.T) {
	tests := []struct {
		w, h, shorter, crop int
		want                resampleJob
	}{
		{500, 375, 256, 224, resampleJob{fullW: 341, fullH: 256, offX: 58, offY: 16}},
		{375, 500, 256, 224, resampleJob{fullW: 256, fullH: 341, offX: 16, offY: 58}},
		{225, 225, 225, 224, resampleJob{fullW: 225, fullH: 225, offX: 0, offY: 0}}, // round(0.5) = 0
		{227, 227, 227, 224, resampleJob{fullW: 227, fullH: 227, offX: 2, offY: 2}}, // round(1.5) = 2
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d", tc.w, tc.h), func(t *testing.T) {
			j := EvalTransform(tc.shorter, tc.crop, Normalize{}).plan(tc.w, tc.h, nil)
			require.Equal(t, tc.want.fullW, j.fullW)
			require.Equal(t, tc.want.fullH, j.fullH)
			require.Equal(t, tc.want.offX, j.offX)
			require.Equal(t, tc.want.offY, j.offY)
		})
	}
}

func TestNormalize(t *testing.T) {
	buf := []float32{255, 0, 51}
	n := Normalize{Mean: [3]float32{0.5, 0.25, 0}, Std: [3]float32{0.5, 1, 2}, Scale: 1}
	n.apply(buf)
	require.InDeltaSlice(t, []float32{1, -0.25, 0.1}, buf, 1e-6)
	buf = []float32{255, 0, 51}
	n.BGR = true
	n.apply(buf) // out[0] is blue
	require.InDeltaSlice(t, []float32{(0.2 - 0.5) / 0.5, -0.25, 1.0 / 2}, buf, 1e-6)
	buf = []float32{255, 0, 51}
	Normalize{Scale: 255, Mean: [3]float32{103.9, 116.8, 123.7}}.apply(buf) // caffe-style
	require.InDeltaSlice(t, []float32{255 - 103.9, -116.8, 51 - 123.7}, buf, 1e-3)
}

func TestTrainTransformFlipAndDeterminism(t *testing.T) {
	src := testImage(40, 30)
	a := AugmentConfig{RandomResizedCrop: false, HFlip: 1}
	flipped := make([]float32, 30*30*3)
	TrainTransform(a, 30, Normalize{}).Apply(flipped, src, rand.New(rand.NewPCG(1, 1)))
	a.HFlip = 0
	plain := make([]float32, 30*30*3)
	TrainTransform(a, 30, Normalize{}).Apply(plain, src, rand.New(rand.NewPCG(1, 1)))
	for y := 0; y < 30; y++ {
		for x := 0; x < 30; x++ {
			for c := 0; c < 3; c++ {
				require.InDelta(t, plain[(y*30+x)*3+c], flipped[(y*30+29-x)*3+c], 1e-6)
			}
		}
	}
	// Random crop with padding: some rows or columns are zero padding.
	a = AugmentConfig{RandomCrop: true, Padding: 4}
	out := make([]float32, 30*30*3)
	zeroEdges := 0
	for s := uint64(0); s < 20; s++ {
		TrainTransform(a, 30, Normalize{}).Apply(out, src, rand.New(rand.NewPCG(s, 0)))
		if out[0] == 0 && out[1] == 0 || out[len(out)-1] == 0 && out[len(out)-2] == 0 {
			zeroEdges++
		}
	}
	require.Greater(t, zeroEdges, 5)
}

// TestTrainTransformGolden pins the full training pipeline (every augmentation
// on) for a fixed RNG, so that a change in RNG consumption, which would break
// resuming old runs reproducibly, is noticed. Update with -update.
func TestTrainTransformGolden(t *testing.T) {
	photo := toRGB(loadPNG(t, "testdata/photo.png"), Info{}, DecodeOptions{})
	cfgs := map[string]AugmentConfig{
		"default": DefaultConfig().Augment,
		"all": {RandomResizedCrop: true, Scale: [2]float64{0.3, 1}, Ratio: [2]float64{0.5, 2}, HFlip: 0.5, Rotation: 20,
			Jitter: JitterConfig{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}},
		"randomcrop": {RandomCrop: true, Padding: 6, HFlip: 0.5},
	}
	var lines []string
	for _, name := range []string{"all", "default", "randomcrop"} {
		tr := TrainTransform(cfgs[name], 32, imageNetNormalize())
		out := make([]float32, tr.Len())
		h := sha256.New()
		var sum float64
		for seed := uint64(0); seed < 4; seed++ {
			tr.Apply(out, photo, rand.New(rand.NewPCG(seed, 7)))
			for _, v := range out {
				// quantise so that float rounding differences across CPUs do not matter
				_ = binary.Write(h, binary.LittleEndian, int32(math.Round(float64(v)*100)))
				sum += float64(v)
			}
		}
		lines = append(lines, fmt.Sprintf("%s %s %.2f", name, hex.EncodeToString(h.Sum(nil))[:16], sum))
	}
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "train_transform.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

// TestColorJitterOps checks each colorJitter adjustment against the textbook
// formulas in float64 (colorsys-style HSV).
func TestColorJitterOps(t *testing.T) {
	px := []float32{200, 100, 50, 10, 20, 30, 255, 255, 0, 128, 128, 128}
	tests := []struct {
		name string
		j    JitterConfig
	}{
		{"brightness", JitterConfig{Brightness: 0.5}},
		{"contrast", JitterConfig{Contrast: 0.5}},
		{"saturation", JitterConfig{Saturation: 0.9}},
		{"hue", JitterConfig{Hue: 0.3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := append([]float32(nil), px...)
			rng := rand.New(rand.NewPCG(5, 5))
			colorJitter(buf, tc.j, rng)
			// Replay the draws: the order permutation, then one factor.
			r2 := rand.New(rand.NewPCG(5, 5))
			r2.Perm(4)
			u := r2.Float64()
			for i := 0; i < len(px); i += 3 {
				r, g, b := float64(px[i]), float64(px[i+1]), float64(px[i+2])
				var want [3]float64
				switch tc.name {
				case "brightness":
					f := 0.5 + u
					want = [3]float64{r * f, g * f, b * f}
				case "contrast":
					mean := 0.0
					for k := 0; k < len(px); k += 3 {
						mean += 0.299*float64(px[k]) + 0.587*float64(px[k+1]) + 0.114*float64(px[k+2])
					}
					mean /= float64(len(px) / 3)
					f := 0.5 + u
					want = [3]float64{mean + f*(r-mean), mean + f*(g-mean), mean + f*(b-mean)}
				case "saturation":
					f := 0.1 + 1.8*u
					gr := 0.299*r + 0.587*g + 0.114*b
					want = [3]float64{gr + f*(r-gr), gr + f*(g-gr), gr + f*(b-gr)}
				case "hue":
					shift := (2*u - 1) * 0.3
					h, s, v := slowRGBToHSV(r, g, b)
					h = math.Mod(h+shift+1, 1)
					want = slowHSVToRGB(h, s, v)
				}
				for c := 0; c < 3; c++ {
					require.InDelta(t, math.Min(255, math.Max(0, want[c])), buf[i+c], 0.02, "pixel %d channel %d", i/3, c)
				}
			}
		})
	}
}

func slowRGBToHSV(r, g, b float64) (h, s, v float64) {
	mx, mn := math.Max(r, math.Max(g, b)), math.Min(r, math.Min(g, b))
	v = mx
	if mx == mn {
		return 0, 0, v
	}
	s = (mx - mn) / mx
	rc, gc, bc := (mx-r)/(mx-mn), (mx-g)/(mx-mn), (mx-b)/(mx-mn)
	switch {
	case r == mx:
		h = bc - gc
	case g == mx:
		h = 2 + rc - bc
	default:
		h = 4 + gc - rc
	}
	h = math.Mod(h/6+1, 1)
	return h, s, v
}

func slowHSVToRGB(h, s, v float64) [3]float64 {
	if s == 0 {
		return [3]float64{v, v, v}
	}
	i := math.Floor(h * 6)
	f := h*6 - i
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	switch int(i) % 6 {
	case 0:
		return [3]float64{v, t, p}
	case 1:
		return [3]float64{q, v, p}
	case 2:
		return [3]float64{p, v, t}
	case 3:
		return [3]float64{p, q, v}
	case 4:
		return [3]float64{t, p, v}
	}
	return [3]float64{v, p, q}
}

func TestRotate(t *testing.T) {
	// 90 degrees maps a left-column marker to the bottom row (counter-clockwise).
	w := 9
	buf := make([]float32, w*w*3)
	for c := 0; c < 3; c++ {
		buf[(4*w+0)*3+c] = 255 // middle of the left column
	}
	rotate(buf, w, w, 90)
	require.InDelta(t, 255, buf[((w-1)*w+4)*3], 1e-3)
	require.InDelta(t, 0, buf[(4*w+0)*3], 1e-3)
	// 0 degrees is the identity.
	src := testImage(7, 5)
	img := make([]float32, 7*5*3)
	resampleRGBA(img, src, resampleJob{box: src.Rect, fullW: 7, fullH: 5, outW: 7, outH: 5})
	cp := append([]float32(nil), img...)
	rotate(img, 7, 5, 0)
	require.InDeltaSlice(t, cp, img, 1e-3)
}
