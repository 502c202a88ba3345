// Package safetensors reads and writes the safetensors format used by
// Hugging Face and timm: an 8-byte little-endian header length, a JSON header
// mapping tensor names to {dtype, shape, data_offsets}, then the raw data.
//
// Tensors are exchanged as float32; F16, BF16 and F64 files are converted on
// read.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// Tensor is a dense float32 tensor in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NumElements returns the product of the dimensions.
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

type entry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// maxHeader bounds the JSON header so a corrupt length cannot exhaust memory.
const maxHeader = 100 << 20

// Write writes tensors (and optional string metadata) in safetensors format,
// names in sorted order.
func Write(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, n := range names {
		t := tensors[n]
		if t.NumElements() != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v needs %d values, has %d", n, t.Shape, t.NumElements(), len(t.Data))
		}
		size := int64(len(t.Data)) * 4
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[n] = entry{DType: "F32", Shape: shape, Offsets: [2]int64{off, off + size}}
		off += size
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hb); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, n := range names {
		for _, v := range tensors[n].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) >= 1<<16 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err = w.Write(buf)
	return err
}

// ReadFile reads every tensor of a safetensors file and its metadata.
func ReadFile(path string) (map[string]Tensor, map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	ts, md, err := Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return ts, md, nil
}

// Parse decodes a whole safetensors file held in memory.
func Parse(data []byte) (map[string]Tensor, map[string]string, error) {
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("file too short (%d bytes)", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data[:8])
	if hlen > maxHeader || hlen > uint64(len(data)-8) {
		return nil, nil, fmt.Errorf("header length %d out of range (file has %d bytes)", hlen, len(data))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+hlen], &raw); err != nil {
		return nil, nil, fmt.Errorf("bad header: %w", err)
	}
	body := data[8+hlen:]
	tensors := make(map[string]Tensor, len(raw))
	var metadata map[string]string
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &metadata); err != nil {
				return nil, nil, fmt.Errorf("bad __metadata__: %w", err)
			}
			continue
		}
		t, err := parseTensor(name, msg, body)
		if err != nil {
			return nil, nil, err
		}
		tensors[name] = t
	}
	return tensors, metadata, nil
}

// parseTensor decodes the header entry msg of tensor name and its data,
// which must lie in body, to float32.
func parseTensor(name string, msg json.RawMessage, body []byte) (Tensor, error) {
	var e entry
	if err := json.Unmarshal(msg, &e); err != nil {
		return Tensor{}, fmt.Errorf("tensor %q: bad entry: %w", name, err)
	}
	n := 1
	for _, d := range e.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return Tensor{}, fmt.Errorf("tensor %q: bad shape %v", name, e.Shape)
		}
		n *= d
	}
	var width int64
	switch e.DType {
	case "F32":
		width = 4
	case "F16", "BF16":
		width = 2
	case "F64":
		width = 8
	default:
		return Tensor{}, fmt.Errorf("tensor %q: unsupported dtype %s", name, e.DType)
	}
	start, end := e.Offsets[0], e.Offsets[1]
	if start < 0 || end < start || end > int64(len(body)) || end-start != int64(n)*width {
		return Tensor{}, fmt.Errorf("tensor %q: data offsets %v do not match shape %v %s (body %d bytes)", name, e.Offsets, e.Shape, e.DType, len(body))
	}
	b := body[start:end]
	out := make([]float32, n)
	for i := range out {
		switch e.DType {
		case "F32":
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		case "F64":
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		case "BF16":
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		case "F16":
			out[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
	}
	return Tensor{Shape: append([]int{}, e.Shape...), Data: out}, nil
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal half: value = mant * 2^-24.
		f := float32(mant) * float32(math.Ldexp(1, -24))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	default:
		return math.Float32frombits(sign | uint32(exp-15+127)<<23 | mant<<13)
	}
}
