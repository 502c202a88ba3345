package jpeg

import (
	"bytes"
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
