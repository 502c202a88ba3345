package jpeg

import "errors"

// Arithmetic decoding (ITU T.81 Annex D, F.2.4 and G.2): the QM-coder with
// adaptive binary contexts, as libjpeg's jdarith.c implements it.

var errArithmetic = errors.New("corrupt arithmetic-coded data")

// qeTable is Table D.2, packed as Qe<<16 | Next_Index_MPS<<8 |
// Switch_MPS<<7 | Next_Index_LPS.
var qeTable = func() (t [114]uint32) {
	rows := [114][4]uint32{
		{0x5a1d, 1, 1, 1}, {0x2586, 14, 2, 0}, {0x1114, 16, 3, 0}, {0x080b, 18, 4, 0},
		{0x03d8, 20, 5, 0}, {0x01da, 23, 6, 0}, {0x00e5, 25, 7, 0}, {0x006f, 28, 8, 0},
		{0x0036, 30, 9, 0}, {0x001a, 33, 10, 0}, {0x000d, 35, 11, 0}, {0x0006, 9, 12, 0},
		{0x0003, 10, 13, 0}, {0x0001, 12, 13, 0}, {0x5a7f, 15, 15, 1}, {0x3f25, 36, 16, 0},
		{0x2cf2, 38, 17, 0}, {0x207c, 39, 18, 0}, {0x17b9, 40, 19, 0}, {0x1182, 42, 20, 0},
		{0x0cef, 43, 21, 0}, {0x09a1, 45, 22, 0}, {0x072f, 46, 23, 0}, {0x055c, 48, 24, 0},
		{0x0406, 49, 25, 0}, {0x0303, 51, 26, 0}, {0x0240, 52, 27, 0}, {0x01b1, 54, 28, 0},
		{0x0144, 56, 29, 0}, {0x00f5, 57, 30, 0}, {0x00b7, 59, 31, 0}, {0x008a, 60, 32, 0},
		{0x0068, 62, 33, 0}, {0x004e, 63, 34, 0}, {0x003b, 32, 35, 0}, {0x002c, 33, 9, 0},
		{0x5ae1, 37, 37, 1}, {0x484c, 64, 38, 0}, {0x3a0d, 65, 39, 0}, {0x2ef1, 67, 40, 0},
		{0x261f, 68, 41, 0}, {0x1f33, 69, 42, 0}, {0x19a8, 70, 43, 0}, {0x1518, 72, 44, 0},
		{0x1177, 73, 45, 0}, {0x0e74, 74, 46, 0}, {0x0bfb, 75, 47, 0}, {0x09f8, 77, 48, 0},
		{0x0861, 78, 49, 0}, {0x0706, 79, 50, 0}, {0x05cd, 48, 51, 0}, {0x04de, 50, 52, 0},
		{0x040f, 50, 53, 0}, {0x0363, 51, 54, 0}, {0x02d4, 52, 55, 0}, {0x025c, 53, 56, 0},
		{0x01f8, 54, 57, 0}, {0x01a4, 55, 58, 0}, {0x0160, 56, 59, 0}, {0x0125, 57, 60, 0},
		{0x00f6, 58, 61, 0}, {0x00cb, 59, 62, 0}, {0x00ab, 61, 63, 0}, {0x008f, 61, 32, 0},
		{0x5b12, 65, 65, 1}, {0x4d04, 80, 66, 0}, {0x412c, 81, 67, 0}, {0x37d8, 82, 68, 0},
		{0x2fe8, 83, 69, 0}, {0x293c, 84, 70, 0}, {0x2379, 86, 71, 0}, {0x1edf, 87, 72, 0},
		{0x1aa9, 87, 73, 0}, {0x174e, 72, 74, 0}, {0x1424, 72, 75, 0}, {0x119c, 74, 76, 0},
		{0x0f6b, 74, 77, 0}, {0x0d51, 75, 78, 0}, {0x0bb6, 77, 79, 0}, {0x0a40, 77, 48, 0},
		{0x5832, 80, 81, 1}, {0x4d1c, 88, 82, 0}, {0x438e, 89, 83, 0}, {0x3bdd, 90, 84, 0},
		{0x34ee, 91, 85, 0}, {0x2eae, 92, 86, 0}, {0x299a, 93, 87, 0}, {0x2516, 86, 71, 0},
		{0x5570, 88, 89, 1}, {0x4ca9, 95, 90, 0}, {0x44d9, 96, 91, 0}, {0x3e22, 97, 92, 0},
		{0x3824, 99, 93, 0}, {0x32b4, 99, 94, 0}, {0x2e17, 93, 86, 0}, {0x56a8, 95, 96, 1},
		{0x4f46, 101, 97, 0}, {0x47e5, 102, 98, 0}, {0x41cf, 103, 99, 0}, {0x3c3d, 104, 100, 0},
		{0x375e, 99, 93, 0}, {0x5231, 105, 102, 0}, {0x4c0f, 106, 103, 0}, {0x4639, 107, 104, 0},
		{0x415e, 103, 99, 0}, {0x5627, 105, 106, 1}, {0x50e7, 108, 107, 0}, {0x4b85, 109, 103, 0},
		{0x5597, 110, 109, 0}, {0x504f, 111, 107, 0}, {0x5a10, 110, 111, 1}, {0x5522, 112, 109, 0},
		{0x59eb, 112, 111, 1}, {0x5a1d, 113, 113, 0},
	}
	for i, r := range rows {
		t[i] = r[0]<<16 | r[2]<<8 | r[3]<<7 | r[1]
	}
	return t
}()

// arithState is the arithmetic decoder of one scan.
type arithState struct {
	data      []byte
	pos       int
	c, a      int64
	ct        int
	atMarker  bool // a marker (or the end) was reached: feeding zeros
	markerAt  int  // position of the marker's 0xFF
	eof       bool // the end of the data was reached without a marker
	fixed     uint8
	dcStats   [4][64]uint8
	acStats   [4][256]uint8
	dcL, dcU  [4]int // DAC conditioning of the DC tables
	acK       [4]int // DAC conditioning of the AC tables
	corrupted bool
}

func (a *arithState) setDefaults() {
	for i := range 4 {
		a.dcL[i], a.dcU[i], a.acK[i] = 0, 1, 5
	}
}

func (d *decoder) readDAC(seg []byte) error {
	if len(seg)%2 != 0 {
		return errors.New("bad DAC segment")
	}
	for ; len(seg) > 0; seg = seg[2:] {
		class, id, v := seg[0]>>4, seg[0]&15, int(seg[1])
		if class > 1 || id > 3 {
			return errors.New("bad DAC table index")
		}
		if class == 1 {
			d.arith.acK[id] = v
			continue
		}
		if v&15 > v>>4 {
			return errors.New("bad DAC value")
		}
		d.arith.dcL[id], d.arith.dcU[id] = v&15, v>>4
	}
	return nil
}

// reset starts the decoder at d.pos and clears the statistics of the
// tables the scan uses (at the scan start and at each restart marker).
func (a *arithState) reset(d *decoder) {
	a.data, a.pos = d.data, d.pos
	a.c, a.a, a.ct = 0, 0, -16
	a.atMarker, a.eof, a.corrupted = false, false, false
	a.fixed = 113
	for i := 0; i < d.nscan; i++ {
		c := &d.comps[d.scan[i]]
		if !d.progressive || d.ss == 0 && d.ah == 0 {
			clear(a.dcStats[c.td][:])
			c.dcPred, c.dcContext = 0, 0
		}
		if !d.progressive || d.ss > 0 {
			clear(a.acStats[c.ta][:])
		}
	}
}

func (a *arithState) truncated() bool { return a.eof }

func (a *arithState) markerPos() int {
	if a.atMarker && !a.eof {
		return a.markerAt
	}
	p := a.pos
	for p+1 < len(a.data) && !(a.data[p] == 0xFF && a.data[p+1] != 0) {
		p++
	}
	return p
}

// nextByte returns the next byte of coded data, or 0 after a marker.
func (a *arithState) nextByte() int64 {
	if a.atMarker {
		return 0
	}
	if a.pos >= len(a.data) {
		a.atMarker, a.eof = true, true
		return 0
	}
	b := a.data[a.pos]
	a.pos++
	if b != 0xFF {
		return int64(b)
	}
	for a.pos < len(a.data) && a.data[a.pos] == 0xFF {
		a.pos++
	}
	if a.pos >= len(a.data) {
		a.atMarker, a.eof = true, true
		return 0
	}
	if a.data[a.pos] == 0 {
		a.pos++
		return 0xFF
	}
	a.atMarker, a.markerAt = true, a.pos-1
	return 0
}

// bin decodes one binary decision with the adaptive context *st (bit 7:
// the more probable symbol; bits 0-6: the state index of Table D.2).
func (a *arithState) bin(st *uint8) int {
	for a.a < 0x8000 {
		a.ct--
		if a.ct < 0 {
			a.c = a.c<<8 | a.nextByte()
			a.ct += 8
			if a.ct < 0 {
				a.ct++
				if a.ct == 0 {
					a.a = 0x8000 // the two initial bytes are in
				}
			}
		}
		a.a <<= 1
	}
	sv := int(*st)
	e := qeTable[sv&0x7F]
	qe := int64(e >> 16)
	nl, nm := uint8(e), uint8(e>>8)
	a.a -= qe
	t := a.a << a.ct
	switch {
	case a.c >= t:
		a.c -= t
		if a.a < qe { // conditional exchange: it was the MPS
			*st = uint8(sv&0x80) ^ nm
		} else {
			*st = uint8(sv&0x80) ^ nl
			sv ^= 0x80
		}
		a.a = qe
	case a.a < 0x8000:
		if a.a < qe {
			*st = uint8(sv&0x80) ^ nl
			sv ^= 0x80
		} else {
			*st = uint8(sv&0x80) ^ nm
		}
	}
	return sv >> 7
}

// dcDiff decodes a DC difference (F.1.4.4.1) and updates c's context.
func (d *decoder) dcDiff(c *component) (int32, error) {
	a := &d.arith
	stats := a.dcStats[c.td][:]
	st := c.dcContext
	if a.bin(&stats[st]) == 0 {
		c.dcContext = 0
		return 0, nil
	}
	sign := a.bin(&stats[st+1])
	first := st + 2 + sign
	m0 := int32(a.bin(&stats[first]))
	m, x := m0, first
	if m != 0 {
		x = 20
		for a.bin(&stats[x]) != 0 {
			m <<= 1
			if m == 0x8000 {
				return 0, errArithmetic
			}
			x++
		}
	}
	switch {
	case m < int32(1<<a.dcL[c.td])>>1:
		c.dcContext = 0
	case m > int32(1<<a.dcU[c.td])>>1:
		c.dcContext = 12 + 4*sign
	default:
		c.dcContext = 4 + 4*sign
	}
	v := m
	x += 14
	for m >>= 1; m != 0; m >>= 1 {
		if a.bin(&stats[x]) != 0 {
			v |= m
		}
	}
	v++
	if sign != 0 {
		v = -v
	}
	return v, nil
}

// acValue decodes the sign and magnitude of a nonzero AC coefficient at k,
// whose context bins start at st.
func (d *decoder) acValue(c *component, st, k int) (int32, error) {
	a := &d.arith
	stats := a.acStats[c.ta][:]
	sign := a.bin(&a.fixed)
	st += 2
	m := int32(a.bin(&stats[st]))
	if m != 0 && a.bin(&stats[st]) != 0 {
		m <<= 1
		st = 217
		if k <= a.acK[c.ta] {
			st = 189
		}
		for a.bin(&stats[st]) != 0 {
			m <<= 1
			if m == 0x8000 {
				return 0, errArithmetic
			}
			st++
		}
	}
	v := m
	st += 14
	for m >>= 1; m != 0; m >>= 1 {
		if a.bin(&stats[st]) != 0 {
			v |= m
		}
	}
	v++
	if sign != 0 {
		v = -v
	}
	return v, nil
}

// acRun decodes the coefficients ss..se of an AC band (sequential or first
// progressive scan), each shifted left by al.
func (d *decoder) acRun(c *component, b *[64]int16, ss, se, al int) error {
	a := &d.arith
	stats := a.acStats[c.ta][:]
	for k := ss; k <= se; k++ {
		st := 3 * (k - 1)
		if a.bin(&stats[st]) != 0 {
			return nil // end of block
		}
		for a.bin(&stats[st+1]) == 0 {
			st += 3
			k++
			if k > se {
				return errArithmetic
			}
		}
		v, err := d.acValue(c, st, k)
		if err != nil {
			return err
		}
		b[zigzag[k]] = int16(uint32(v) << al)
	}
	return nil
}

func (d *decoder) arithBlock(c *component, b *[64]int16) error {
	a := &d.arith
	switch {
	case !d.progressive:
		v, err := d.dcDiff(c)
		if err != nil {
			return err
		}
		c.dcPred = (c.dcPred + v) & 0xFFFF
		b[0] = int16(c.dcPred)
		return d.acRun(c, b, 1, 63, 0)
	case d.ss == 0 && d.ah == 0:
		v, err := d.dcDiff(c)
		if err != nil {
			return err
		}
		c.dcPred = (c.dcPred + v) & 0xFFFF
		b[0] = int16(c.dcPred << d.al)
	case d.ss == 0:
		if a.bin(&a.fixed) != 0 {
			b[0] |= 1 << d.al
		}
	case d.ah == 0:
		return d.acRun(c, b, d.ss, d.se, d.al)
	default:
		return d.arithACRefine(c, b)
	}
	return nil
}

func (d *decoder) arithACRefine(c *component, b *[64]int16) error {
	a := &d.arith
	stats := a.acStats[c.ta][:]
	p1, m1 := int16(1)<<d.al, int16(-1)<<d.al
	kex := d.se // last coefficient already nonzero
	for ; kex > 0 && b[zigzag[kex]] == 0; kex-- {
	}
	for k := d.ss; k <= d.se; k++ {
		st := 3 * (k - 1)
		if k > kex && a.bin(&stats[st]) != 0 {
			return nil // end of block
		}
		for {
			z := &b[zigzag[k]]
			if *z != 0 {
				if a.bin(&stats[st+2]) != 0 {
					if *z < 0 {
						*z += m1
					} else {
						*z += p1
					}
				}
				break
			}
			if a.bin(&stats[st+1]) != 0 {
				*z = p1
				if a.bin(&a.fixed) != 0 {
					*z = m1
				}
				break
			}
			st += 3
			k++
			if k > d.se {
				return errArithmetic
			}
		}
	}
	return nil
}
