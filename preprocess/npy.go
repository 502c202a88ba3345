package preprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// NPY is an array read from or written to a NumPy .npy file (format 1.0/2.0,
// C order). Real data is in Data; complex data (dtype <c16/<c8) in Complex.
type NPY struct {
	Shape   []int
	Data    []float64
	Complex []complex128
}

// WriteNPY writes a float64 array ('<f8') with the given shape to w. The
// product of shape must equal len(data).
func WriteNPY(w io.Writer, shape []int, data []float64) error {
	if err := writeNPYHeader(w, "<f8", shape, len(data)); err != nil {
		return err
	}
	buf := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
	}
	_, err := w.Write(buf)
	return err
}

// WriteNPYComplex writes a complex128 array ('<c16') with the given shape.
func WriteNPYComplex(w io.Writer, shape []int, data []complex128) error {
	if err := writeNPYHeader(w, "<c16", shape, len(data)); err != nil {
		return err
	}
	buf := make([]byte, 16*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(buf[16*i:], math.Float64bits(real(v)))
		binary.LittleEndian.PutUint64(buf[16*i+8:], math.Float64bits(imag(v)))
	}
	_, err := w.Write(buf)
	return err
}

func writeNPYHeader(w io.Writer, dtype string, shape []int, n int) error {
	total := 1
	dims := make([]string, len(shape))
	for i, d := range shape {
		total *= d
		dims[i] = strconv.Itoa(d)
	}
	if total != n {
		return fmt.Errorf("preprocess: npy shape %v holds %d values, got %d", shape, total, n)
	}
	shapeStr := strings.Join(dims, ", ")
	if len(shape) == 1 {
		shapeStr += ","
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", dtype, shapeStr)
	// Magic (6) + version (2) + length (2) + header + '\n' padded to 64 bytes.
	pad := 64 - (10+len(hdr)+1)%64
	if pad == 64 {
		pad = 0
	}
	hdr += strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	if len(hdr) > math.MaxUint16 {
		return errors.New("preprocess: npy header too long")
	}
	binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	_, err := w.Write(b.Bytes())
	return err
}

// ReadNPY parses a .npy file holding little-endian float64/float32/uint8/
// int32/int64 ('<f8', '<f4', '|u1', '<i4', '<i8'; real values go to Data)
// or complex ('<c16', '<c8'; to Complex), version 1, 2 or 3. Fortran-order
// arrays are reordered to C order.
func ReadNPY(data []byte) (*NPY, error) {
	if len(data) < 10 || string(data[:6]) != "\x93NUMPY" {
		return nil, errors.New("preprocess: npy: bad magic")
	}
	var hlen, off int
	switch data[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(data[8:10])), 10
	case 2, 3:
		if len(data) < 12 {
			return nil, errors.New("preprocess: npy: truncated header")
		}
		hlen, off = int(binary.LittleEndian.Uint32(data[8:12])), 12
	default:
		return nil, fmt.Errorf("preprocess: npy: unsupported version %d", data[6])
	}
	if hlen < 0 || off+hlen > len(data) {
		return nil, errors.New("preprocess: npy: truncated header")
	}
	hdr := string(data[off : off+hlen])
	body := data[off+hlen:]
	descr, err := npyField(hdr, "descr")
	if err != nil {
		return nil, err
	}
	descr = strings.Trim(descr, "'\"")
	fo, err := npyField(hdr, "fortran_order")
	if err != nil {
		return nil, err
	}
	if fo != "False" && fo != "True" {
		return nil, fmt.Errorf("preprocess: npy: bad fortran_order %q", fo)
	}
	shapeStr, err := npyField(hdr, "shape")
	if err != nil {
		return nil, err
	}
	shapeStr = strings.Trim(shapeStr, "() ")
	out := &NPY{Shape: []int{}}
	n := 1
	for _, s := range strings.Split(shapeStr, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		d, err := strconv.Atoi(s)
		if err != nil || d < 0 || d > 1<<31 {
			return nil, fmt.Errorf("preprocess: npy: bad shape %q", shapeStr)
		}
		if d > 0 && n > (1<<40)/d {
			return nil, fmt.Errorf("preprocess: npy: shape %q too large", shapeStr)
		}
		n *= d
		out.Shape = append(out.Shape, d)
	}
	size := map[string]int{"<f8": 8, "<f4": 4, "|u1": 1, "<u1": 1, "<i4": 4, "<i8": 8, "<c16": 16, "<c8": 8}[descr]
	if size == 0 {
		return nil, fmt.Errorf("preprocess: npy: unsupported dtype %q", descr)
	}
	if len(body) < n*size {
		return nil, fmt.Errorf("preprocess: npy: data has %d bytes, shape %v needs %d", len(body), out.Shape, n*size)
	}
	le := binary.LittleEndian
	switch descr {
	case "<c16", "<c8":
		out.Complex = make([]complex128, n)
		for i := range out.Complex {
			if descr == "<c16" {
				out.Complex[i] = complex(math.Float64frombits(le.Uint64(body[16*i:])), math.Float64frombits(le.Uint64(body[16*i+8:])))
			} else {
				out.Complex[i] = complex(float64(math.Float32frombits(le.Uint32(body[8*i:]))), float64(math.Float32frombits(le.Uint32(body[8*i+4:]))))
			}
		}
	default:
		out.Data = make([]float64, n)
		for i := range out.Data {
			switch descr {
			case "<f8":
				out.Data[i] = math.Float64frombits(le.Uint64(body[8*i:]))
			case "<f4":
				out.Data[i] = float64(math.Float32frombits(le.Uint32(body[4*i:])))
			case "|u1", "<u1":
				out.Data[i] = float64(body[i])
			case "<i4":
				out.Data[i] = float64(int32(le.Uint32(body[4*i:])))
			case "<i8":
				out.Data[i] = float64(int64(le.Uint64(body[8*i:])))
			}
		}
	}
	if fo == "True" && len(out.Shape) > 1 {
		out.toCOrder()
	}
	return out, nil
}

// toCOrder reorders column-major (Fortran) data into row-major order.
func (a *NPY) toCOrder() {
	n := len(a.Data) + len(a.Complex)
	idx := make([]int, n) // idx[c] = Fortran position of C position c
	nd := len(a.Shape)
	coord := make([]int, nd)
	for c := 0; c < n; c++ {
		f, stride := 0, 1
		for d := 0; d < nd; d++ {
			f += coord[d] * stride
			stride *= a.Shape[d]
		}
		idx[c] = f
		for d := nd - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < a.Shape[d] {
				break
			}
			coord[d] = 0
		}
	}
	if a.Data != nil {
		src := a.Data
		a.Data = make([]float64, n)
		for c, f := range idx {
			a.Data[c] = src[f]
		}
	}
	if a.Complex != nil {
		src := a.Complex
		a.Complex = make([]complex128, n)
		for c, f := range idx {
			a.Complex[c] = src[f]
		}
	}
}

// npyField extracts the raw value of key from a header dict literal.
func npyField(hdr, key string) (string, error) {
	i := strings.Index(hdr, "'"+key+"'")
	if i < 0 {
		return "", fmt.Errorf("preprocess: npy: header lacks %q", key)
	}
	rest := strings.TrimLeft(hdr[i+len(key)+2:], " ")
	if !strings.HasPrefix(rest, ":") {
		return "", fmt.Errorf("preprocess: npy: malformed header near %q", key)
	}
	rest = strings.TrimLeft(rest[1:], " ")
	if strings.HasPrefix(rest, "(") {
		j := strings.Index(rest, ")")
		if j < 0 {
			return "", errors.New("preprocess: npy: unterminated shape")
		}
		return rest[:j+1], nil
	}
	j := strings.IndexAny(rest, ",}")
	if j < 0 {
		return "", fmt.Errorf("preprocess: npy: malformed header near %q", key)
	}
	return strings.TrimSpace(rest[:j]), nil
}

// Plane returns the array as a Plane when it is 2-D real ([H, W]).
func (a *NPY) Plane() (*Plane, error) {
	if len(a.Shape) != 2 || a.Data == nil {
		return nil, fmt.Errorf("preprocess: npy: want a 2-D real array, got shape %v", a.Shape)
	}
	return &Plane{W: a.Shape[1], H: a.Shape[0], Pix: a.Data}, nil
}
