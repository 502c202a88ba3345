package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	in := map[string]Tensor{
		"a/kernel": {Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		"scalar":   {Shape: []int{}, Data: []float32{7}},
	}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, in, map[string]string{"arch": "resnet18"}))
	out, md, err := Parse(buf.Bytes())
	require.NoError(t, err)
	require.Equal(t, "resnet18", md["arch"])
	require.Equal(t, in["a/kernel"], out["a/kernel"])
	require.Equal(t, []float32{7}, out["scalar"].Data)
}

func TestHalf(t *testing.T) {
	for _, tc := range []struct {
		h uint16
		f float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x3555, 0.33325195}, {0x0001, 5.9604645e-08}, {0, 0}} {
		require.Equal(t, tc.f, halfToFloat(tc.h))
	}
}

func TestParseErrors(t *testing.T) {
	hdr := func(s string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(s)))
		return append(b, s...)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2}, "too short"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40), "out of range"},
		{"bad json", hdr("{"), "bad header"},
		{"dtype", hdr(`{"x":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`), "unsupported dtype"},
		{"offsets", hdr(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`), "data offsets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(tc.data)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	_ = Write(&buf, map[string]Tensor{"a": {Shape: []int{2}, Data: []float32{1, 2}}}, nil)
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, md, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses is consistent and survives a Write and Parse unchanged (as float32, bit
		// for bit: F16 and BF16 values widen exactly).
		for name, tensor := range ts {
			require.Equal(t, tensor.NumElements(), len(tensor.Data), "%s: shape %v", name, tensor.Shape)
		}
		var buf bytes.Buffer
		require.NoError(t, Write(&buf, ts, md))
		ts2, md2, err := Parse(buf.Bytes())
		require.NoError(t, err)
		require.Equal(t, len(md), len(md2))
		for k, v := range md {
			require.Equal(t, v, md2[k], "metadata %q", k)
		}
		require.Equal(t, len(ts), len(ts2))
		for name, tensor := range ts {
			got, ok := ts2[name]
			require.True(t, ok, "tensor %q lost", name)
			require.Equal(t, tensor.NumElements(), got.NumElements(), name)
			require.Equal(t, float32Bits(tensor.Data), float32Bits(got.Data), name)
		}
	})
}

func float32Bits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}
