package jpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testJPEG(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := stdjpeg.Encode(&b, img, &stdjpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDecodeRegionMatchesStdlib checks every pixel inside random regions
// against the standard library's full decode.
func TestDecodeRegionMatchesStdlib(t *testing.T) {
	rgb := image.NewRGBA(image.Rect(0, 0, 203, 151))
	gray := image.NewGray(image.Rect(0, 0, 77, 45))
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i*7 + i/811)
	}
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 13)
	}
	cmyk, err := os.ReadFile("../../testdata/cmyk.jpg")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"ycbcr420": testJPEG(t, rgb), "gray": testJPEG(t, gray), "cmyk": cmyk}
	for _, n := range []string{"progressive.jpg", "sub422.jpg"} {
		d, err := os.ReadFile("../../testdata/" + n)
		if err != nil {
			t.Fatal(err)
		}
		files[n] = d
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for name, data := range files {
		want, err := stdjpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		b := want.Bounds()
		regions := []image.Rectangle{b, image.Rect(0, 0, 1, 1), image.Rect(b.Dx()-1, b.Dy()-1, b.Dx(), b.Dy())}
		for i := 0; i < 15; i++ {
			x0, y0 := rng.IntN(b.Dx()), rng.IntN(b.Dy())
			regions = append(regions, image.Rect(x0, y0, x0+1+rng.IntN(b.Dx()-x0), y0+1+rng.IntN(b.Dy()-y0)))
		}
		for _, r := range regions {
			t.Run(fmt.Sprint(name, r), func(t *testing.T) {
				got, err := DecodeRegion(bytes.NewReader(data), r)
				if err != nil {
					t.Fatal(err)
				}
				if got.Bounds() != b {
					t.Fatalf("bounds %v, want %v", got.Bounds(), b)
				}
				for y := r.Min.Y; y < r.Max.Y; y++ {
					for x := r.Min.X; x < r.Max.X; x++ {
						if g, w := color.RGBAModel.Convert(got.At(x, y)), color.RGBAModel.Convert(want.At(x, y)); g != w {
							t.Fatalf("pixel %d,%d: got %v want %v", x, y, g, w)
						}
					}
				}
			})
		}
	}
}

func TestDecodeMatchesStdlib(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	data := testJPEG(t, img)
	got, err := Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := stdjpeg.Decode(bytes.NewReader(data))
	if !bytes.Equal(got.(*image.YCbCr).Y, want.(*image.YCbCr).Y) {
		t.Fatal("Y planes differ")
	}
}

func FuzzDecodeRegion(f *testing.F) {
	img := image.NewRGBA(image.Rect(0, 0, 20, 17))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 5)
	}
	f.Add(testJPEG(f, img), 3, 4, 10, 9)
	for _, n := range []string{"progressive.jpg", "sub422.jpg", "cmyk.jpg"} {
		if d, err := os.ReadFile("../../testdata/" + n); err == nil {
			f.Add(d, 1, 2, 30, 20)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, x0, y0, x1, y1 int) {
		cfg, err := DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > 1<<20 {
			return
		}
		_, _ = DecodeRegion(bytes.NewReader(data), image.Rect(x0, y0, x1, y1))
		// Differential: where the standard library decodes, the full-region
		// decode must agree pixel for pixel.
		want, err := stdjpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		got, err := DecodeRegion(bytes.NewReader(data), want.Bounds())
		if err != nil {
			t.Fatalf("stdlib decodes, fork fails: %v", err)
		}
		b := want.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if g, w := color.RGBAModel.Convert(got.At(x, y)), color.RGBAModel.Convert(want.At(x, y)); g != w {
					t.Fatalf("pixel %d,%d: got %v want %v", x, y, g, w)
				}
			}
		}
	})
}

// TestDecodeRegionStopsEarly: a region in the top rows decodes from a file
// cut in the middle, which proves that decoding stopped after those rows.
func TestDecodeRegionStopsEarly(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 256))
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + i/256)
	}
	data := testJPEG(t, img)
	cut := data[:len(data)/2]
	if _, err := stdjpeg.Decode(bytes.NewReader(cut)); err == nil {
		t.Fatal("full decode of a truncated file should fail")
	}
	got, err := DecodeRegion(bytes.NewReader(cut), image.Rect(5, 3, 40, 20))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := stdjpeg.Decode(bytes.NewReader(data))
	if g, w := got.At(10, 10), want.At(10, 10); g != w {
		t.Fatalf("got %v want %v", g, w)
	}
}

func TestDecodeRegionBufReuse(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 50, 40))
	g := image.NewGray(image.Rect(0, 0, 33, 17))
	for i := range a.Pix {
		a.Pix[i] = uint8(i * 3)
	}
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 5)
	}
	var buf []byte
	for _, img := range []image.Image{a, g, a} {
		data := testJPEG(t, img)
		want, _ := stdjpeg.Decode(bytes.NewReader(data))
		roi := image.Rect(3, 5, 30, 16)
		got, err := DecodeRegionBuf(bytes.NewReader(data), roi, &buf)
		if err != nil {
			t.Fatal(err)
		}
		for y := roi.Min.Y; y < roi.Max.Y; y++ {
			for x := roi.Min.X; x < roi.Max.X; x++ {
				if g, w := color.RGBAModel.Convert(got.At(x, y)), color.RGBAModel.Convert(want.At(x, y)); g != w {
					t.Fatalf("pixel %d,%d: got %v want %v", x, y, g, w)
				}
			}
		}
	}
	if cap(buf) == 0 {
		t.Fatal("buffer not used")
	}
}

// TestCat12MatchesStdlib decodes cat12 JPEGs (4:4:4, 4:2:0, 4:2:2, grey,
// progressive) with DecodeRegion on a random region and compares with the
// standard library; skipped when ../shared/data/cat12 is absent.
func TestCat12MatchesStdlib(t *testing.T) {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(dir + "/go.mod"); err == nil {
			break
		}
		parent := dir[:max(0, strings.LastIndex(dir, "/"))]
		if parent == "" || parent == dir {
			t.Skip("go.mod not found")
		}
		dir = parent
	}
	files, _ := filepath.Glob(filepath.Join(dir, "..", "shared", "data", "cat12", "cat_12_train", "*.jpg"))
	if len(files) == 0 {
		t.Skip("cat12 not found")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	kinds := map[string]int{}
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		progressive := bytes.Contains(data, []byte{0xFF, 0xC2})
		if !progressive && i%6 != 0 {
			continue
		}
		want, err := stdjpeg.Decode(bytes.NewReader(data))
		if err != nil {
			continue // GIF/PNG named .jpg
		}
		b := want.Bounds()
		x0, y0 := rng.IntN(b.Dx()), rng.IntN(b.Dy())
		r := image.Rect(x0, y0, x0+1+rng.IntN(b.Dx()-x0), y0+1+rng.IntN(b.Dy()-y0))
		got, err := DecodeRegion(bytes.NewReader(data), r)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		kind := fmt.Sprintf("%T", want)
		if y, ok := want.(*image.YCbCr); ok {
			kind = y.SubsampleRatio.String()
		}
		if progressive {
			kind += " progressive"
		}
		kinds[kind]++
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if g, w := got.At(x, y), want.At(x, y); g != w {
					t.Fatalf("%s pixel %d,%d: got %v want %v", f, x, y, g, w)
				}
			}
		}
	}
	t.Log(kinds)
}

// BenchmarkDecodeCat12 decodes 200 cat12 JPEGs with DecodeRegionBuf (full
// region, reused buffer); skipped without the data.
func BenchmarkDecodeCat12(b *testing.B) {
	dir, _ := os.Getwd()
	for i := 0; i < 4; i++ {
		dir = filepath.Dir(dir)
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "..", "shared", "data", "cat12", "cat_12_train", "*.jpg"))
	if len(files) == 0 {
		b.Skip("cat12 not found")
	}
	var data [][]byte
	var total int64
	for _, f := range files[:200] {
		d, _ := os.ReadFile(f)
		if len(d) > 2 && d[0] == 0xFF && d[1] == 0xD8 {
			data = append(data, d)
			total += int64(len(d))
		}
	}
	var buf []byte
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range data {
			if _, err := DecodeRegionBuf(bytes.NewReader(d), image.Rect(0, 0, 1<<20, 1<<20), &buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(data))/b.Elapsed().Seconds(), "img/s")
}
