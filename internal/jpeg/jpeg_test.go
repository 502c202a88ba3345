package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenFiles returns the testdata JPEGs (made by testdata/gen.py).
func goldenFiles(t testing.TB) []string {
	files, err := filepath.Glob("testdata/*.jpg")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.jpg (%v)", err)
	}
	return files
}

// rgbOf returns the RGB bytes of an opaque RGBA image.
func rgbOf(img *image.RGBA) []byte {
	out := make([]byte, 0, 3*img.Rect.Dx()*img.Rect.Dy())
	for y := 0; y < img.Rect.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*img.Rect.Dx()]
		for x := 0; x < len(row); x += 4 {
			out = append(out, row[x], row[x+1], row[x+2])
		}
	}
	return out
}

// firstDiff describes the first pixel where two RGB buffers differ.
func firstDiff(got, want []byte, w int) string {
	n, maxd := 0, 0
	first := -1
	for i := range got {
		if got[i] != want[i] {
			n++
			maxd = max(maxd, int(got[i])-int(want[i]), int(want[i])-int(got[i]))
			if first < 0 {
				first = i
			}
		}
	}
	return fmt.Sprintf("%d values differ (max %d), first at x=%d y=%d channel %d: got %d want %d",
		n, maxd, first/3%w, first/3/w, first%3, got[first], want[first])
}

// TestGoldenPillow compares every pixel with Pillow's (libjpeg-turbo's)
// decoding of the same file, exactly.
func TestGoldenPillow(t *testing.T) {
	for _, f := range goldenFiles(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".jpg")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".jpg") + ".rgb")
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := Decode(data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := rgbOf(img)
			if len(got) != len(want) {
				t.Fatalf("%v: %d bytes, want %d", img.Rect, len(got), len(want))
			}
			if !bytes.Equal(got, want) {
				t.Error(firstDiff(got, want, img.Rect.Dx()))
			}
		})
	}
}

// TestRegionMatchesFull checks that decoding a region gives the pixels of
// the full decode inside it.
func TestRegionMatchesFull(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range goldenFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		full, _, err := Decode(data, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b := full.Rect
		regions := []image.Rectangle{image.Rect(0, 0, 1, 1), image.Rect(b.Dx()-1, b.Dy()-1, b.Dx(), b.Dy())}
		for range 12 {
			x0, y0 := rng.IntN(b.Dx()), rng.IntN(b.Dy())
			regions = append(regions, image.Rect(x0, y0, x0+1+rng.IntN(b.Dx()-x0), y0+1+rng.IntN(b.Dy()-y0)))
		}
		var d Decoder
		for _, r := range regions {
			img, _, err := d.Decode(data, Options{Region: func(w, h int) image.Rectangle { return r }})
			if err != nil {
				t.Fatalf("%s %v: %v", f, r, err)
			}
			if img.Rect != r {
				t.Fatalf("%s: Rect %v, want %v", f, img.Rect, r)
			}
			for y := r.Min.Y; y < r.Max.Y; y++ {
				got := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
				want := full.Pix[full.PixOffset(r.Min.X, y):full.PixOffset(r.Max.X, y)]
				if !bytes.Equal(got, want) {
					t.Fatalf("%s region %v: row %d differs from the full decode", f, r, y)
				}
			}
		}
	}
}

// TestDecodeErrors checks bad inputs give the expected one-line errors.
func TestDecodeErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/s420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	sof := bytes.Index(good, []byte{0xFF, 0xC0})
	sos := bytes.Index(good, []byte{0xFF, 0xDA})
	with := func(base []byte, pos int, b ...byte) []byte {
		d := bytes.Clone(base)
		copy(d[pos:], b)
		return d
	}
	tests := []struct {
		name string
		data []byte
		o    Options
		want string
	}{
		{"empty", nil, Options{}, "not a JPEG file"},
		{"png", []byte("\x89PNG\r\n\x1a\n"), Options{}, "not a JPEG file"},
		{"header only", good[:sof], Options{}, "unexpected end of data"},
		{"cut in the scan", good[:sos+200], Options{}, "unexpected end of data"},
		{"over the pixel limit", good, Options{MaxPixels: 37*29 - 1}, "image too large: 37x29 is over the 1072 pixel limit"},
		{"12-bit", with(good, sof+4, 12), Options{}, "unsupported sample precision 12"},
		{"lossless", with(good, sof+1, 0xC3), Options{}, "unsupported JPEG process (SOF3"},
		{"zero width", with(good, sof+7, 0, 0), Options{}, "bad dimensions 0x29"},
		{"two components", with(good, sof+9, 2), Options{}, "unsupported number of components 2"},
		{"bad sampling", with(good, sof+11, 0x50), Options{}, "bad sampling factors"},
		{"fractional sampling", with(with(good, sof+11, 0x31), sof+14, 0x21), Options{}, "fractional ratio"},
		{"segment past the end", with(good, sof+2, 0xFF, 0xFF), Options{}, "unexpected end of data"},
		{"empty region", good, Options{Region: func(w, h int) image.Rectangle { return image.Rect(w, h, w+5, h+5) }}, "empty region"},
		{"no frame", append([]byte{0xFF, 0xD8}, good[sos:]...), Options{}, "missing frame header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(tc.data, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if tc.name == "over the pixel limit" && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%v does not wrap ErrTooLarge", err)
			}
		})
	}
}
