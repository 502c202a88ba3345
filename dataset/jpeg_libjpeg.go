//go:build cgo && libjpeg

package dataset

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
	struct jpeg_decompress_struct d;
	struct jpeg_error_mgr jerr;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
	int started;
} gjpeg;

static void gj_error_exit(j_common_ptr c) {
	gjpeg *g = (gjpeg *)c;
	(*c->err->format_message)(c, g->msg);
	longjmp(g->jb, 1);
}

// Warnings are ignored, except premature end of data, which Go's decoder and
// Pillow both treat as an error.
static void gj_emit(j_common_ptr c, int level) {
	if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
		gj_error_exit(c);
	}
}

static gjpeg *gj_new(void) {
	gjpeg *g = (gjpeg *)calloc(1, sizeof(gjpeg));
	if (!g) return NULL;
	g->d.err = jpeg_std_error(&g->jerr);
	g->jerr.error_exit = gj_error_exit;
	g->jerr.emit_message = gj_emit;
	jpeg_create_decompress(&g->d);
	return g;
}

static void gj_free(gjpeg *g) {
	jpeg_destroy_decompress(&g->d);
	free(g);
}

// gj_header reads the header; returns 0 on success.
static int gj_header(gjpeg *g, const unsigned char *data, unsigned long n, int *w, int *h, int *cs) {
	if (setjmp(g->jb)) return 1;
	jpeg_mem_src(&g->d, data, n);
	jpeg_read_header(&g->d, TRUE);
	*w = g->d.image_width;
	*h = g->d.image_height;
	*cs = g->d.jpeg_color_space;
	return 0;
}

// gj_region decodes rows [y0,y1) and at least columns [x0,x1) as RGBX into
// buf (cap bytes); the columns actually decoded (widened to iMCU boundaries)
// are returned in *rx0, *rw. Returns 0 on success, 2 when buf is too small.
static int gj_region(gjpeg *g, int x0, int y0, int x1, int y1, unsigned char *buf, size_t cap, int *rx0, int *rw) {
	if (setjmp(g->jb)) return 1;
	g->d.out_color_space = JCS_EXT_RGBX;
	jpeg_start_decompress(&g->d);
	g->started = 1;
	JDIMENSION xoff = x0, width = x1 - x0;
	if (x0 != 0 || x1 != (int)g->d.output_width) {
		jpeg_crop_scanline(&g->d, &xoff, &width);
	}
	*rx0 = xoff;
	*rw = width;
	size_t stride = (size_t)width * 4;
	if (stride * (size_t)(y1 - y0) > cap) {
		jpeg_abort_decompress(&g->d);
		return 2;
	}
	if (y0 > 0) {
		jpeg_skip_scanlines(&g->d, y0);
	}
	while ((int)g->d.output_scanline < y1) {
		JSAMPROW row = buf + stride * (g->d.output_scanline - y0);
		jpeg_read_scanlines(&g->d, &row, 1);
	}
	jpeg_abort_decompress(&g->d);
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"unsafe"
)

// haveLibjpeg reports whether JPEGs are decoded with libjpeg-turbo (build tag
// libjpeg, with cgo).
const haveLibjpeg = true

// regionMargin is the extra border decoded around a region (pixels).
const regionMargin = 4

// grow returns (*p)[:n], reallocating when the capacity is short. The bytes
// are not cleared.
func grow(p *[]byte, n int) []byte {
	if cap(*p) < n {
		*p = make([]byte, n, n+n/4)
	}
	return (*p)[:n]
}

// decodeJPEGRegion decodes a JPEG with libjpeg-turbo, only the part that
// region (called with the stored size) asks for: rows outside it are skipped
// and columns cropped to iMCU boundaries. It returns handled=false for
// JPEGs it leaves to the pure-Go path (CMYK/YCCK). The result's Rect is in
// image coordinates (it need not start at 0,0) and covers region.
//
// The pixels are written into *buf (grown when short), which the result
// aliases.
func decodeJPEGRegion(data []byte, o DecodeOptions, buf *[]byte, region func(w, h int) image.Rectangle) (img *image.RGBA, info Info, handled bool, err error) {
	if len(data) == 0 {
		return nil, info, false, nil
	}
	g := C.gj_new()
	if g == nil {
		return nil, info, false, nil
	}
	defer C.gj_free(g)
	// libjpeg keeps the source pointer between the header and decode calls:
	// pin data so that it stays put and alive for both (cgo pointer rules).
	var pin runtime.Pinner
	pin.Pin(&data[0])
	defer pin.Unpin()
	var w, h, cs C.int
	if C.gj_header(g, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &w, &h, &cs) != 0 {
		return nil, info, true, fmt.Errorf("reading header: %s", C.GoString(&g.msg[0]))
	}
	info = Info{Format: "jpeg", Width: int(w), Height: int(h)}
	switch cs {
	case C.JCS_YCbCr, C.JCS_RGB:
		info.Mode = "RGB"
	case C.JCS_GRAYSCALE:
		info.Mode, info.ConvertedFrom = "L", "L"
	default:
		return nil, info, false, nil
	}
	if w <= 0 || h <= 0 {
		return nil, info, true, fmt.Errorf("bad dimensions %dx%d", w, h)
	}
	if err := o.CheckSize(int(w), int(h)); err != nil {
		return nil, info, true, err
	}
	r := region(int(w), int(h))
	if r.Empty() {
		return nil, info, true, errors.New("empty decode region")
	}
	// Fancy (smooth) chroma upsampling treats the edges of a cropped or
	// skipped region as image edges; a margin keeps the wanted pixels
	// identical to a full decode.
	r = r.Inset(-regionMargin).Intersect(image.Rect(0, 0, int(w), int(h)))
	// iMCU alignment widens the columns by less than 64 on the left and right.
	capBytes := (r.Dx() + 64) * 4 * r.Dy()
	pix := grow(buf, capBytes)
	var rx0, rw C.int
	rc := C.gj_region(g, C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Max.X), C.int(r.Max.Y),
		(*C.uchar)(unsafe.Pointer(&pix[0])), C.size_t(capBytes), &rx0, &rw)
	switch rc {
	case 0:
	case 2:
		return nil, info, false, nil // unexpected widening: let the Go path do it
	default:
		return nil, info, true, fmt.Errorf("decoding jpeg: %s", C.GoString(&g.msg[0]))
	}
	stride := int(rw) * 4
	img = &image.RGBA{Pix: pix[:stride*r.Dy()], Stride: stride, Rect: image.Rect(int(rx0), r.Min.Y, int(rx0+rw), r.Max.Y)}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return img, info, true, nil
}
