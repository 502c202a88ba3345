package jpeg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
)

// errNoQuant: a scan uses a quantisation table that no DQT defined (libjpeg
// stops there too; image/jpeg decodes with a table of zeros).
var errNoQuant = errors.New("missing quantisation table")

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// setupFrame sizes the components and their buffers for decoding roi.
func (d *decoder) setupFrame(roi image.Rectangle) error {
	d.mcuX = ceilDiv(d.width, 8*d.maxH)
	d.mcuY = ceilDiv(d.height, 8*d.maxV)
	for i := 0; i < d.ncomp; i++ {
		c := &d.comps[i]
		c.dsW = ceilDiv(d.width*c.h, d.maxH)
		c.dsH = ceilDiv(d.height*c.v, d.maxV)
		c.bw, c.bh = d.mcuX*c.h, d.mcuY*c.v
		n := 64 * c.bw * c.bh
		c.coefs = c.coefs[:0] // allocated by the first scan that stores coefficients
		if cap(c.plane) < n+vecSlack {
			c.plane = make([]uint8, n, n+vecSlack)
		}
		c.plane = c.plane[:n]
		// The samples the upsampler reads: one beyond each side for the
		// triangle filters, clipped to the component.
		rh, rv := d.maxH/c.h, d.maxV/c.v
		x0, x1 := max(roi.Min.X/rh-1, 0), min((roi.Max.X-1)/rh+2, c.dsW)
		y0, y1 := max(roi.Min.Y/rv-1, 0), min((roi.Max.Y-1)/rv+2, c.dsH)
		c.bx0, c.bx1 = x0/8, ceilDiv(x1, 8)
		c.by0, c.by1 = y0/8, ceilDiv(y1, 8)
		c.dcPred, c.seen = 0, false
	}
	return nil
}

// readScans reads the markers and scans after the frame header up to EOI,
// then runs the inverse DCT of the needed blocks.
func (d *decoder) readScans() error {
	scans := 0
	for {
		m, err := d.nextMarker()
		if err == errTruncated && scans > 0 {
			break // missing EOI after complete scans: accepted, like libjpeg
		}
		if err != nil {
			return err
		}
		if m == mEOI {
			break
		}
		if m != mSOS {
			if err := d.handleMarker(m); err != nil {
				return err
			}
			continue
		}
		seg, err := d.segment()
		if err != nil {
			return err
		}
		if err := d.readSOS(seg); err != nil {
			return err
		}
		if err := d.decodeScan(); err != nil {
			return err
		}
		scans++
		if d.regionDone {
			break // the rest of the file holds no rows the region needs
		}
	}
	if scans == 0 {
		return errors.New("no image data (no scan before EOI)")
	}
	if d.streamed {
		return nil
	}
	for i := 0; i < d.ncomp; i++ {
		if err := d.idctComponent(&d.comps[i]); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) readSOS(seg []byte) error {
	if len(seg) < 1 {
		return errors.New("bad SOS segment")
	}
	n := int(seg[0])
	if n < 1 || n > d.ncomp || len(seg) != 4+2*n {
		return errors.New("bad SOS segment")
	}
	d.nscan = n
	blocks := 0
	for i := 0; i < n; i++ {
		id, tables := seg[1+2*i], seg[2+2*i]
		ci := -1
		for j := 0; j < d.ncomp; j++ {
			if d.comps[j].id == id {
				ci = j
			}
		}
		if ci < 0 {
			return fmt.Errorf("scan names unknown component %d", id)
		}
		for j := 0; j < i; j++ {
			if d.scan[j] == ci {
				return errors.New("scan repeats a component")
			}
		}
		d.scan[i] = ci
		c := &d.comps[ci]
		c.td, c.ta = int(tables>>4), int(tables&15)
		if c.td > 3 || c.ta > 3 {
			return errors.New("bad table index in SOS")
		}
		blocks += c.h * c.v
		if !c.seen && d.quantSet[c.tq] {
			for k, q := range d.quant[c.tq] {
				c.quant[k] = int32(q)
			}
			c.seen = true
		}
	}
	if n > 1 && blocks > 10 {
		return errors.New("too many blocks per MCU")
	}
	p := seg[1+2*n:]
	d.ss, d.se, d.ah, d.al = int(p[0]), int(p[1]), int(p[2]>>4), int(p[2]&15)
	if d.progressive {
		bad := d.se > 63 || d.ss > d.se || d.al > 13 || d.ah > 13
		if d.ss == 0 {
			bad = bad || d.se != 0
		} else {
			bad = bad || n != 1
		}
		if bad {
			return errors.New("bad progressive scan parameters")
		}
	} else {
		d.ss, d.se, d.ah, d.al = 0, 63, 0, 0
	}
	return d.checkTables()
}

// checkTables verifies that the tables the scan uses are defined.
func (d *decoder) checkTables() error {
	for i := 0; i < d.nscan; i++ {
		c := &d.comps[d.scan[i]]
		if !d.quantSet[c.tq] {
			return errNoQuant
		}
		if d.arithmetic {
			continue
		}
		if d.ss == 0 && d.ah == 0 && !d.dcTab[c.td].set {
			return errors.New("missing DC Huffman table")
		}
		if (d.se > 0) && !d.acTab[c.ta].set {
			return errors.New("missing AC Huffman table")
		}
	}
	return nil
}

// decodeScan decodes the entropy-coded data of the current scan into the
// components' coefficients.
func (d *decoder) decodeScan() error {
	d.resetEntropy()
	// A sequential file with one scan for all components is inverse
	// transformed block by block as it is decoded; the others keep all
	// coefficients until the end.
	d.streamed = !d.progressive && d.nscan == d.ncomp
	if !d.streamed {
		d.allocCoefs()
	}
	nx, ny := d.mcuX, d.mcuY
	if d.nscan == 1 { // non-interleaved: one block per MCU
		c := &d.comps[d.scan[0]]
		nx, ny = ceilDiv(c.dsW, 8), ceilDiv(c.dsH, 8)
	}
	if !d.progressive && d.nscan == d.ncomp {
		// The only scan: stop after the last MCU row the region needs.
		last := 0
		for i := 0; i < d.ncomp; i++ {
			c := &d.comps[i]
			last = max(last, (c.by1-1)/c.v)
		}
		if last+1 < ny {
			ny, d.regionDone = last+1, true
		}
	}
	mcu := 0
	for my := 0; my < ny; my++ {
		for mx := 0; mx < nx; mx++ {
			if d.restartInterval > 0 && mcu > 0 && mcu%d.restartInterval == 0 {
				if err := d.restart(); err != nil {
					return err
				}
			}
			mcu++
			if err := d.decodeMCU(mx, my); err != nil {
				return err
			}
		}
	}
	if !d.arithmetic && d.bits.truncated() || d.arithmetic && d.arith.truncated() {
		return errTruncated
	}
	if !d.regionDone {
		d.pos = d.entropyEnd()
	}
	return nil
}

func (d *decoder) entropyEnd() int {
	if d.arithmetic {
		return d.arith.markerPos()
	}
	return d.bits.markerPos()
}

// restart consumes an RSTn marker and resets the decoding state.
func (d *decoder) restart() error {
	p := d.entropyEnd()
	if p+1 >= len(d.data) {
		return errTruncated
	}
	if m := d.data[p+1]; m < mRST0 || m > mRST0+7 {
		return fmt.Errorf("missing restart marker (found 0x%02X)", m)
	}
	d.pos = p + 2
	d.resetEntropy()
	return nil
}

// allocCoefs makes the zeroed coefficient buffers of all components.
func (d *decoder) allocCoefs() {
	for i := 0; i < d.ncomp; i++ {
		c := &d.comps[i]
		n := 64 * c.bw * c.bh
		if len(c.coefs) == n {
			continue
		}
		if cap(c.coefs) < n {
			c.coefs = make([]int16, n)
		} else {
			c.coefs = c.coefs[:n]
			clear(c.coefs)
		}
	}
}

func (d *decoder) decodeMCU(mx, my int) error {
	if d.nscan == 1 {
		c := &d.comps[d.scan[0]]
		return d.decodeBlockAt(c, mx, my)
	}
	for i := 0; i < d.nscan; i++ {
		c := &d.comps[d.scan[i]]
		for by := 0; by < c.v; by++ {
			for bx := 0; bx < c.h; bx++ {
				if err := d.decodeBlockAt(c, mx*c.h+bx, my*c.v+by); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// decodeBlockAt decodes block (bx, by) of c: into the coefficient buffer,
// or, when streaming, into a scratch block that is inverse transformed
// right away if the region needs it.
func (d *decoder) decodeBlockAt(c *component, bx, by int) error {
	if !d.streamed {
		return d.decodeBlock(c, c.block(bx, by))
	}
	b := &d.blk
	err := d.decodeBlock(c, b)
	if bx >= c.bx0 && bx < c.bx1 && by >= c.by0 && by < c.by1 {
		c.idct(b, bx, by)
	}
	*b = [64]int16{}
	return err
}

func (c *component) block(bx, by int) *[64]int16 {
	i := 64 * (by*c.bw + bx)
	return (*[64]int16)(c.coefs[i : i+64])
}

func (d *decoder) decodeBlock(c *component, b *[64]int16) error {
	if d.arithmetic {
		return d.arithBlock(c, b)
	}
	switch {
	case !d.progressive:
		return d.huffSequential(c, b)
	case d.ss == 0 && d.ah == 0:
		return d.huffDCFirst(c, b)
	case d.ss == 0:
		if d.bits.bit() {
			b[0] |= 1 << d.al
		}
		return nil
	case d.ah == 0:
		return d.huffACFirst(c, b)
	}
	return d.huffACRefine(c, b)
}

// huffSequential decodes one block of a sequential Huffman scan. The bit
// buffer lives in locals; each step refills it to at least 32 bits, enough
// for a code and its magnitude bits. It is the decoder's innermost loop and
// stays one function: split into helpers, the bit buffer would go through
// memory at every call instead of staying in registers.
func (d *decoder) huffSequential(c *component, b *[64]int16) error {
	br := &d.bits
	v, err := br.decodeValue(&d.dcTab[c.td])
	if err != nil {
		return err
	}
	c.dcPred += v
	b[0] = int16(c.dcPred)
	ac := &d.acTab[c.ta]
	acc, n := br.acc, br.n
	for k := 1; k < 64; k++ {
		if n < 32 {
			if p := br.pos; !br.atEnd && p+8 <= len(br.data) {
				// fill's fast path, inlined: as many whole bytes as fit,
				// when none of the next 8 is 0xFF.
				w := binary.BigEndian.Uint64(br.data[p:])
				if x := ^w; (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
					k := (64 - n) >> 3
					acc |= w >> (64 - 8*k) << (64 - 8*k - n)
					n += 8 * k
					br.pos = p + int(k)
					goto filled
				}
			}
			br.acc, br.n = acc, n
			br.fill()
			acc, n = br.acc, br.n
		}
	filled:
		e := ac.fast[acc>>(64-lutBits)]
		var rs uint8
		var v int32
		if l := uint(e & 0xFF); l != 0 {
			acc <<= l
			n -= l
			rs, v = uint8(e>>8), e>>16
		} else {
			if e := ac.lut[acc>>(64-lutBits)]; e != 0 {
				l := uint(e >> 8)
				acc <<= l
				n -= l
				rs = uint8(e)
			} else {
				br.acc, br.n = acc, n
				sym, err := br.decode(ac)
				if err != nil {
					return err
				}
				rs = sym
				acc, n = br.acc, br.n
			}
			if s := uint(rs & 15); s != 0 { // n >= 16 still: the code was at most 16 bits
				v = int32(acc >> (64 - s))
				acc <<= s
				n -= s
				if v < 1<<(s-1) {
					v += 1 - 1<<s
				}
			}
		}
		r := int(rs >> 4)
		if rs&15 == 0 {
			if r != 15 {
				break
			}
			k += 15
			continue
		}
		k += r
		b[zigzag[k&127]&63] = int16(v)
	}
	br.acc, br.n = acc, n
	return nil
}

// decodeValue decodes a DC difference: a size category and its magnitude bits.
func (b *bitReader) decodeValue(t *huffTable) (int32, error) {
	if b.n < 32 {
		b.fill()
	}
	if e := t.fast[b.acc>>(64-lutBits)]; e&0xFF != 0 && (e>>8)&0xFF <= 15 {
		l := uint(e & 0xFF)
		b.acc <<= l
		b.n -= l
		return e >> 16, nil
	}
	s, err := b.decode(t)
	if err != nil {
		return 0, err
	}
	if s > 16 {
		return 0, errBadHuffman
	}
	return b.receiveExtend(uint(s)), nil
}

func (d *decoder) huffDCFirst(c *component, b *[64]int16) error {
	v, err := d.bits.decodeValue(&d.dcTab[c.td])
	if err != nil {
		return err
	}
	c.dcPred += v
	b[0] = int16(c.dcPred << d.al)
	return nil
}

func (d *decoder) huffACFirst(c *component, b *[64]int16) error {
	if d.eobrun > 0 {
		d.eobrun--
		return nil
	}
	br := &d.bits
	ac := &d.acTab[c.ta]
	for k := d.ss; k <= d.se; k++ {
		rs, err := br.decode(ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), uint(rs&15)
		if s == 0 {
			if r != 15 {
				d.eobrun = 1<<r - 1
				if r > 0 {
					d.eobrun += br.bits(uint(r))
				}
				break
			}
			k += 15
			continue
		}
		k += r
		b[zigzag[min(k, 64)]] = int16(br.receiveExtend(s) << d.al)
	}
	return nil
}

// huffACRefine is the successive-approximation refinement of G.1.2.3.
func (d *decoder) huffACRefine(c *component, b *[64]int16) error {
	br := &d.bits
	p1, m1 := int16(1)<<d.al, int16(-1)<<d.al
	k := d.ss
	if d.eobrun == 0 {
		ac := &d.acTab[c.ta]
		for ; k <= d.se; k++ {
			rs, err := br.decode(ac)
			if err != nil {
				return err
			}
			r, s := int(rs>>4), int16(0)
			switch {
			case rs&15 != 0: // a new coefficient of magnitude 1 (others are invalid; libjpeg treats them so)
				s = m1
				if br.bit() {
					s = p1
				}
			case r != 15:
				d.eobrun = 1 << r
				if r > 0 {
					d.eobrun += br.bits(uint(r))
				}
			}
			if rs&15 == 0 && r != 15 {
				break
			}
			k = d.refineRun(b, k, r, p1, m1)
			if s != 0 {
				b[zigzag[min(k, 64)]] = s
			}
		}
	}
	if d.eobrun > 0 {
		for ; k <= d.se; k++ {
			if z := &b[zigzag[k]]; *z != 0 {
				refineOne(br, z, p1, m1)
			}
		}
		d.eobrun--
	}
	return nil
}

// refineRun skips r zero-history coefficients from k, refining the nonzero
// ones passed on the way, and returns the index of the (r+1)-th zero one.
func (d *decoder) refineRun(b *[64]int16, k, r int, p1, m1 int16) int {
	for ; k <= d.se; k++ {
		z := &b[zigzag[k]]
		if *z != 0 {
			refineOne(&d.bits, z, p1, m1)
		} else {
			if r == 0 {
				break
			}
			r--
		}
	}
	return k
}

func refineOne(br *bitReader, z *int16, p1, m1 int16) {
	if br.bit() && *z&p1 == 0 {
		if *z >= 0 {
			*z += p1
		} else {
			*z += m1
		}
	}
}

// resetEntropy restarts the entropy decoder at d.pos, as the start of a scan
// and every restart marker require: empty bit buffer, no pending EOB run, DC
// predictions (and the arithmetic decoder's statistics) reset.
func (d *decoder) resetEntropy() {
	d.bits.reset(d.data, d.pos)
	d.eobrun = 0
	for i := 0; i < d.nscan; i++ {
		d.comps[d.scan[i]].dcPred = 0
	}
	if d.arithmetic {
		d.arith.reset(d)
	}
}
