package jpeg

import (
	"errors"
	"fmt"
)

// Marker codes (Table B.1).
const (
	mSOF0  = 0xC0 // baseline
	mSOF1  = 0xC1 // extended sequential, Huffman
	mSOF2  = 0xC2 // progressive, Huffman
	mDHT   = 0xC4
	mSOF9  = 0xC9 // extended sequential, arithmetic
	mSOF10 = 0xCA // progressive, arithmetic
	mDAC   = 0xCC
	mRST0  = 0xD0
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mDQT   = 0xDB
	mDNL   = 0xDC
	mDRI   = 0xDD
	mAPP0  = 0xE0
	mAPP14 = 0xEE
)

// component is one frame component and its decoding state.
type component struct {
	id     uint8
	h, v   int // sampling factors
	tq     int // quantisation table
	td, ta int // DC and AC table of the current scan
	dsW    int // samples per line: ceil(width*h/maxH)
	dsH    int // lines: ceil(height*v/maxV)
	bw, bh int // blocks per row and column (padded to whole MCUs)
	dcPred int32
	quant  [64]int32 // latched at the component's first scan, as libjpeg does
	seen   bool      // quant is latched

	coefs []int16 // bw*bh blocks of 64 coefficients, natural order
	plane []uint8 // samples, stride 8*bw (only the needed blocks are filled)
	// Blocks needed for the output region: [bx0,bx1) x [by0,by1).
	bx0, bx1, by0, by1 int
	// Arithmetic decoding state.
	dcContext int
}

// decoder is the state of one decoding.
type decoder struct {
	data []byte
	pos  int

	width, height int
	ncomp         int
	comps         [4]component
	maxH, maxV    int
	mcuX, mcuY    int
	progressive   bool
	arithmetic    bool
	frameSeen     bool

	quant    [4][64]uint16 // natural order
	quantSet [4]bool
	dcTab    [4]huffTable
	acTab    [4]huffTable
	arith    arithState

	restartInterval int
	jfif, adobe     bool
	adobeTransform  int
	eobrun          int32
	bits            bitReader
	sums            []int16 // upsampling scratch
	rowBufs         [4][]uint8
	streamed        bool      // blocks are inverse transformed as they are decoded
	blk             [64]int16 // the block being decoded when streamed

	// Current scan.
	scan   [4]int // indexes into comps
	nscan  int
	ss, se int
	ah, al int
	// regionDone: decoding stopped after the last MCU row the region needs.
	regionDone bool
}

func (d *decoder) init(data []byte) {
	comps, sums, rowBufs := d.comps, d.sums, d.rowBufs
	*d = decoder{data: data, sums: sums, rowBufs: rowBufs}
	d.arith.setDefaults()
	for i := range comps { // keep the buffers
		d.comps[i].coefs, d.comps[i].plane = comps[i].coefs[:0], comps[i].plane[:0]
	}
}

// segment returns the payload of the marker segment whose length field is at
// d.pos, and advances past it.
func (d *decoder) segment() ([]byte, error) {
	if d.pos+2 > len(d.data) {
		return nil, errTruncated
	}
	n := int(d.data[d.pos])<<8 | int(d.data[d.pos+1])
	if n < 2 {
		return nil, errors.New("bad marker segment length")
	}
	if d.pos+n > len(d.data) {
		return nil, errTruncated
	}
	seg := d.data[d.pos+2 : d.pos+n]
	d.pos += n
	return seg, nil
}

// nextMarker skips to the next marker (tolerating garbage bytes and fill
// 0xFFs, as libjpeg does) and returns its code, positioned after it.
func (d *decoder) nextMarker() (byte, error) {
	for {
		for d.pos < len(d.data) && d.data[d.pos] != 0xFF {
			d.pos++
		}
		for d.pos < len(d.data) && d.data[d.pos] == 0xFF {
			d.pos++
		}
		if d.pos >= len(d.data) {
			return 0, errTruncated
		}
		m := d.data[d.pos]
		d.pos++
		if m != 0 {
			return m, nil
		}
	}
}

// readHeaders reads from SOI up to and including the frame header.
func (d *decoder) readHeaders() error {
	if len(d.data) < 2 || d.data[0] != 0xFF || d.data[1] != mSOI {
		return errors.New("not a JPEG file (missing SOI marker)")
	}
	d.pos = 2
	for !d.frameSeen {
		m, err := d.nextMarker()
		if err != nil {
			return err
		}
		if err := d.handleMarker(m); err != nil {
			return err
		}
	}
	return nil
}

// handleMarker processes a marker other than SOS and EOI.
func (d *decoder) handleMarker(m byte) error {
	switch {
	case m == mSOI || m >= mRST0 && m <= mRST0+7 || m == 0x01:
		return nil // no payload
	case m == mEOI || m == mSOS:
		return errors.New("missing frame header (SOF)")
	}
	seg, err := d.segment()
	if err != nil {
		return err
	}
	switch m {
	case mSOF0, mSOF1, mSOF2, mSOF9, mSOF10:
		if d.frameSeen {
			return errors.New("more than one frame header")
		}
		return d.readSOF(seg, m)
	case 0xC3, 0xC5, 0xC6, 0xC7, 0xCB, 0xCD, 0xCE, 0xCF:
		return fmt.Errorf("unsupported JPEG process (SOF%d: lossless or hierarchical)", m-0xC0)
	case mDHT:
		return d.readDHT(seg)
	case mDQT:
		return d.readDQT(seg)
	case mDRI:
		if len(seg) != 2 {
			return errors.New("bad DRI segment")
		}
		d.restartInterval = int(seg[0])<<8 | int(seg[1])
	case mDAC:
		return d.readDAC(seg)
	case mAPP0:
		if len(seg) >= 5 && string(seg[:5]) == "JFIF\x00" {
			d.jfif = true
		}
	case mAPP14:
		if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
			d.adobe = true
			d.adobeTransform = int(seg[11])
		}
	}
	return nil // other APPn, COM, DNL: ignored
}

func (d *decoder) readSOF(seg []byte, m byte) error {
	if len(seg) < 6 {
		return errors.New("bad frame header")
	}
	if seg[0] != 8 {
		return fmt.Errorf("unsupported sample precision %d", seg[0])
	}
	d.height = int(seg[1])<<8 | int(seg[2])
	d.width = int(seg[3])<<8 | int(seg[4])
	d.ncomp = int(seg[5])
	if d.width == 0 || d.height == 0 {
		return fmt.Errorf("bad dimensions %dx%d", d.width, d.height)
	}
	if d.ncomp != 1 && d.ncomp != 3 && d.ncomp != 4 {
		return fmt.Errorf("unsupported number of components %d", d.ncomp)
	}
	if len(seg) != 6+3*d.ncomp {
		return errors.New("bad frame header length")
	}
	d.progressive = m == mSOF2 || m == mSOF10
	d.arithmetic = m == mSOF9 || m == mSOF10
	d.maxH, d.maxV = 1, 1
	for i := 0; i < d.ncomp; i++ {
		c := &d.comps[i]
		p := seg[6+3*i:]
		c.id, c.h, c.v, c.tq = p[0], int(p[1]>>4), int(p[1]&15), int(p[2])
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return errors.New("bad sampling factors")
		}
		if c.tq > 3 {
			return errors.New("bad quantisation table index")
		}
		for j := 0; j < i; j++ {
			if d.comps[j].id == c.id {
				return errors.New("repeated component identifier")
			}
		}
		d.maxH, d.maxV = max(d.maxH, c.h), max(d.maxV, c.v)
	}
	if d.ncomp == 1 { // a lone component is never subsampled
		d.comps[0].h, d.comps[0].v, d.maxH, d.maxV = 1, 1, 1, 1
	}
	for i := 0; i < d.ncomp; i++ {
		c := &d.comps[i]
		if d.maxH%c.h != 0 || d.maxV%c.v != 0 {
			return errors.New("unsupported sampling factors (fractional ratio)")
		}
	}
	d.frameSeen = true
	return nil
}

func (d *decoder) readDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return errors.New("bad DHT segment")
		}
		class, id := seg[0]>>4, seg[0]&15
		if class > 1 || id > 3 {
			return errors.New("bad DHT table class or index")
		}
		var counts [16]uint8
		copy(counts[:], seg[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if total > 256 || len(seg) < 17+total {
			return errors.New("bad DHT segment")
		}
		t := &d.dcTab[id]
		if class == 1 {
			t = &d.acTab[id]
		}
		if err := t.build(counts, seg[17:17+total]); err != nil {
			return err
		}
		seg = seg[17+total:]
	}
	return nil
}

func (d *decoder) readDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, id := seg[0]>>4, seg[0]&15
		if pq > 1 || id > 3 {
			return errors.New("bad DQT segment")
		}
		n := 64 * (1 + int(pq))
		if len(seg) < 1+n {
			return errors.New("bad DQT segment")
		}
		for k := 0; k < 64; k++ {
			v := uint16(seg[1+k])
			if pq == 1 {
				v = uint16(seg[1+2*k])<<8 | uint16(seg[2+2*k])
			}
			d.quant[id][zigzag[k]] = v
		}
		d.quantSet[id] = true
		seg = seg[1+n:]
	}
	return nil
}

// zigzag[k] is the natural-order index of the k-th coefficient in zigzag
// order; the extra entries catch runs past the end in corrupt data (and
// let k&127 index it without a bounds check).
var zigzag = [128]uint8{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
}
