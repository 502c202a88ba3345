package dataset

import (
	"bufio"
	"cmp"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The goldens in testdata/autoaugment come from make_golden.py (torchvision
// 0.14, Pillow 9.4, torch 1.13); rerun it there to regenerate them.
const autoAugmentDir = "testdata/autoaugment"

func readLines(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 0 {
			lines = append(lines, fields)
		}
	}
	require.NoError(t, sc.Err())
	return lines
}

func parseFloats(t *testing.T, s []string) []float64 {
	t.Helper()
	out := make([]float64, len(s))
	for i, v := range s {
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err)
		out[i] = f
	}
	return out
}

func opByName(t *testing.T, name string) autoOp {
	t.Helper()
	i := slices.Index(autoOpNames[:], name)
	require.GreaterOrEqual(t, i, 0, "unknown op %s", name)
	return autoOp(i)
}

func pngPixels(t *testing.T, path string) pixels {
	t.Helper()
	img := toRGB(loadPNG(t, path), Info{}, DecodeOptions{})
	p := pixels{make([]uint8, 0, img.Rect.Dx()*img.Rect.Dy()*3), img.Rect.Dx(), img.Rect.Dy()}
	for i := 0; i < len(img.Pix); i += 4 {
		p.pix = append(p.pix, img.Pix[i:i+3]...)
	}
	return p
}

// TestAutoAugmentSpaces compares the magnitude bins and signs with
// torchvision's _augmentation_space tables, value for value.
func TestAutoAugmentSpaces(t *testing.T) {
	lines := readLines(t, filepath.Join(autoAugmentDir, "spaces.txt"))
	spaces := map[string][numAutoOps]opRange{}
	for _, f := range lines {
		name := f[0]
		space, ok := spaces[name]
		if !ok {
			if name == "ta" {
				space = trivialAugmentSpace()
			} else {
				var h, w int
				_, err := fmt.Sscanf(name, "ra_%dx%d", &h, &w)
				require.NoError(t, err)
				space = randAugmentSpace(h, w)
			}
			spaces[name] = space
		}
		t.Run(name+"/"+f[1], func(t *testing.T) {
			r := space[opByName(t, f[1])]
			require.Equal(t, f[2] == "1", r.signed)
			if f[3] == "-" {
				require.Nil(t, r.mags)
				return
			}
			require.Equal(t, parseFloats(t, f[3:]), r.mags)
		})
	}
	require.Len(t, spaces, 6)
}

// TestAutoAugmentOpsMatchPillow runs every operation at the goldens'
// magnitudes (TrivialAugmentWide's and RandAugment's bins, both signs) on
// generated images and requires torchvision's pixels exactly.
func TestAutoAugmentOpsMatchPillow(t *testing.T) {
	for _, f := range readLines(t, filepath.Join(autoAugmentDir, "cases.txt")) {
		src, op, out, mags := f[0], opByName(t, f[1]), f[2], parseFloats(t, f[3:])
		t.Run(src+"/"+f[1], func(t *testing.T) {
			in := pngPixels(t, filepath.Join(autoAugmentDir, "src_"+src+".png"))
			want := pngPixels(t, filepath.Join(autoAugmentDir, out))
			require.Equal(t, in.w, want.w)
			require.Equal(t, in.h*len(mags), want.h)
			n := len(in.pix)
			for k, m := range mags {
				img := pixels{slices.Clone(in.pix), in.w, in.h}
				tmp := pixels{make([]uint8, n), in.w, in.h}
				if applyOp(op, m, img, tmp, make([]int, in.w)) {
					img = tmp
				}
				exp := want.pix[k*n : (k+1)*n]
				if !slices.Equal(exp, img.pix) {
					diff, first := 0, -1
					for i := range exp {
						if exp[i] != img.pix[i] {
							diff++
							if first < 0 {
								first = i
							}
						}
					}
					t.Errorf("magnitude %v: %d of %d values differ; first at pixel (%d,%d) channel %d: got %d, want %d",
						m, diff, n, first/3%in.w, first/3/in.w, first%3, img.pix[first], exp[first])
				}
			}
		})
	}
}

// spacePairs is the set of (op, magnitude) pairs an augmentation can draw:
// every bin (TrivialAugmentWide) or the configured one (RandAugment), with
// both signs where the op is signed.
func spacePairs(a *autoAugment) map[opDraw]bool {
	pairs := map[opDraw]bool{}
	for op, r := range a.space {
		mags := r.mags
		if mags == nil {
			mags = []float64{0}
		} else if !a.wide {
			mags = mags[a.magnitude : a.magnitude+1]
		}
		for _, m := range mags {
			pairs[opDraw{autoOp(op), m}] = true
			if r.signed {
				pairs[opDraw{autoOp(op), -m}] = true
			}
		}
	}
	return pairs
}

// TestAutoAugmentDraws checks the sampling: the (op, magnitude) pairs drawn
// are exactly the space's, ops are uniform, signs fair, and RandAugment draws
// ra_num_ops ops at its one magnitude bin.
func TestAutoAugmentDraws(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a     AugmentConfig
		n     int
		perIm int
	}{
		{"ta_wide", AugmentConfig{AutoAugment: AutoAugmentTrivialWide}, 200000, 1},
		{"ra", AugmentConfig{AutoAugment: AutoAugmentRand, RANumOps: 2, RAMagnitude: 9}, 20000, 2},
		{"ra m30 n3", AugmentConfig{AutoAugment: AutoAugmentRand, RANumOps: 3, RAMagnitude: 30}, 20000, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAutoAugment(tc.a, 224, 224)
			rng := rand.New(rand.NewPCG(1, 2))
			seen := map[opDraw]bool{}
			var perOp [numAutoOps]int
			neg, signed := 0, 0
			var ops []opDraw
			for range tc.n {
				ops = a.draw(rng, ops[:0])
				require.Len(t, ops, tc.perIm)
				for _, d := range ops {
					seen[d] = true
					perOp[d.op]++
					if a.space[d.op].signed && d.mag != 0 {
						signed++
						if d.mag < 0 {
							neg++
						}
					}
				}
			}
			require.Equal(t, spacePairs(a), seen)
			total := tc.n * tc.perIm
			for op, c := range perOp {
				require.InDelta(t, float64(total)/float64(numAutoOps), c, 0.05*float64(total)/float64(numAutoOps),
					"op %v", autoOp(op))
			}
			require.InDelta(t, 0.5, float64(neg)/float64(signed), 0.02)
		})
	}
	require.Nil(t, newAutoAugment(AugmentConfig{}, 8, 8))
}

// TestAutoAugmentDrawsGolden pins the use of the RNG (which draws, in which
// order) for both transforms, so that a change, which would break resuming
// old runs reproducibly, is noticed. Update with -update.
func TestAutoAugmentDrawsGolden(t *testing.T) {
	var b strings.Builder
	for _, a := range []AugmentConfig{{AutoAugment: AutoAugmentTrivialWide}, {AutoAugment: AutoAugmentRand, RANumOps: 2, RAMagnitude: 9}} {
		aa := newAutoAugment(a, 224, 224)
		for seed := range uint64(8) {
			rng := rand.New(rand.NewPCG(seed, 9))
			fmt.Fprintf(&b, "%s %d:", a.AutoAugment, seed)
			for _, d := range aa.draw(rng, nil) {
				fmt.Fprintf(&b, " %v %v", d.op, d.mag)
			}
			fmt.Fprintf(&b, " next %d\n", rng.IntN(1000))
		}
	}
	path := filepath.Join(autoAugmentDir, "draws.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), b.String())
}

// TestAutoAugmentInTransform checks the place of the augmentation in the
// training transform: after the crop and flip, on the 8-bit crop, drawing
// from the sample's RNG right after the geometry, before normalisation.
func TestAutoAugmentInTransform(t *testing.T) {
	photo := toRGB(loadPNG(t, "testdata/photo.png"), Info{}, DecodeOptions{})
	for _, mode := range []string{AutoAugmentTrivialWide, AutoAugmentRand} {
		t.Run(mode, func(t *testing.T) {
			a := DefaultConfig().Augment
			a.AutoAugment = mode
			norm := Normalize{Mean: [3]float32{0.5, 0.4, 0.3}, Std: [3]float32{0.2, 0.3, 0.25}, Scale: 1}
			tr := TrainTransform(a, 40, norm)
			a.AutoAugment = ""
			plain := TrainTransform(a, 40, norm)
			changed := 0
			for seed := uint64(0); seed < 30; seed++ {
				got := make([]float32, tr.Len())
				tr.Apply(got, photo, rand.New(rand.NewPCG(seed, 3)))

				rng := rand.New(rand.NewPCG(seed, 3))
				want := make([]float32, tr.Len())
				job := plain.plan(photo.Rect.Dx(), photo.Rect.Dy(), rng)
				resampleRGBA(want, photo, job)
				img := pixels{make([]uint8, len(want)), 40, 40}
				quantize(img.pix, want)
				tmp := pixels{make([]uint8, len(want)), 40, 40}
				for _, d := range tr.auto.draw(rng, nil) {
					if applyOp(d.op, d.mag, img, tmp, make([]int, 40)) {
						img, tmp = tmp, img
					}
				}
				for i, v := range img.pix {
					if float32(v) != want[i] {
						changed++
						break
					}
				}
				for i, v := range img.pix {
					want[i] = float32(v)
				}
				norm.apply(want)
				require.Equal(t, want, got, "seed %d", seed)
			}
			require.Greater(t, changed, 15, "the augmentation should change most crops")
		})
	}
}

// TestAutoAugmentOnImage runs Apply on a sub-image (non-zero origin): the
// same seed gives the same crop, and the values stay whole numbers in
// [0,255].
func TestAutoAugmentOnImage(t *testing.T) {
	img := photoLike(64, 48, 5).SubImage(image.Rect(3, 2, 60, 47)).(*image.RGBA)
	a := DefaultConfig().Augment
	a.AutoAugment = AutoAugmentTrivialWide
	tr := TrainTransform(a, 24, Normalize{Scale: 255})
	out1, out2 := make([]float32, tr.Len()), make([]float32, tr.Len())
	for seed := uint64(0); seed < 50; seed++ {
		tr.Apply(out1, img, rand.New(rand.NewPCG(seed, 1)))
		tr.Apply(out2, img, rand.New(rand.NewPCG(seed, 1)))
		require.Equal(t, out1, out2, "same seed, same crop")
		for _, v := range out1 {
			require.True(t, v >= 0 && v <= 255 && v == float32(int(v)), "8-bit values, got %v", v)
		}
	}
}

// torchvisionOpScript applies _apply_op as each line of its input file says,
// "SRC OUT OP MAGNITUDE", writing the raw RGB bytes of the result.
const torchvisionOpScript = `
for line in open(sys.argv[1]):
    src, out, op, mag = line.split()
    img = _apply_op(Image.open(src).convert("RGB"), op, float(mag), InterpolationMode.NEAREST, None)
    open(out, "wb").write(np.asarray(img).tobytes())
`

// TestAutoAugmentMatchesTorchvisionRandom runs torchvision's _apply_op live on
// random images (sizes up to 260, 224x224 among them) with random ops and
// magnitudes from both spaces, and requires our pixels exactly. Skipped
// without /usr/bin/python3 with PIL and torchvision, and under -short.
func TestAutoAugmentMatchesTorchvisionRandom(t *testing.T) {
	skipWithoutPython(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(17, 5))
	var srcs []pixels
	for i := range 6 {
		w, h := 1+rng.IntN(260), 1+rng.IntN(260)
		if i == 0 {
			w, h = 224, 224
		}
		img := photoLike(w, h, uint64(i))
		if i%2 == 1 {
			img = noiseImage(rng, w, h)
		}
		writeFile(t, dir, fmt.Sprintf("src%d.png", i), encodePNG(t, img))
		p := pixels{nil, w, h}
		for j := 0; j < len(img.Pix); j += 4 {
			p.pix = append(p.pix, img.Pix[j:j+3]...)
		}
		srcs = append(srcs, p)
	}
	type job struct {
		src int
		op  autoOp
		mag float64
	}
	var jobs []job
	var lines []string
	for i := range 200 {
		s := rng.IntN(len(srcs))
		a := &autoAugment{space: trivialAugmentSpace(), wide: true, numOps: 1}
		if i%2 == 1 {
			a = &autoAugment{space: randAugmentSpace(srcs[s].h, srcs[s].w), numOps: 1, magnitude: rng.IntN(autoBins)}
		}
		d := a.draw(rng, nil)[0]
		jobs = append(jobs, job{s, d.op, d.mag})
		lines = append(lines, fmt.Sprintf("%s %s %v %s", filepath.Join(dir, fmt.Sprintf("src%d.png", s)),
			filepath.Join(dir, fmt.Sprintf("out%d.raw", i)), d.op, strconv.FormatFloat(d.mag, 'g', -1, 64)))
	}
	list := writeFile(t, dir, "cases.txt", []byte(strings.Join(lines, "\n")+"\n"))
	runPython(t, []string{"import numpy as np", "from PIL import Image", "from torchvision.transforms import InterpolationMode",
		"from torchvision.transforms.autoaugment import _apply_op"}, torchvisionOpScript, list)
	for i, j := range jobs {
		want, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out%d.raw", i)))
		require.NoError(t, err)
		src := srcs[j.src]
		img := pixels{slices.Clone(src.pix), src.w, src.h}
		tmp := pixels{make([]uint8, len(src.pix)), src.w, src.h}
		if applyOp(j.op, j.mag, img, tmp, make([]int, src.w)) {
			img = tmp
		}
		require.True(t, slices.Equal(want, img.pix), "case %d: %v %v on %dx%d differs", i, j.op, j.mag, src.w, src.h)
	}
	t.Logf("%d random cases equal torchvision's pixels", len(jobs))
}

// BenchmarkPipelineAutoAugment is the training pipeline (decode +
// RandomResizedCrop(224) + flip + normalisation, one worker) on generated
// cat12-size JPEGs without and with TrivialAugmentWide and RandAugment.
func BenchmarkPipelineAutoAugment(b *testing.B) {
	s := generated500x375(b, 128)
	for _, mode := range []string{"", AutoAugmentTrivialWide, AutoAugmentRand} {
		b.Run("auto="+cmp.Or(mode, "off"), func(b *testing.B) {
			a := DefaultConfig().Augment
			a.AutoAugment = mode
			tr := TrainTransform(a, 224, Normalize{Mean: [3]float32{0.5, 0.4, 0.3}, Std: [3]float32{0.2, 0.3, 0.25}, Scale: 1})
			l := NewLoader(s, tr, LoaderOptions{BatchSize: 32, Workers: 1, Shuffle: true, Seed: 1})
			n, cpu := runEpochs(b, l)
			b.ReportMetric(float64(n)/cpu.Seconds(), "img/s/core")
		})
	}
}

// BenchmarkAutoAugmentOps times each operation on a 224x224 crop at a
// mid-range TrivialAugmentWide magnitude.
func BenchmarkAutoAugmentOps(b *testing.B) {
	src := photoLike(224, 224, 1)
	in := pixels{nil, 224, 224}
	for i := 0; i < len(src.Pix); i += 4 {
		in.pix = append(in.pix, src.Pix[i:i+3]...)
	}
	space := trivialAugmentSpace()
	for op := range numAutoOps {
		mag := 0.0
		if m := space[op].mags; m != nil {
			mag = m[15]
		}
		b.Run(op.String(), func(b *testing.B) {
			img := pixels{slices.Clone(in.pix), 224, 224}
			tmp := pixels{make([]uint8, len(in.pix)), 224, 224}
			cols := make([]int, 224)
			b.ReportAllocs()
			for b.Loop() {
				copy(img.pix, in.pix)
				applyOp(op, mag, img, tmp, cols)
			}
		})
	}
}

// TestAutoAugmentLoader: with auto-augmentation the loader's batches do not
// depend on the number of workers (each goroutine has its own scratch), and
// each sample is Apply's output for the sample's RNG.
func TestAutoAugmentLoader(t *testing.T) {
	s := loaderFixture(t, 13, nil)
	a := DefaultConfig().Augment
	a.AutoAugment, a.RAMagnitude = AutoAugmentRand, 20
	tr := TrainTransform(a, 12, Normalize{Scale: 255})
	opts := LoaderOptions{BatchSize: 4, Workers: 1, Seed: 5, Shuffle: true, Pixels: true}
	l := NewLoader(s, tr, opts)
	ref := collect(t, l, 1)
	for _, workers := range []int{3, 6} {
		opts.Workers = workers
		require.Equal(t, ref, collect(t, NewLoader(s, tr, opts), 1), "workers=%d", workers)
	}
	out, want := make([]float32, tr.Len()), make([]uint8, tr.Len())
	for _, b := range ref {
		for k, idx := range b.Indices {
			data, err := os.ReadFile(s[idx].Path)
			require.NoError(t, err)
			img, _, err := DecodeBytes(data, DecodeOptions{})
			require.NoError(t, err)
			tr.Apply(out, img, l.SampleRNG(1, idx))
			quantize(want, out)
			require.Equal(t, want, b.Pixels[k*len(want):(k+1)*len(want)], "sample %d", idx)
		}
	}
}

// BenchmarkAutoAugmentApply is the augmentation alone on a 224x224 crop (the
// draws, the conversions and the ops), averaged over the random draws;
// cpu-µs/img is the process's CPU time per image, steadier than wall time on
// a shared machine.
func BenchmarkAutoAugmentApply(b *testing.B) {
	src := photoLike(224, 224, 1)
	crop := make([]float32, 224*224*3)
	resampleRGBA(crop, src, resampleJob{box: src.Rect, fullW: 224, fullH: 224, outW: 224, outH: 224})
	for _, mode := range []string{AutoAugmentTrivialWide, AutoAugmentRand} {
		b.Run(mode, func(b *testing.B) {
			a := DefaultConfig().Augment
			a.AutoAugment = mode
			aa := newAutoAugment(a, 224, 224)
			buf := make([]float32, len(crop))
			rng := rand.New(rand.NewPCG(1, 1))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				copy(buf, crop)
				aa.apply(buf, rng)
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N), "cpu-µs/img")
		})
	}
}
