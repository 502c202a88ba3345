package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"io"
	"os"

	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/internal/jpeg"
)

// decode reads an image file; JPEGs go through internal/jpeg (the pixels of
// libjpeg-turbo, as OpenCV's imread gives), grey ones as *image.Gray. The
// size its header declares is checked against maxPixels (dataset's limit)
// first, so that a small file declaring a huge image is refused before its
// pixels are allocated.
func decode(path string, maxPixels int) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("imgproc: %w", err)
	}
	if err := checkSize(data, maxPixels); err != nil {
		return nil, fmt.Errorf("imgproc: %s: %w", path, err)
	}
	var img image.Image
	if isJPEG(data) {
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

func isJPEG(data []byte) bool { return len(data) >= 2 && data[0] == 0xFF && data[1] == 0xD8 }

// checkSize reads the image's header and applies dataset's pixel limit.
func checkSize(data []byte, maxPixels int) error {
	var w, h int
	if isJPEG(data) {
		cfg, err := jpeg.DecodeConfig(data)
		if err != nil {
			return fmt.Errorf("decoding image: %w", err)
		}
		w, h = cfg.Width, cfg.Height
	} else {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("decoding image: %w", err)
		}
		w, h = cfg.Width, cfg.Height
	}
	if err := (dataset.DecodeOptions{MaxPixels: maxPixels}).CheckSize(w, h); err != nil {
		return fmt.Errorf("%w (see -max-pixels)", err)
	}
	return nil
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
