// Package synth writes a small synthetic image-classification dataset in the
// cat12 layout, for the quick start and for tests:
//
//	DIR/train_list.txt      "cat_12_train/NAME.jpg<TAB>label" lines
//	DIR/cat_12_train/*.jpg  labelled images
//	DIR/cat_12_test/*.jpg   unlabelled images
//
// Class c is drawn as a disc of a class-specific hue on a noisy background,
// so a small network learns it in a few steps. Like the real data, a few files
// are odd: palette (P-mode) PNG, RGBA PNG, grayscale JPEG, and PNG or GIF
// content behind a .jpg name.
package synth

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/gocls/gocls/internal/atomicfile"
)

// Options sizes the dataset. Zero values take the defaults in Default.
type Options struct {
	Classes  int   // number of classes (default 12)
	PerClass int   // labelled images per class (default 8)
	Test     int   // unlabelled test images (default 12)
	Size     int   // image side in pixels (default 48)
	Seed     int64 // RNG seed (default 1)
}

// Default returns the quick-start sizes.
func Default() Options { return Options{Classes: 12, PerClass: 8, Test: 12, Size: 48, Seed: 1} }

func (o Options) withDefaults() Options {
	d := Default()
	if o.Classes <= 0 {
		o.Classes = d.Classes
	}
	if o.PerClass <= 0 {
		o.PerClass = d.PerClass
	}
	if o.Test <= 0 {
		o.Test = d.Test
	}
	if o.Size <= 0 {
		o.Size = d.Size
	}
	if o.Seed == 0 {
		o.Seed = d.Seed
	}
	return o
}

// Exists reports whether dir already holds a generated dataset.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "train_list.txt"))
	return err == nil
}

// Generate writes the dataset into dir (created if needed). The list file is
// written last, atomically, so an interrupted run is regenerated next time.
func Generate(dir string, o Options) error {
	o = o.withDefaults()
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed))
	trainDir := filepath.Join(dir, "cat_12_train")
	testDir := filepath.Join(dir, "cat_12_test")
	for _, d := range []string{trainDir, testDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	var list strings.Builder
	n := 0
	for i := 0; i < o.PerClass; i++ {
		for c := 0; c < o.Classes; c++ {
			name := fmt.Sprintf("img%04d.jpg", n)
			if err := writeImage(filepath.Join(trainDir, name), draw1(rng, c, o), n, rng); err != nil {
				return err
			}
			fmt.Fprintf(&list, "cat_12_train/%s\t%d\n", name, c)
			n++
		}
	}
	for i := 0; i < o.Test; i++ {
		img := draw1(rng, rng.IntN(o.Classes), o)
		if err := writeImage(filepath.Join(testDir, fmt.Sprintf("test%04d.jpg", i)), img, i+1, rng); err != nil {
			return err
		}
	}
	return atomicfile.WriteFile(filepath.Join(dir, "train_list.txt"), []byte(list.String()))
}

// draw1 renders one image of class c.
func draw1(rng *rand.Rand, c int, o Options) *image.RGBA {
	s := o.Size
	img := image.NewRGBA(image.Rect(0, 0, s, s))
	hue := float64(c) / float64(o.Classes)
	fg := hsv(hue, 0.9, 0.95)
	cx := float64(s)/2 + (rng.Float64()-0.5)*float64(s)/4
	cy := float64(s)/2 + (rng.Float64()-0.5)*float64(s)/4
	r := float64(s) * (0.25 + 0.1*rng.Float64())
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			var col color.RGBA
			if dx*dx+dy*dy < r*r {
				col = fg
			} else {
				g := uint8(60 + rng.IntN(60))
				col = color.RGBA{g, g, g, 255}
			}
			img.SetRGBA(x, y, col)
		}
	}
	return img
}

func hsv(h, s, v float64) color.RGBA {
	i := math.Floor(h * 6)
	f := h*6 - i
	p, q, t := v*(1-s), v*(1-f*s), v*(1-(1-f)*s)
	var r, g, b float64
	switch int(i) % 6 {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return color.RGBA{uint8(r * 255), uint8(g * 255), uint8(b * 255), 255}
}

// writeImage encodes img; every few images use an odd mode or container so
// the loader's conversions are exercised.
func writeImage(path string, img *image.RGBA, n int, rng *rand.Rand) error {
	var buf bytes.Buffer
	var err error
	switch n % 11 {
	case 3: // palette PNG
		p := image.NewPaletted(img.Bounds(), palette.Plan9)
		draw.FloydSteinberg.Draw(p, img.Bounds(), img, image.Point{})
		err = png.Encode(&buf, p)
	case 5: // RGBA PNG with transparent corners
		n := image.NewNRGBA(img.Bounds())
		draw.Draw(n, n.Bounds(), img, image.Point{}, draw.Src)
		for y := 0; y < 6; y++ {
			for x := 0; x < 6; x++ {
				n.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 0})
			}
		}
		err = png.Encode(&buf, n)
	case 7: // grayscale JPEG
		g := image.NewGray(img.Bounds())
		draw.Draw(g, g.Bounds(), img, image.Point{}, draw.Src)
		err = jpeg.Encode(&buf, g, &jpeg.Options{Quality: 90})
	case 9: // GIF named .jpg
		err = gif.Encode(&buf, img, &gif.Options{NumColors: 256})
	case 10: // RGB PNG named .jpg
		err = png.Encode(&buf, img)
	default:
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85 + rng.IntN(10)})
	}
	if err != nil {
		return fmt.Errorf("synth: encoding %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}
