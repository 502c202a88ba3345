package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"io"
	"os"

	"github.com/gocls/gocls/internal/jpeg"
)

// decode reads an image file; JPEGs go through internal/jpeg (the pixels of
// libjpeg-turbo, as OpenCV's imread gives), grey ones as *image.Gray.
func decode(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("imgproc: %w", err)
	}
	var img image.Image
	if len(data) >= 2 && data[0] == 0xFF && data[1] == 0xD8 {
		img, err = decodeJPEG(data)
	} else {
		img, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("imgproc: %s: decoding image: %w", path, err)
	}
	if b := img.Bounds(); b.Dx() == 0 || b.Dy() == 0 {
		return nil, fmt.Errorf("imgproc: %s: empty image", path)
	}
	return img, nil
}

func decodeJPEG(data []byte) (image.Image, error) {
	rgba, cfg, err := jpeg.Decode(data, jpeg.Options{})
	if err != nil || cfg.ColorSpace != jpeg.Gray {
		return rgba, err
	}
	g := image.NewGray(rgba.Rect)
	for i := range g.Pix {
		g.Pix[i] = rgba.Pix[4*i]
	}
	return g, nil
}

// opDecode writes the decoded image as 8-bit RGB.
func opDecode(fs *flag.FlagSet) action {
	return func(in image.Image, out string, _ io.Writer) error {
		rgb := image.NewRGBA(in.Bounds())
		draw.Draw(rgb, rgb.Rect, in, in.Bounds().Min, draw.Src)
		return writePNG(out, rgb)
	}
}
