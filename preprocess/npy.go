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

// WriteNPY writes a float64 array ('<f8') with the given shape to w. The
// product of shape must equal len(data).
func WriteNPY(w io.Writer, shape []int, data []float64) error {
	if err := writeNPYHeader(w, shape, len(data)); err != nil {
		return err
	}
	buf := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
	}
	_, err := w.Write(buf)
	return err
}

func writeNPYHeader(w io.Writer, shape []int, n int) error {
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
	hdr := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }", shapeStr)
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
