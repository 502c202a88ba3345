//go:build !(cgo && libjpeg)

package dataset

import "image"

// haveLibjpeg reports whether JPEGs are decoded with libjpeg-turbo (build tag
// libjpeg, with cgo).
const haveLibjpeg = false

func decodeJPEGRegion(data []byte, o DecodeOptions, buf *[]byte, region func(w, h int) image.Rectangle) (*image.RGBA, Info, bool, error) {
	return nil, Info{}, false, nil
}
