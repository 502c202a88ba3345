package jpeg

import (
	"errors"
	"fmt"
	"image"
)

// ColorSpace is the colour space of the coded components.
type ColorSpace int

const (
	Gray ColorSpace = iota + 1
	YCbCr
	RGB
	CMYK
	YCCK
)

// Config is what the headers up to the frame (SOF) marker say.
type Config struct {
	Width, Height int
	Components    int
	ColorSpace    ColorSpace
	Progressive   bool
	Arithmetic    bool
}

// ErrTooLarge is wrapped by the error for an image over Options.MaxPixels.
var ErrTooLarge = errors.New("image too large")

// Options controls Decode.
type Options struct {
	// MaxPixels rejects, before any image buffer is allocated, frames whose
	// width*height exceeds it; 0 or negative means no limit.
	MaxPixels int
	// Region, when not nil, is called once with the image size and returns
	// the rectangle to decode (clipped to the image); nil decodes it all.
	Region func(w, h int) image.Rectangle
}

// Decoder decodes JPEG files, reusing its buffers from one call to the next.
// A Decoder is not safe for concurrent use; the zero value is ready.
type Decoder struct {
	d   decoder
	rgb []byte
}

// Decode decodes a whole file with a fresh Decoder.
func Decode(data []byte, o Options) (*image.RGBA, Config, error) {
	var d Decoder
	return d.Decode(data, o)
}

// Decode decodes data (a complete JPEG file) to opaque RGB. The result's
// Rect is the decoded region in image coordinates; its Pix aliases the
// Decoder's buffer (valid until the next call) and has at least 16 bytes of
// spare capacity after the last pixel, for vector loads.
func (dd *Decoder) Decode(data []byte, o Options) (*image.RGBA, Config, error) {
	d := &dd.d
	d.init(data)
	if err := d.readHeaders(); err != nil {
		return nil, d.config(), err
	}
	cfg := d.config()
	if o.MaxPixels > 0 && int64(d.width)*int64(d.height) > int64(o.MaxPixels) {
		return nil, cfg, fmt.Errorf("%w: %dx%d is over the %d pixel limit", ErrTooLarge, d.width, d.height, o.MaxPixels)
	}
	bounds := image.Rect(0, 0, d.width, d.height)
	roi := bounds
	if o.Region != nil {
		roi = o.Region(d.width, d.height).Intersect(bounds)
		if roi.Empty() {
			return nil, cfg, errors.New("empty region")
		}
	}
	if err := d.setupFrame(roi); err != nil {
		return nil, cfg, err
	}
	if err := d.readScans(); err != nil {
		return nil, cfg, err
	}
	n := 4 * roi.Dx() * roi.Dy()
	if cap(dd.rgb) < n+16 {
		dd.rgb = make([]byte, n, n+16)
	}
	dst := &image.RGBA{Pix: dd.rgb[:n], Stride: 4 * roi.Dx(), Rect: roi}
	d.output(dst)
	return dst, cfg, nil
}

// DecodeConfig reads the headers up to the frame marker.
func DecodeConfig(data []byte) (Config, error) {
	var d decoder
	d.init(data)
	if err := d.readHeaders(); err != nil {
		return Config{}, err
	}
	return d.config(), nil
}

func (d *decoder) config() Config {
	if d.ncomp == 0 {
		return Config{}
	}
	return Config{Width: d.width, Height: d.height, Components: d.ncomp, ColorSpace: d.colorSpace(),
		Progressive: d.progressive, Arithmetic: d.arithmetic}
}

// colorSpace follows libjpeg's default_decompress_parms (jdapimin.c).
func (d *decoder) colorSpace() ColorSpace {
	switch d.ncomp {
	case 1:
		return Gray
	case 3:
		if d.jfif {
			return YCbCr
		}
		if d.adobe {
			if d.adobeTransform == 0 {
				return RGB
			}
			return YCbCr
		}
		c := &d.comps
		if c[0].id == 'R' && c[1].id == 'G' && c[2].id == 'B' {
			return RGB
		}
		return YCbCr
	case 4:
		if d.adobe && d.adobeTransform == 0 {
			return CMYK
		}
		if d.adobe {
			return YCCK
		}
		return CMYK
	}
	return 0
}
