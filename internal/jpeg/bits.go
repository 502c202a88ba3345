package jpeg

import (
	"encoding/binary"
	"errors"
)

var errTruncated = errors.New("unexpected end of data")

// bitReader reads the entropy-coded bits of a scan, MSB first, removing the
// 0x00 stuffed after each 0xFF. At a marker or at the end of the data it
// feeds zero bits, as libjpeg does; consuming zero bits fed at the end of the
// data (a truncated file) is reported by truncated.
type bitReader struct {
	data   []byte
	pos    int    // next byte of data to read
	acc    uint64 // valid bits left-aligned
	n      uint   // number of valid bits in acc
	atEnd  bool   // reached a marker or the end of data: feeding zeros
	eof    bool   // the zeros come from the end of the data, not a marker
	padded int    // zero bits fed so far
}

func (b *bitReader) reset(data []byte, pos int) {
	*b = bitReader{data: data, pos: pos}
}

// fill tops acc up to at least 57 valid bits.
func (b *bitReader) fill() {
	if !b.atEnd && b.pos+8 <= len(b.data) {
		// Fast path: no 0xFF among the next 8 bytes (x has no zero byte).
		w := binary.BigEndian.Uint64(b.data[b.pos:])
		if x := ^w; (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
			k := (64 - b.n) >> 3
			b.acc |= w >> (64 - 8*k) << (64 - 8*k - b.n)
			b.n += 8 * k
			b.pos += int(k)
			return
		}
	}
	for b.n <= 56 {
		c, ok := b.nextByte()
		if !ok {
			b.padded += 8
			b.n += 8
			continue
		}
		b.acc |= uint64(c) << (56 - b.n)
		b.n += 8
	}
}

// nextByte returns the next entropy-coded byte, or false at a marker or at
// the end of the data.
func (b *bitReader) nextByte() (byte, bool) {
	if b.atEnd {
		return 0, false
	}
	if b.pos >= len(b.data) {
		b.atEnd, b.eof = true, true
		return 0, false
	}
	c := b.data[b.pos]
	if c != 0xFF {
		b.pos++
		return c, true
	}
	if b.pos+1 >= len(b.data) {
		b.atEnd, b.eof = true, true
		return 0, false
	}
	if b.data[b.pos+1] == 0 {
		b.pos += 2
		return 0xFF, true
	}
	b.atEnd = true // a marker: leave it for the marker reader
	return 0, false
}

// bits returns the next n (0..16) bits.
func (b *bitReader) bits(n uint) int32 {
	if n == 0 {
		return 0
	}
	if b.n < n {
		b.fill()
	}
	v := int32(b.acc >> (64 - n))
	b.acc <<= n
	b.n -= n
	return v
}

func (b *bitReader) bit() bool {
	if b.n == 0 {
		b.fill()
	}
	v := b.acc>>63 != 0
	b.acc <<= 1
	b.n--
	return v
}

// receiveExtend reads an s-bit magnitude category value (F.2.2.1).
func (b *bitReader) receiveExtend(s uint) int32 {
	v := b.bits(s)
	if s > 0 && v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// truncated reports whether bits past the end of the data were consumed.
func (b *bitReader) truncated() bool {
	return b.eof && b.padded > int(b.n)
}

// resync discards the buffered bits and positions the reader at the marker
// that follows the entropy-coded data, returning that position.
func (b *bitReader) markerPos() int {
	p := b.pos
	// Skip any entropy bytes not yet read (possible after corrupt data).
	for p+1 < len(b.data) && !(b.data[p] == 0xFF && b.data[p+1] != 0) {
		p++
	}
	return p
}
