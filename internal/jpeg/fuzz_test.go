package jpeg

import (
	"bytes"
	"errors"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"testing"
)

// addSeeds adds the golden files to a fuzz corpus.
func addSeeds(f *testing.F) {
	for _, name := range goldenFiles(f) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

const fuzzMaxPixels = 1 << 20

// FuzzDecode: no input makes the decoder panic, and a decoded region has
// the size asked for.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	var d Decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		img, cfg, err := d.Decode(data, Options{MaxPixels: fuzzMaxPixels})
		if err != nil {
			return
		}
		if img.Rect != image.Rect(0, 0, cfg.Width, cfg.Height) {
			t.Fatalf("Rect %v for a %dx%d image", img.Rect, cfg.Width, cfg.Height)
		}
		r := image.Rect(cfg.Width/3, cfg.Height/4, cfg.Width/3+1+cfg.Width/2, cfg.Height/4+1+cfg.Height/3)
		img, _, err = d.Decode(data, Options{MaxPixels: fuzzMaxPixels, Region: func(w, h int) image.Rectangle { return r }})
		if err != nil {
			t.Fatalf("full decode succeeded, region %v failed: %v", r, err)
		}
		if want := r.Intersect(image.Rect(0, 0, cfg.Width, cfg.Height)); img.Rect != want {
			t.Fatalf("region Rect %v, want %v", img.Rect, want)
		}
	})
}

// FuzzDifferentialStdlib: a file that image/jpeg decodes, this decoder
// decodes too, with the same size, except where it follows libjpeg in
// rejecting it: a scan whose quantisation table was never defined
// (image/jpeg uses zeros), and an invalid Huffman code that image/jpeg lets
// pass (Pillow fails on testdata/fuzz/FuzzDifferentialStdlib/ec67d174f2061b20
// too: "broken data stream"). The converse does not hold by design: like
// libjpeg, this decoder also reads arithmetic-coded files, files without EOI
// after complete scans, and entropy data cut short by a marker (read as zero
// bits), which image/jpeg rejects.
func FuzzDifferentialStdlib(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > fuzzMaxPixels {
			return
		}
		want, err := stdjpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		got, _, err := Decode(data, Options{MaxPixels: fuzzMaxPixels})
		if errors.Is(err, errNoQuant) || errors.Is(err, errBadHuffman) {
			return
		}
		if err != nil {
			t.Fatalf("image/jpeg decodes it (%v), this decoder fails: %v", want.Bounds(), err)
		}
		if got.Rect.Size() != want.Bounds().Size() {
			t.Fatalf("size %v, image/jpeg %v", got.Rect.Size(), want.Bounds().Size())
		}
	})
}
