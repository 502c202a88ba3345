package dataset

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

func loadPNG(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	return img
}

// requireRGB checks got against want (compared as 8-bit NRGBA composited over
// white when want has alpha) within tol per channel.
func requireRGB(t *testing.T, want image.Image, got *image.RGBA, tol int) {
	t.Helper()
	wb := want.Bounds()
	require.Equal(t, image.Rect(0, 0, wb.Dx(), wb.Dy()), got.Rect)
	for y := 0; y < wb.Dy(); y++ {
		for x := 0; x < wb.Dx(); x++ {
			n := color.NRGBAModel.Convert(want.At(wb.Min.X+x, wb.Min.Y+y)).(color.NRGBA)
			exp := [3]uint8{blend(n.R, 255, n.A), blend(n.G, 255, n.A), blend(n.B, 255, n.A)}
			i := got.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				d := int(got.Pix[i+c]) - int(exp[c])
				if d < -tol || d > tol {
					t.Fatalf("pixel (%d,%d) channel %d: got %d want %d", x, y, c, got.Pix[i+c], exp[c])
				}
			}
			require.Equal(t, uint8(255), got.Pix[i+3])
		}
	}
}

func TestDecodeFormats(t *testing.T) {
	src := testImage(13, 9)
	smooth := testImage(64, 48)
	for i := 2; i < len(smooth.Pix); i += 4 {
		smooth.Pix[i] = smooth.Pix[i-1] / 2 // no high-frequency chroma
	}
	gray := image.NewGray(src.Rect)
	nrgba := image.NewNRGBA(src.Rect)
	rgba64 := image.NewRGBA64(src.Rect)
	pal := image.NewPaletted(src.Rect, color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}, color.NRGBA{0, 255, 0, 0}})
	for y := 0; y < 9; y++ {
		for x := 0; x < 13; x++ {
			c := src.RGBAAt(x, y)
			gray.SetGray(x, y, color.Gray{c.G})
			nrgba.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, uint8(x * 20)})
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, 0xffff})
			pal.SetColorIndex(x, y, uint8((x+y)%3))
		}
	}
	enc := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		require.NoError(t, f(&b))
		return b.Bytes()
	}
	td := func(name string) []byte {
		d, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return d
	}
	tests := []struct {
		name         string
		data         []byte
		want         image.Image
		tol          int
		format, mode string
	}{
		{"jpeg ycbcr", encodeJPEG(t, smooth, 100), smooth, 8, "jpeg", "RGB"},
		{"jpeg gray", encodeJPEG(t, gray, 100), gray, 3, "jpeg", "L"},
		{"png rgb", encodePNG(t, src), src, 0, "png", "RGB"},
		{"png rgba composited", encodePNG(t, nrgba), nrgba, 1, "png", "RGBA"},
		{"png gray", encodePNG(t, gray), gray, 0, "png", "L"},
		{"png 16-bit", encodePNG(t, rgba64), src, 0, "png", "RGB16"},
		{"png palette transparent", encodePNG(t, pal), pal, 0, "png", "P"},
		{"png gray+alpha", td("la.png"), loadPNG(t, "testdata/la.png"), 1, "png", "LA"},
		{"png gray16", td("gray16.png"), loadPNG(t, "testdata/gray16.png"), 0, "png", "L16"},
		{"gif", enc(func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) }), pal, 0, "gif", "P"},
		{"bmp", enc(func(b *bytes.Buffer) error { return bmp.Encode(b, src) }), src, 0, "bmp", "RGB"},
		{"tiff", enc(func(b *bytes.Buffer) error { return tiff.Encode(b, src, nil) }), src, 0, "tiff", "RGB"},
		{"tiff alpha", enc(func(b *bytes.Buffer) error { return tiff.Encode(b, nrgba, nil) }), nrgba, 1, "tiff", "RGBA"},
		{"jpeg cmyk (Pillow)", td("cmyk.jpg"), loadPNG(t, "testdata/cmyk_rgb.png"), 1, "jpeg", "CMYK"},
		{"webp lossless alpha", td("lossless.webp"), loadPNG(t, "testdata/lossless_rgba.png"), 1, "webp", "RGBA"},
		{"webp lossy", td("lossy.webp"), loadPNG(t, "testdata/lossy_rgb.png"), 26, "webp", "RGB"}, // edges: libwebp upsamples chroma smoothly
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, info, err := DecodeBytes(tc.data, DecodeOptions{})
			require.NoError(t, err)
			require.Equal(t, tc.format, info.Format)
			require.Equal(t, tc.mode, info.Mode)
			if tc.mode == "RGB" {
				require.Empty(t, info.ConvertedFrom)
			} else {
				require.Equal(t, tc.mode, info.ConvertedFrom)
			}
			require.Equal(t, tc.want.Bounds().Dx(), info.Width)
			require.Equal(t, tc.want.Bounds().Dy(), info.Height)
			requireRGB(t, tc.want, got, tc.tol)
		})
	}
}

func TestDecodeBackground(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 0, 0})
	img.SetNRGBA(1, 0, color.NRGBA{200, 100, 0, 128})
	got, _, err := DecodeBytes(encodePNG(t, img), DecodeOptions{Background: color.NRGBA{0, 0, 255, 255}})
	require.NoError(t, err)
	require.Equal(t, []uint8{0, 0, 255, 255, 100, 50, 127, 255}, got.Pix)
}

// withOrientation inserts an EXIF APP1 segment carrying orientation o right
// after the SOI marker of a JPEG, in the given byte order.
func withOrientation(jpg []byte, o uint16, bo binary.ByteOrder) []byte {
	var tiffHdr bytes.Buffer
	if bo == binary.LittleEndian {
		tiffHdr.WriteString("II*\x00")
	} else {
		tiffHdr.WriteString("MM\x00*")
	}
	w := func(v any) { _ = binary.Write(&tiffHdr, bo, v) }
	w(uint32(8)) // IFD0 offset
	w(uint16(2)) // entries
	// An unrelated tag first (ImageWidth, LONG).
	w(uint16(0x0100))
	w(uint16(4))
	w(uint32(1))
	w(uint32(77))
	w(uint16(0x0112))
	w(uint16(3))
	w(uint32(1))
	w(o)
	w(uint16(0))
	w(uint32(0)) // next IFD
	payload := append([]byte("Exif\x00\x00"), tiffHdr.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestDecodeEXIFOrientation(t *testing.T) {
	// 4x2 image with a distinct marker colour at stored pixel (0,0) (top-left).
	src := solid(32, 16, color.RGBA{0, 0, 0, 255})
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			src.SetRGBA(x, y, color.RGBA{255, 255, 255, 255})
		}
	}
	base := encodeJPEG(t, src, 95)
	// Where the white top-left block of the stored image must appear.
	tests := []struct {
		o          uint16
		w, h       int
		markX, mkY int // a pixel inside the displayed block
	}{
		{1, 32, 16, 2, 2},
		{2, 32, 16, 29, 2},
		{3, 32, 16, 29, 13},
		{4, 32, 16, 2, 13},
		{5, 16, 32, 2, 2},
		{6, 16, 32, 13, 2},
		{7, 16, 32, 13, 29},
		{8, 16, 32, 2, 29},
	}
	for _, tc := range tests {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			t.Run(bo.String()+string(rune('0'+tc.o)), func(t *testing.T) {
				got, info, err := DecodeBytes(withOrientation(base, tc.o, bo), DecodeOptions{})
				require.NoError(t, err)
				require.Equal(t, int(tc.o), info.Orientation)
				require.Equal(t, 32, info.Width) // stored size
				require.Equal(t, image.Rect(0, 0, tc.w, tc.h), got.Rect)
				require.Greater(t, got.RGBAAt(tc.markX, tc.mkY).R, uint8(200))
				// the opposite corner is black
				require.Less(t, got.RGBAAt(tc.w-1-tc.markX, tc.h-1-tc.mkY).R, uint8(50))
			})
		}
	}
	require.Equal(t, 0, jpegOrientation(base))
	require.Equal(t, 0, jpegOrientation(withOrientation(base, 9, binary.BigEndian)))
}

func TestDecodeErrors(t *testing.T) {
	big := encodePNG(t, testImage(40, 30))
	jpg := encodeJPEG(t, testImage(200, 150), 90)
	tests := []struct {
		name string
		data []byte
		opt  DecodeOptions
		want string
	}{
		{"empty", nil, DecodeOptions{}, "empty file"},
		{"text", []byte("hello, not an image at all"), DecodeOptions{}, "not an image"},
		{"truncated png", big[:len(big)/2], DecodeOptions{}, "decoding png"},
		{"truncated jpeg header", jpg[:20], DecodeOptions{}, "reading header"},
		{"truncated jpeg data", jpg[:len(jpg)/2], DecodeOptions{}, "decoding jpeg"},
		{"too large", big, DecodeOptions{MaxPixels: 1000}, "40x30 is over the 1000 pixel limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeBytes(tc.data, tc.opt)
			require.ErrorContains(t, err, tc.want)
			// The loader's report names the file.
			p := writeFile(t, t.TempDir(), "bad.jpg", tc.data)
			err = loaderError(p, tc.opt)
			require.ErrorContains(t, err, "dataset: "+p+": ")
			require.ErrorContains(t, err, tc.want)
		})
	}
	require.ErrorContains(t, loaderError(filepath.Join(t.TempDir(), "none.jpg"), DecodeOptions{}), "none.jpg")
	_, _, err := DecodeBytes(big, DecodeOptions{MaxPixels: 10})
	require.ErrorIs(t, err, ErrTooLarge)
	_, _, err = DecodeBytes(big, DecodeOptions{MaxPixels: -1})
	require.NoError(t, err)
}

// loaderError loads the one file path with an eval transform that reads the
// whole image and returns the error the loader passes to OnBad (nil: none).
func loaderError(path string, o DecodeOptions) error {
	var bad error
	l := NewLoader([]Sample{{Path: path, Name: filepath.Base(path), Label: -1}}, EvalTransform(16, 16, Normalize{}),
		LoaderOptions{Decode: o, OnBad: func(_ string, err error) { bad = err }})
	for range l.Epoch(context.Background(), 0) {
	}
	return bad
}

func FuzzDecodeBytes(f *testing.F) {
	f.Add(encodeJPEG(f, testImage(9, 7), 80))
	f.Add(withOrientation(encodeJPEG(f, testImage(9, 7), 80), 6, binary.BigEndian))
	f.Add(encodePNG(f, testImage(5, 4)))
	for _, n := range []string{"cmyk.jpg", "la.png", "lossy.webp", "lossless.webp", "gray16.png"} {
		d, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(d)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if isJPEG(data) {
			// The loader's path: plan from the header, decode a region.
			var want image.Rectangle
			img, handled, err := decodeJPEGFor(data, DecodeOptions{MaxPixels: 1 << 20}, nil, func(w, h int) image.Rectangle {
				want = image.Rect(w/4, h/3, w/2+1, h/2+1)
				return want
			})
			if handled && err == nil && !want.In(img.Rect) {
				t.Fatalf("region %v not covered by %v", want, img.Rect)
			}
		}
		img, info, err := DecodeBytes(data, DecodeOptions{MaxPixels: 1 << 20})
		if err != nil {
			return
		}
		if img.Rect.Min != (image.Point{}) || img.Rect.Dx()*img.Rect.Dy() > 1<<20 {
			t.Fatalf("bad image %v %+v", img.Rect, info)
		}
		for i := 3; i < len(img.Pix); i += 4 {
			if img.Pix[i] != 255 {
				t.Fatal("alpha not 255")
			}
		}
	})
}

// TestDecodeWebPLimitedRange checks lossy WebP colours against libwebp (via
// Pillow): VP8 is limited-range YCbCr, and converting it as full range (what
// image.YCbCr does) gives a mean error of about 9.5 on this file.
func TestDecodeWebPLimitedRange(t *testing.T) {
	d, err := os.ReadFile("testdata/lossy.webp")
	require.NoError(t, err)
	got, _, err := DecodeBytes(d, DecodeOptions{})
	require.NoError(t, err)
	want := loadPNG(t, "testdata/lossy_rgb.png")
	var sum float64
	b := want.Bounds()
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, _ := want.At(x, y).RGBA()
			w := [3]uint32{r >> 8, g >> 8, bl >> 8}
			for c := 0; c < 3; c++ {
				sum += math.Abs(float64(got.Pix[got.PixOffset(x, y)+c]) - float64(w[c]))
			}
		}
	}
	mean := sum / float64(b.Dx()*b.Dy()*3)
	require.Less(t, mean, 4.0)
}
