package jpeg

import "errors"

const lutBits = 10

// huffTable is a Huffman decoding table (Annex C): codes up to lutBits long
// are decoded with one lookup, longer ones by canonical code ranges.
type huffTable struct {
	lut     [1 << lutBits]uint16 // length<<8 | symbol; 0 when the code is longer
	maxCode [18]int32            // largest code of each length, -1 if none
	valPtr  [17]int32            // index in vals of the first code of each length, minus that code
	vals    [256]uint8
	// fast decodes a symbol and, when they fit in lutBits too, the
	// magnitude bits that follow: value<<16 | symbol<<8 | bits used (0:
	// use the slow path). Valid for symbols whose low nibble is the
	// magnitude size (all AC symbols; DC symbols up to 15).
	fast [1 << lutBits]int32
	set  bool
}

var errBadHuffman = errors.New("bad Huffman code")

// build makes the table from the DHT counts of each code length (1..16) and
// the symbols in code order.
func (t *huffTable) build(counts [16]uint8, symbols []uint8) error {
	*t = huffTable{set: true}
	copy(t.vals[:], symbols)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.valPtr[l] = k - code
		if n == 0 {
			t.maxCode[l] = -1
		} else {
			t.maxCode[l] = code + n - 1
		}
		if code+n > 1<<l {
			return errors.New("bad Huffman table (code space overflow)")
		}
		if l <= lutBits {
			for i := int32(0); i < n; i++ {
				c := code + i
				shift := lutBits - l
				base := c << shift
				e := uint16(l)<<8 | uint16(symbols[k+i])
				for j := int32(0); j < 1<<shift; j++ {
					t.lut[base+j] = e
				}
			}
		}
		code += n
		k += n
		code <<= 1
	}
	t.maxCode[17] = 1 << 30 // sentinel, never reached by a valid code
	t.buildFast()
	return nil
}

func (t *huffTable) buildFast() {
	for i, e := range t.lut {
		if e == 0 {
			continue
		}
		l, sym := uint(e>>8), uint8(e)
		size := uint(sym & 15)
		if l+size > lutBits {
			continue
		}
		var v int32
		if size > 0 {
			v = int32(i>>(lutBits-l-size)) & (1<<size - 1)
			if v < 1<<(size-1) {
				v += 1 - 1<<size
			}
		}
		t.fast[i] = v<<16 | int32(sym)<<8 | int32(l+size)
	}
}

// decode reads one Huffman-coded symbol.
func (b *bitReader) decode(t *huffTable) (uint8, error) {
	if b.n < 16 {
		b.fill()
	}
	if e := t.lut[b.acc>>(64-lutBits)]; e != 0 {
		l := uint(e >> 8)
		b.acc <<= l
		b.n -= l
		return uint8(e), nil
	}
	for l := uint(lutBits + 1); l <= 16; l++ {
		code := int32(b.acc >> (64 - l))
		if code <= t.maxCode[l] {
			b.acc <<= l
			b.n -= l
			return t.vals[(t.valPtr[l]+code)&0xFF], nil
		}
	}
	return 0, errBadHuffman
}
