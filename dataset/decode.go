package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // register decoders: formats are detected by content
	_ "image/png"

	"github.com/gocls/gocls/internal/jpeg"
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// DefaultMaxPixels is the default DecodeOptions.MaxPixels (100 megapixels).
const DefaultMaxPixels = 100_000_000

// DecodeOptions controls decoding (DecodeBytes, the loader, Scan).
//
// Background is the colour that transparent pixels are composited over
// (straight alpha: out = a*c + (1-a)*bg); its own alpha is ignored. The zero
// value means white, so DecodeOptions{} is usable as is. MaxPixels rejects
// images whose declared width*height (read from the header, before any pixel
// is decoded) exceeds it; 0 means DefaultMaxPixels, negative means no limit.
type DecodeOptions struct {
	Background color.NRGBA
	MaxPixels  int
}

func (o DecodeOptions) bg() [3]uint8 {
	if o.Background == (color.NRGBA{}) {
		return [3]uint8{255, 255, 255}
	}
	return [3]uint8{o.Background.R, o.Background.G, o.Background.B}
}

func (o DecodeOptions) maxPixels() int {
	if o.MaxPixels == 0 {
		return DefaultMaxPixels
	}
	return o.MaxPixels
}

// CheckSize returns an error wrapping ErrTooLarge when an image of the
// given header dimensions is over the pixel limit: callers that decode
// themselves check the header (image.DecodeConfig) with it before decoding.
func (o DecodeOptions) CheckSize(width, height int) error {
	if mp := o.maxPixels(); mp > 0 && int64(width)*int64(height) > int64(mp) {
		return fmt.Errorf("%w: %dx%d is over the %d pixel limit", ErrTooLarge, width, height, mp)
	}
	return nil
}

// Info describes a decoded file.
//
// Format is the format detected from the content ("jpeg", "png", "gif", "bmp",
// "tiff", "webp"), whatever the file name says. Mode is the stored pixel mode in
// PIL's vocabulary: "RGB", "RGBA", "L" (grey), "LA", "P" (palette), "CMYK",
// "RGB16", "RGBA16", "L16", "LA16", "1", "L2", "L4". Width and Height are the
// stored (header) dimensions, before EXIF orientation. ConvertedFrom is Mode
// when the pixels needed a conversion to 8-bit RGB ("" for plain RGB).
// Orientation is the EXIF orientation (1..8) applied, 0 when absent.
type Info struct {
	Format        string `json:"format"`
	Mode          string `json:"mode"`
	Width         int    `json:"width"`
	Height        int    `json:"height"`
	ConvertedFrom string `json:"converted_from,omitempty"`
	Orientation   int    `json:"orientation,omitempty"`
}

// DecodeBytes decodes an image file held in memory, of any supported format
// (detected by content: JPEG incl. grey, CMYK and YCCK, PNG incl. palette,
// 16-bit, grey+alpha and RGBA, GIF first frame, BMP, TIFF, WebP), and returns
// it as 8-bit RGB in an *image.RGBA with A=255 everywhere and bounds starting
// at (0,0). Alpha is composited over o.Background (default white); JPEG EXIF
// orientation is applied. Every failure (empty, truncated, not an image, over
// the pixel limit) is an error; DecodeBytes never panics. Its errors carry no
// path and no package prefix: the caller knows the file.
func DecodeBytes(data []byte, o DecodeOptions) (*image.RGBA, Info, error) {
	return decodeRGB(data, o, new(scratch))
}

// decodeRGB is DecodeBytes with sc's reusable buffers; the result may alias
// them.
func decodeRGB(data []byte, o DecodeOptions, sc *scratch) (*image.RGBA, Info, error) {
	if haveLibjpeg && isJPEG(data) {
		full := func(w, h int) image.Rectangle { return image.Rect(0, 0, w, h) }
		img, info, handled, err := decodeJPEGRegion(data, o, &sc.rgba, full)
		if handled {
			if err != nil {
				return nil, info, err
			}
			if info.Orientation = jpegOrientation(data); info.Orientation > 1 {
				img = orient(img, info.Orientation)
			}
			return img, info, nil
		}
	}
	if isJPEG(data) {
		img, info, err := decodeJPEG(data, o, &sc.jpeg, nil)
		if err == nil && info.Orientation > 1 {
			img = orient(img, info.Orientation)
		}
		return img, info, err
	}
	src, info, err := decodeRaw(data, o)
	if err != nil {
		return nil, info, err
	}
	return toRGB(src, info, o), info, nil
}

// decodeJPEG decodes the part of a JPEG that region (nil: all) asks for with
// internal/jpeg (libjpeg-turbo's pixels). The result aliases dec's buffer;
// its Rect is in image coordinates. Info.Orientation is read but not applied.
func decodeJPEG(data []byte, o DecodeOptions, dec *jpeg.Decoder, region func(w, h int) image.Rectangle) (*image.RGBA, Info, error) {
	img, cfg, err := dec.Decode(data, jpeg.Options{MaxPixels: max(o.maxPixels(), 0), Region: region})
	info := Info{Format: "jpeg", Width: cfg.Width, Height: cfg.Height, Mode: jpegMode(cfg.ColorSpace)}
	if info.Mode != "RGB" {
		info.ConvertedFrom = info.Mode
	}
	if err != nil {
		if cfg.Width == 0 {
			return nil, info, fmt.Errorf("reading header: %w", err)
		}
		return nil, info, fmt.Errorf("decoding jpeg: %w", err)
	}
	info.Orientation = jpegOrientation(data)
	return img, info, nil
}

// jpegMode names a JPEG colour space in PIL's vocabulary.
func jpegMode(cs jpeg.ColorSpace) string {
	switch cs {
	case jpeg.Gray:
		return "L"
	case jpeg.CMYK, jpeg.YCCK:
		return "CMYK"
	}
	return "RGB"
}

// decodeJPEGFor decodes the part of a JPEG that region (called once, with the
// stored size) asks for, with libjpeg-turbo when built with it, else with
// internal/jpeg. The result's Rect is in image coordinates and covers the
// region; pixels outside it may be missing. EXIF orientation is not applied
// (callers handle oriented files through the full path). handled is false
// when the caller must fall back to decodeRaw.
//
// sc, when not nil, provides reusable buffers; the result then aliases them.
func decodeJPEGFor(data []byte, o DecodeOptions, sc *scratch, region func(w, h int) image.Rectangle) (img *image.RGBA, handled bool, err error) {
	if sc == nil {
		sc = new(scratch)
	}
	if haveLibjpeg {
		img, _, handled, err := decodeJPEGRegion(data, o, &sc.rgba, region)
		if handled {
			return img, true, err
		}
	}
	img, _, err = decodeJPEG(data, o, &sc.jpeg, region)
	return img, true, err
}

// isJPEG reports whether data starts with a JPEG SOI marker.
func isJPEG(data []byte) bool {
	return len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF
}

// ErrTooLarge is wrapped by errors about images over DecodeOptions.MaxPixels.
var ErrTooLarge = jpeg.ErrTooLarge

// decodeRaw decodes the formats other than JPEG (decodeJPEG's) to the
// decoder's native image type without conversion; info is filled as far as
// known.
func decodeRaw(data []byte, o DecodeOptions) (img image.Image, info Info, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("decoder panic: %v", r)
		}
	}()
	if len(data) == 0 {
		return nil, info, errors.New("empty file")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, info, errors.New("not an image (unknown format)")
		}
		return nil, info, fmt.Errorf("reading header: %w", err)
	}
	info = Info{Format: format, Width: cfg.Width, Height: cfg.Height, Mode: modeOf(format, cfg.ColorModel, data)}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, info, fmt.Errorf("bad dimensions %dx%d", cfg.Width, cfg.Height)
	}
	if err := o.CheckSize(cfg.Width, cfg.Height); err != nil {
		return nil, info, err
	}
	img, _, err = image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, info, fmt.Errorf("decoding %s: %w", format, err)
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, info, fmt.Errorf("decoding %s: empty image", format)
	}
	if format != "png" && !isOpaque(img) {
		switch info.Mode {
		case "RGB":
			info.Mode = "RGBA"
		case "L":
			info.Mode = "LA"
		}
	}
	if info.Mode != "RGB" {
		info.ConvertedFrom = info.Mode
	}
	if format == "jpeg" {
		info.Orientation = jpegOrientation(data)
	}
	return img, info, nil
}

func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return true
}

// modeOf names the stored pixel mode. PNG is read from its IHDR chunk (Go's
// decoder reports grey+alpha as NRGBA); other formats from the colour model.
func modeOf(format string, m color.Model, data []byte) string {
	if format == "png" && len(data) >= 26 {
		depth, ctype := data[24], data[25]
		names := map[uint8]string{0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}
		name, ok := names[ctype]
		if !ok {
			return "unknown"
		}
		switch {
		case depth == 16:
			return name + "16"
		case ctype == 0 && depth == 1:
			return "1"
		case ctype == 0 && depth < 8:
			return fmt.Sprintf("L%d", depth)
		}
		return name
	}
	switch m {
	case color.YCbCrModel, color.RGBAModel:
		return "RGB"
	case color.NRGBAModel, color.NYCbCrAModel:
		return "RGBA"
	case color.RGBA64Model:
		return "RGB16"
	case color.NRGBA64Model:
		return "RGBA16"
	case color.GrayModel:
		return "L"
	case color.Gray16Model:
		return "L16"
	case color.CMYKModel:
		return "CMYK"
	}
	if _, ok := m.(color.Palette); ok {
		return "P"
	}
	return "unknown"
}

// toRGB converts any decoded image to an *image.RGBA holding opaque 8-bit RGB
// with bounds at (0,0), compositing alpha over the background and applying the
// orientation in info.
func toRGB(src image.Image, info Info, o DecodeOptions) *image.RGBA {
	b := src.Bounds()
	dst := newRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	bg := o.bg()
	if info.Format == "webp" {
		if y, ok := webpYCbCr(src); ok {
			src = y
		}
	}
	switch s := src.(type) {
	case *webpImage:
		s.toRGBA(dst, bg)
	case *image.YCbCr:
		draw.Draw(dst, dst.Rect, s, b.Min, draw.Src) // fast path in the stdlib
	case *image.Gray:
		grayToRGB(dst, s)
	case *image.NRGBA:
		nrgbaToRGB(dst, s, bg)
	case *image.RGBA:
		rgbaToRGB(dst, s, bg)
	case *image.Paletted:
		palettedToRGB(dst, s, bg)
	case *image.CMYK:
		cmykToRGB(dst, s)
	default:
		anyToRGB(dst, src, bg)
	}
	if info.Orientation > 1 {
		dst = orient(dst, info.Orientation)
	}
	return dst
}

// The xToRGB functions below fill dst (the size of src, at 0,0) with src's
// pixels as opaque 8-bit RGB, compositing alpha over bg.

func grayToRGB(dst *image.RGBA, s *image.Gray) {
	w := dst.Rect.Dx()
	for y := 0; y < dst.Rect.Dy(); y++ {
		row := s.Pix[y*s.Stride : y*s.Stride+w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for x, v := range row {
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = v, v, v, 255
		}
	}
}

// nrgbaToRGB composites straight (non-premultiplied) alpha.
func nrgbaToRGB(dst *image.RGBA, s *image.NRGBA, bg [3]uint8) {
	w := dst.Rect.Dx()
	for y := 0; y < dst.Rect.Dy(); y++ {
		row := s.Pix[y*s.Stride : y*s.Stride+4*w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for i := 0; i < len(row); i += 4 {
			a := row[i+3]
			out[i] = blend(row[i], bg[0], a)
			out[i+1] = blend(row[i+1], bg[1], a)
			out[i+2] = blend(row[i+2], bg[2], a)
			out[i+3] = 255
		}
	}
}

// rgbaToRGB composites premultiplied alpha: c + bg*(255-a)/255.
func rgbaToRGB(dst *image.RGBA, s *image.RGBA, bg [3]uint8) {
	w := dst.Rect.Dx()
	for y := 0; y < dst.Rect.Dy(); y++ {
		row := s.Pix[y*s.Stride : y*s.Stride+4*w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for i := 0; i < len(row); i += 4 {
			na := 255 - uint32(row[i+3])
			out[i] = uint8(min(255, uint32(row[i])+mul255(uint32(bg[0]), na)))
			out[i+1] = uint8(min(255, uint32(row[i+1])+mul255(uint32(bg[1]), na)))
			out[i+2] = uint8(min(255, uint32(row[i+2])+mul255(uint32(bg[2]), na)))
			out[i+3] = 255
		}
	}
}

// palettedToRGB composites each palette entry once, then looks pixels up.
func palettedToRGB(dst *image.RGBA, s *image.Paletted, bg [3]uint8) {
	var lut [256][3]uint8
	for i, c := range s.Palette {
		n := color.NRGBAModel.Convert(c).(color.NRGBA)
		lut[i] = [3]uint8{blend(n.R, bg[0], n.A), blend(n.G, bg[1], n.A), blend(n.B, bg[2], n.A)}
	}
	w := dst.Rect.Dx()
	for y := 0; y < dst.Rect.Dy(); y++ {
		row := s.Pix[y*s.Stride : y*s.Stride+w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for x, v := range row {
			c := lut[v] // indexes past the palette read as black, like image.Paletted.At
			out[4*x], out[4*x+1], out[4*x+2], out[4*x+3] = c[0], c[1], c[2], 255
		}
	}
}

// cmykToRGB is PIL's cmyk2rgb: channel = round((255-ink)*(255-k)/255).
func cmykToRGB(dst *image.RGBA, s *image.CMYK) {
	w := dst.Rect.Dx()
	for y := 0; y < dst.Rect.Dy(); y++ {
		row := s.Pix[y*s.Stride : y*s.Stride+4*w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for i := 0; i < len(row); i += 4 {
			k := 255 - uint32(row[i+3])
			out[i] = uint8(mul255(255-uint32(row[i]), k))
			out[i+1] = uint8(mul255(255-uint32(row[i+1]), k))
			out[i+2] = uint8(mul255(255-uint32(row[i+2]), k))
			out[i+3] = 255
		}
	}
}

// anyToRGB handles the other image types (16-bit, grey+alpha...) pixel by
// pixel through their colour model.
func anyToRGB(dst *image.RGBA, src image.Image, bg [3]uint8) {
	b := src.Bounds()
	w := dst.Rect.Dx()
	for y := 0; y < dst.Rect.Dy(); y++ {
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for x := 0; x < w; x++ {
			n := color.NRGBA64Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			a := uint32(n.A >> 8)
			out[4*x] = blend(uint8(n.R>>8), bg[0], uint8(a))
			out[4*x+1] = blend(uint8(n.G>>8), bg[1], uint8(a))
			out[4*x+2] = blend(uint8(n.B>>8), bg[2], uint8(a))
			out[4*x+3] = 255
		}
	}
}

// rgbaSlack is the spare capacity after the pixels of images made here, so
// that the SIMD resampler can load 16 bytes from any pixel.
const rgbaSlack = 16

// newRGBA is image.NewRGBA with rgbaSlack bytes of spare capacity.
func newRGBA(r image.Rectangle) *image.RGBA {
	n := 4 * r.Dx() * r.Dy()
	return &image.RGBA{Pix: make([]byte, n, n+rgbaSlack), Stride: 4 * r.Dx(), Rect: r}
}

// mul255 is round(a*b/255) for a, b in [0,255] (PIL's MULDIV255).
func mul255(a, b uint32) uint32 {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

// blend composites straight-alpha colour c over bg: round((c*a + bg*(255-a))/255).
func blend(c, bg, a uint8) uint8 {
	if a == 255 {
		return c
	}
	return uint8(mul255(uint32(c), uint32(a)) + mul255(uint32(bg), 255-uint32(a)))
}

// orient applies EXIF orientation o (2..8) so the image displays upright.
func orient(src *image.RGBA, o int) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := newRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2: // mirror horizontal
				dx, dy = w-1-x, y
			case 3: // rotate 180
				dx, dy = w-1-x, h-1-y
			case 4: // mirror vertical
				dx, dy = x, h-1-y
			case 5: // transpose
				dx, dy = y, x
			case 6: // rotate 90 CW
				dx, dy = h-1-y, x
			case 7: // transverse
				dx, dy = h-1-y, w-1-x
			case 8: // rotate 90 CCW
				dx, dy = y, w-1-x
			default:
				dx, dy = x, y
			}
			s := src.Pix[y*src.Stride+4*x : y*src.Stride+4*x+4]
			copy(dst.Pix[dy*dst.Stride+4*dx:dy*dst.Stride+4*dx+4], s)
		}
	}
	return dst
}

// jpegOrientation returns the EXIF orientation tag (1..8) of a JPEG file, or 0
// when there is none or it cannot be read. It walks the marker segments up to
// the first SOS and parses IFD0 of an "Exif\0\0" APP1 segment.
func jpegOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 0
	}
	p := 2
	for p+4 <= len(data) {
		if data[p] != 0xFF {
			return 0
		}
		marker := data[p+1]
		if marker == 0xFF { // fill byte
			p++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // SOS / EOI: no more metadata
			return 0
		}
		if marker >= 0xD0 && marker <= 0xD7 || marker == 0x01 {
			p += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return 0
		}
		seg := data[p+4 : p+2+n]
		if marker == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			if o := exifOrientation(seg[6:]); o != 0 {
				return o
			}
		}
		p += 2 + n
	}
	return 0
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured EXIF block.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[off:]))
	for i := int64(0); i < n; i++ {
		e := off + 2 + 12*i
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ, count := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if typ != 3 || count < 1 { // SHORT
			return 0
		}
		v := int(bo.Uint16(t[e+8:]))
		if v < 1 || v > 8 {
			return 0
		}
		return v
	}
	return 0
}

// webpImage wraps a decoded lossy WebP: VP8 stores limited-range BT.601
// YCbCr ("studio swing"), while image.YCbCr's conversion assumes JPEG's full
// range, so colours are converted here with libwebp's formulas.
type webpImage struct {
	ycc     *image.YCbCr
	a       []uint8 // alpha plane (nil when opaque), stride ycc.Rect.Dx()
	aStride int
}

func (w *webpImage) ColorModel() color.Model { return color.RGBAModel }
func (w *webpImage) Bounds() image.Rectangle { return w.ycc.Rect }
func (w *webpImage) At(x, y int) color.Color { return w.ycc.At(x, y) }

func webpYCbCr(src image.Image) (*webpImage, bool) {
	switch s := src.(type) {
	case *image.YCbCr:
		return &webpImage{ycc: s}, true
	case *image.NYCbCrA:
		return &webpImage{ycc: &s.YCbCr, a: s.A, aStride: s.AStride}, true
	}
	return nil, false
}

// libwebp's VP8YUVToR/G/B (yuv.h), 14-bit fixed point.
func webpMultHi(v, c int32) int32 { return (v * c) >> 8 }

func webpClip8(v int32) uint8 {
	if v&^((256<<6)-1) == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func (w *webpImage) toRGBA(dst *image.RGBA, bg [3]uint8) {
	r := w.ycc.Rect
	for y := r.Min.Y; y < r.Max.Y; y++ {
		out := dst.Pix[(y-r.Min.Y)*dst.Stride:]
		for x := r.Min.X; x < r.Max.X; x++ {
			yy := int32(w.ycc.Y[w.ycc.YOffset(x, y)])
			ci := w.ycc.COffset(x, y)
			u, v := int32(w.ycc.Cb[ci]), int32(w.ycc.Cr[ci])
			yc := webpMultHi(yy, 19077)
			cr := webpClip8(yc + webpMultHi(v, 26149) - 14234)
			cg := webpClip8(yc - webpMultHi(u, 6419) - webpMultHi(v, 13320) + 8708)
			cb := webpClip8(yc + webpMultHi(u, 33050) - 17685)
			o := 4 * (x - r.Min.X)
			if w.a != nil {
				a := w.a[(y-r.Min.Y)*w.aStride+(x-r.Min.X)]
				cr, cg, cb = blend(cr, bg[0], a), blend(cg, bg[1], a), blend(cb, bg[2], a)
			}
			out[o], out[o+1], out[o+2], out[o+3] = cr, cg, cb, 255
		}
	}
}
