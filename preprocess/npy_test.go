package preprocess

import (
	"encoding/binary"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// npyArray is a .npy file read by readNPY: real values in Data, complex ones
// in Complex, row-major.
type npyArray struct {
	Shape   []int
	Data    []float64
	Complex []complex128
}

var npyHeader = regexp.MustCompile(`^\{'descr': '(<f8|<c16)', 'fortran_order': (True|False), 'shape': \(([0-9, ]*)\), \}`)

// readNPY reads the .npy files of the tests, WriteNPY's and numpy's goldens:
// format 1.0, float64 or complex128, C order or (2-D) Fortran order, which
// it reorders to C order.
func readNPY(t testing.TB, data []byte) *npyArray {
	t.Helper()
	require.True(t, len(data) >= 10 && string(data[:8]) == "\x93NUMPY\x01\x00", "want a .npy 1.0 file")
	end := 10 + int(binary.LittleEndian.Uint16(data[8:10]))
	require.LessOrEqual(t, end, len(data), "truncated .npy header")
	m := npyHeader.FindStringSubmatch(string(data[10:end]))
	require.NotNil(t, m, "unexpected .npy header %q", data[10:end])
	a := &npyArray{Shape: []int{}}
	n := 1
	for _, s := range strings.Split(m[3], ",") {
		if s = strings.TrimSpace(s); s != "" {
			d, err := strconv.Atoi(s)
			require.NoError(t, err)
			a.Shape = append(a.Shape, d)
			n *= d
		}
	}
	body, le := data[end:], binary.LittleEndian
	if m[1] == "<f8" {
		require.Len(t, body, 8*n)
		a.Data = make([]float64, n)
		for i := range a.Data {
			a.Data[i] = math.Float64frombits(le.Uint64(body[8*i:]))
		}
	} else {
		require.Len(t, body, 16*n)
		a.Complex = make([]complex128, n)
		for i := range a.Complex {
			a.Complex[i] = complex(math.Float64frombits(le.Uint64(body[16*i:])), math.Float64frombits(le.Uint64(body[16*i+8:])))
		}
	}
	if m[2] == "True" && n > 0 {
		require.Len(t, a.Shape, 2, "Fortran order: 2-D arrays only")
		a.Data = fromFortran(a.Data, a.Shape[0], a.Shape[1])
		a.Complex = fromFortran(a.Complex, a.Shape[0], a.Shape[1])
	}
	return a
}

// fromFortran reorders an h×w column-major array to row-major (nil stays nil).
func fromFortran[T any](v []T, h, w int) []T {
	if v == nil {
		return nil
	}
	out := make([]T, len(v))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out[y*w+x] = v[x*h+y]
		}
	}
	return out
}
