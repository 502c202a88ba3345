package dataset

import (
	"bufio"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pillowWeights is Pillow's precompute_coeffs + normalize_coeffs_8bpc for the
// bilinear filter, resizing in samples to out, written as Pillow's C reads.
func pillowWeights(in, out int) (first []int, weights [][]int32) {
	scale := float64(in) / float64(out)
	filterscale := math.Max(scale, 1)
	support := 1 * filterscale
	ss := 1 / filterscale
	for xx := 0; xx < out; xx++ {
		center := (float64(xx) + 0.5) * scale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > in {
			xmax = in
		}
		var w []float64
		ww := 0.0
		for x := xmin; x < xmax; x++ {
			v := math.Max(0, 1-math.Abs((float64(x)-center+0.5)*ss))
			w = append(w, v)
			ww += v
		}
		k := make([]int32, len(w))
		for i := range w {
			k[i] = int32(math.Floor(0.5 + w[i]/ww*(1<<22)))
		}
		first = append(first, xmin)
		weights = append(weights, k)
	}
	return first, weights
}

// pillowPass resizes one axis of a w x h packed RGB image to out samples (the
// width when horizontal, else the height), rounding and clipping each value
// to 8 bits.
func pillowPass(src []uint8, w, h, out int, horizontal bool) []uint8 {
	in, ow, oh := h, w, out
	if horizontal {
		in, ow, oh = w, out, h
	}
	first, weights := pillowWeights(in, out)
	dst := make([]uint8, ow*oh*3)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			for c := 0; c < 3; c++ {
				o := y
				if horizontal {
					o = x
				}
				k := weights[o]
				s := int64(1 << 21)
				for t, wt := range k {
					sx, sy := x, first[o]+t
					if horizontal {
						sx, sy = first[o]+t, y
					}
					s += int64(src[(sy*w+sx)*3+c]) * int64(wt)
				}
				dst[(y*ow+x)*3+c] = uint8(min(max(s>>22, 0), 255))
			}
		}
	}
	return dst
}

// slowResample is the obvious version of resampleRGBA: crop the box, resize
// the whole crop as Pillow does (horizontal pass, then vertical), then take
// the window, zero outside the resized image, mirrored when flipped.
func slowResample(src *image.RGBA, j resampleJob) []uint8 {
	bw, bh := j.box.Dx(), j.box.Dy()
	crop := make([]uint8, 0, bw*bh*3)
	for y := j.box.Min.Y; y < j.box.Max.Y; y++ {
		for x := j.box.Min.X; x < j.box.Max.X; x++ {
			i := src.PixOffset(x, y)
			crop = append(crop, src.Pix[i:i+3]...)
		}
	}
	full := pillowPass(pillowPass(crop, bw, bh, j.fullW, true), j.fullW, bh, j.fullH, false)
	out := make([]uint8, j.outW*j.outH*3)
	for oy := 0; oy < j.outH; oy++ {
		for ox := 0; ox < j.outW; ox++ {
			x, y := j.offX+ox, j.offY+oy
			if j.flip {
				x = j.offX + j.outW - 1 - ox
			}
			if x < 0 || y < 0 || x >= j.fullW || y >= j.fullH {
				continue
			}
			copy(out[(oy*j.outW+ox)*3:][:3], full[(y*j.fullW+x)*3:])
		}
	}
	return out
}

// rgbValues returns the packed 8-bit RGB values of img.
func rgbValues(img *image.RGBA) []uint8 {
	var out []uint8
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			i := img.PixOffset(x, y)
			out = append(out, img.Pix[i:i+3]...)
		}
	}
	return out
}

// resizeCase is one line of testdata/resize/cases.txt.
type resizeCase struct {
	name, kind, src string
	p               []int
}

func readResizeCases(t *testing.T) []resizeCase {
	f, err := os.Open("testdata/resize/cases.txt")
	require.NoError(t, err)
	defer f.Close()
	var cases []resizeCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		c := resizeCase{name: fields[0], kind: fields[1], src: fields[2]}
		for _, s := range fields[3:] {
			v, err := strconv.Atoi(s)
			require.NoError(t, err, sc.Text())
			c.p = append(c.p, v)
		}
		cases = append(cases, c)
	}
	require.NoError(t, sc.Err())
	return cases
}

// identityNorm keeps the 0..255 values: out = (v/255)*255.
var identityNorm = Normalize{Scale: 255}

// TestResizeMatchesPillowGoldens runs every case of testdata/resize (made by
// make_resize_golden.py with Pillow and torchvision) with both kernels and
// requires identical values: plain resizes through resampleRGBA, the
// evaluation pipeline (T.Resize + T.CenterCrop) through EvalTransform, and
// torchvision's resized_crop (+ hflip) through the job RandomResizedCrop
// plans.
func TestResizeMatchesPillowGoldens(t *testing.T) {
	cases := readResizeCases(t)
	require.Len(t, cases, 22)
	forEachResampleKernel(func(simd bool) {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s %s simd=%v", c.name, c.kind, simd), func(t *testing.T) {
				src := toRGB(loadPNG(t, filepath.Join("testdata", "resize", "src_"+c.src+".png")), Info{}, DecodeOptions{})
				want := toRGB(loadPNG(t, filepath.Join("testdata", "resize", c.name+".png")), Info{}, DecodeOptions{})
				got := runResizeCase(t, c, src)
				require.Len(t, got, want.Rect.Dx()*want.Rect.Dy()*3, "output size")
				requireSameValues(t, rgbValues(want), got)
			})
		}
	})
}

func runResizeCase(t *testing.T, c resizeCase, src *image.RGBA) []float32 {
	p := c.p
	switch c.kind {
	case "resize":
		j := resampleJob{box: image.Rect(p[0], p[1], p[2], p[3]), fullW: p[4], fullH: p[5], outW: p[4], outH: p[5]}
		got := make([]float32, p[4]*p[5]*3)
		resampleRGBA(got, src, j)
		return got
	case "eval":
		tr := EvalTransform(p[0], p[1], identityNorm)
		got := make([]float32, tr.Len())
		tr.Apply(got, src, nil)
		return got
	case "rrc":
		top, left, h, w, size := p[0], p[1], p[2], p[3], p[4]
		j := resampleJob{box: image.Rect(left, top, left+w, top+h), fullW: size, fullH: size, outW: size, outH: size, flip: p[5] == 1}
		got := make([]float32, size*size*3)
		resampleRGBA(got, src, j)
		return got
	}
	t.Fatalf("unknown case kind %q", c.kind)
	return nil
}

// pillowRandomScript resizes as each line of its input file says, with
// Pillow and torchvision, writing the raw RGB bytes of the result:
// "resize SRC OUT L T R B W H" or "eval SRC OUT SHORTER CROP".
const pillowRandomScript = `
for line in open(sys.argv[1]):
    f = line.split()
    img = Image.open(f[1]).convert("RGB")
    p = [int(v) for v in f[3:]]
    if f[0] == "resize":
        out = img.crop(tuple(p[:4])).resize((p[4], p[5]), Image.BILINEAR)
    else:
        out = T.CenterCrop(p[1])(T.Resize(p[0])(img))
    open(f[2], "wb").write(out.tobytes())
`

// TestResizeMatchesPillowRandom runs Pillow (and torchvision for the eval
// transform) on random images, boxes and sizes, and requires our values to
// be equal. Skipped without /usr/bin/python3 with PIL and torchvision, and
// under -short.
func TestResizeMatchesPillowRandom(t *testing.T) {
	skipWithoutPython(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(16, 4))
	var srcs []*image.RGBA
	for i := range 4 {
		img := noiseImage(rng, 1+rng.IntN(300), 1+rng.IntN(300))
		writeFile(t, dir, fmt.Sprintf("src%d.png", i), encodePNG(t, img))
		srcs = append(srcs, img)
	}
	type job struct {
		src  int
		line string
		run  func() []float32
	}
	var jobs []job
	for i := range 120 {
		s := rng.IntN(len(srcs))
		src, out := srcs[s], filepath.Join(dir, fmt.Sprintf("out%d.raw", i))
		prefix := fmt.Sprintf("%s %s", filepath.Join(dir, fmt.Sprintf("src%d.png", s)), out)
		if i%4 == 3 {
			w, h := src.Rect.Dx(), src.Rect.Dy()
			crop := 1 + rng.IntN(min(w, h, 64))
			shorter := crop + rng.IntN(64)
			tr := EvalTransform(shorter, crop, identityNorm)
			jobs = append(jobs, job{s, fmt.Sprintf("eval %s %d %d", prefix, shorter, crop), func() []float32 {
				got := make([]float32, tr.Len())
				tr.Apply(got, src, nil)
				return got
			}})
			continue
		}
		j := randomJob(rng, src.Rect)
		j.offX, j.offY, j.outW, j.outH, j.flip = 0, 0, j.fullW, j.fullH, false
		b := j.box
		jobs = append(jobs, job{s, fmt.Sprintf("resize %s %d %d %d %d %d %d", prefix, b.Min.X, b.Min.Y, b.Max.X, b.Max.Y, j.fullW, j.fullH), func() []float32 {
			got := make([]float32, j.outW*j.outH*3)
			resampleRGBA(got, src, j)
			return got
		}})
	}
	var lines []string
	for _, j := range jobs {
		lines = append(lines, j.line)
	}
	list := writeFile(t, dir, "cases.txt", []byte(strings.Join(lines, "\n")+"\n"))
	runPython(t, []string{"from PIL import Image", "import torchvision.transforms as T"}, pillowRandomScript, list)
	forEachResampleKernel(func(simd bool) {
		for i, j := range jobs {
			want, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out%d.raw", i)))
			require.NoError(t, err)
			got := j.run()
			if !slices.Equal(want, floatsToBytes(got)) {
				requireSameValues(t, want, got) // names the first difference
				t.Fatalf("case %q (simd=%v) differs", j.line, simd)
			}
		}
	})
	t.Logf("%d random cases equal Pillow's values", len(jobs))
}

// noiseImage is a w x h image of uniform random colours (the hardest case
// for rounding).
func noiseImage(rng *rand.Rand, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

// floatsToBytes converts values 0..255 to bytes (others to 0, which then
// compare unequal to most).
func floatsToBytes(v []float32) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		if x >= 0 && x <= 255 && x == float32(int(x)) {
			b[i] = byte(x)
		}
	}
	return b
}
