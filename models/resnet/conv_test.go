package resnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// convGoBackend is the pure-Go backend shared by the convolution tests. It executes ops one at a time:
// compute v0.1.6 can deadlock when several convolutions run at once, each waiting for the worker pool
// the others hold.
var convGoBackend = sync.OnceValue(func() compute.Backend {
	b, err := gobackend.New("ops_sequential")
	if err != nil {
		panic(err)
	}
	return b
})

// convRandom returns a float32 tensor of the given dimensions with values uniform in [-1, 1).
func convRandom(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// convRelErr returns ||got-want|| / ||want|| and requires equal shapes.
func convRelErr(t *testing.T, got, want *tensors.Tensor) float64 {
	t.Helper()
	require.True(t, got.Shape().Equal(want.Shape()), "shape %s != %s", got.Shape(), want.Shape())
	g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
	var num, den float64
	for i := range g {
		d := float64(g[i]) - float64(w[i])
		num += d * d
		den += float64(w[i]) * float64(w[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// convReference computes, with plain loops in float64, y = conv(x, k) and the gradients of sum(y*r)
// w.r.t. x and k: the slow, obviously correct version the fast paths are checked against.
func convReference(x, k, r *tensors.Tensor, stride, padding int) []*tensors.Tensor {
	xd, kd := x.Shape().Dimensions, k.Shape().Dimensions
	B, H, W, C := xd[0], xd[1], xd[2], xd[3]
	KH, KW, O := kd[0], kd[1], kd[3]
	Ho, Wo := (H+2*padding-KH)/stride+1, (W+2*padding-KW)/stride+1
	xv, kv, rv := tensors.MustCopyFlatData[float32](x), tensors.MustCopyFlatData[float32](k), tensors.MustCopyFlatData[float32](r)
	y, dx, dk := make([]float64, B*Ho*Wo*O), make([]float64, len(xv)), make([]float64, len(kv))
	for b := range B {
		for oh := range Ho {
			for ow := range Wo {
				yo := ((b*Ho+oh)*Wo + ow) * O
				for i := range KH {
					for j := range KW {
						h, w := oh*stride-padding+i, ow*stride-padding+j
						if h < 0 || h >= H || w < 0 || w >= W {
							continue
						}
						for c := range C {
							xi := ((b*H+h)*W+w)*C + c
							for o := range O {
								ki := ((i*KW+j)*C+c)*O + o
								y[yo+o] += float64(xv[xi]) * float64(kv[ki])
								dx[xi] += float64(rv[yo+o]) * float64(kv[ki])
								dk[ki] += float64(rv[yo+o]) * float64(xv[xi])
							}
						}
					}
				}
			}
		}
	}
	to32 := func(v []float64, dims ...int) *tensors.Tensor {
		f := make([]float32, len(v))
		for i := range v {
			f[i] = float32(v[i])
		}
		return tensors.FromFlatDataAndDimensions(f, dims...)
	}
	return []*tensors.Tensor{to32(y, B, Ho, Wo, O), to32(dx, xd...), to32(dk, kd...)}
}

// convForwardBackward runs y = Conv2D(x, k) in dtype dt, loss = sum(y*r), and returns y, dloss/dx,
// dloss/dk as float32.
func convForwardBackward(t *testing.T, dt dtypes.DType, x, k, r *tensors.Tensor, stride, padding int) []*tensors.Tensor {
	t.Helper()
	exec, err := NewExec(convGoBackend(), func(x, k, r *Node) []*Node {
		x, k, r = ConvertDType(x, dt), ConvertDType(k, dt), ConvertDType(r, dt)
		y := Conv2D(x, k, stride, padding)
		grads := Gradient(ReduceAllSum(Mul(y, r)), x, k)
		return []*Node{ConvertDType(y, dtypes.Float32), ConvertDType(grads[0], dtypes.Float32), ConvertDType(grads[1], dtypes.Float32)}
	})
	require.NoError(t, err)
	out, err := exec.Exec(x, k, r)
	require.NoError(t, err)
	return out
}

// roundToBFloat16 returns t's values rounded to bfloat16, as float32: the exact inputs of a bfloat16 run.
func roundToBFloat16(t *tensors.Tensor) *tensors.Tensor {
	v := tensors.MustCopyFlatData[float32](t)
	for i := range v {
		v[i] = bfloat16.FromFloat32(v[i]).Float32()
	}
	return tensors.FromFlatDataAndDimensions(v, t.Shape().Dimensions...)
}

// convCase is one convolution of the tests: kernel size, stride, padding, input size and channels.
type convCase struct {
	name                   string
	k, stride, pad         int
	h, w, cin, cout, batch int
}

// convCases are the convolutions the tests check: every kernel/stride/padding ResNet uses, on odd, even
// and non-square images, plus a few other geometries.
var convCases = []convCase{
	{"7x7s2p3_stem", 7, 2, 3, 11, 10, 3, 8, 2},
	{"7x7s2p3_even", 7, 2, 3, 8, 8, 3, 4, 1},
	{"3x3s1p1", 3, 1, 1, 9, 10, 4, 5, 2},
	{"3x3s1p1_tiny", 3, 1, 1, 2, 1, 3, 2, 1},
	{"3x3s2p1_odd", 3, 2, 1, 9, 7, 4, 6, 2},
	{"3x3s2p1_even", 3, 2, 1, 8, 10, 5, 3, 2},
	{"1x1s1", 1, 1, 0, 6, 5, 7, 9, 2},
	{"1x1s2_odd", 1, 2, 0, 7, 9, 4, 6, 2},
	{"1x1s2_even", 1, 2, 0, 6, 6, 8, 4, 1},
	{"3x3s1p0_valid", 3, 1, 0, 6, 7, 3, 4, 1},
	{"5x5s2p2", 5, 2, 2, 9, 8, 2, 3, 1},
	{"3x3s1p1_wide", 3, 1, 1, 6, 6, 40, 48, 2},
}

// TestConv2DMatchesReference checks Conv2D (forward, and gradients w.r.t. input and kernel) against the
// plain-loop reference, in float32 and in bfloat16 (inputs rounded to bfloat16, so that only the
// computation's own rounding counts: float32 sums, one rounding of each result to 8 bits).
func TestConv2DMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range convCases {
		for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.BFloat16} {
			t.Run(fmt.Sprintf("%s/%s", c.name, dt), func(t *testing.T) {
				ho, wo := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
				x := convRandom(rng, c.batch, c.h, c.w, c.cin)
				k := convRandom(rng, c.k, c.k, c.cin, c.cout)
				r := convRandom(rng, c.batch, ho, wo, c.cout)
				tol := 1e-5
				if dt == dtypes.BFloat16 {
					x, k, r, tol = roundToBFloat16(x), roundToBFloat16(k), roundToBFloat16(r), 4e-3
				}
				ref := convReference(x, k, r, c.stride, c.pad)
				got := convForwardBackward(t, dt, x, k, r, c.stride, c.pad)
				for i, name := range []string{"y", "dx", "dkernel"} {
					e := convRelErr(t, got[i], ref[i])
					require.Less(t, e, tol, "%s: relative error %.3g vs the reference", name, e)
				}
			})
		}
	}
}

// TestConv2DPanics checks the programmer-error messages of graph building.
func TestConv2DPanics(t *testing.T) {
	cases := []struct {
		name          string
		x, k          []int
		kdt           dtypes.DType
		stride, pad   int
		wantSubstring string
	}{
		{"rank", []int{4, 4, 2}, []int{3, 3, 2, 3}, dtypes.Float32, 1, 1, "want x [batch,H,W,Cin]"},
		{"channels", []int{1, 4, 4, 2}, []int{3, 3, 5, 3}, dtypes.Float32, 1, 1, "x has 2 channels"},
		{"dtype", []int{1, 4, 4, 2}, []int{3, 3, 2, 3}, dtypes.BFloat16, 1, 1, "x dtype Float32 != kernel dtype BFloat16"},
		{"stride", []int{1, 4, 4, 2}, []int{3, 3, 2, 3}, dtypes.Float32, 0, 1, "stride 0 must be >= 1"},
		{"padding", []int{1, 4, 4, 2}, []int{3, 3, 2, 3}, dtypes.Float32, 1, -1, "padding -1 >= 0"},
		{"kernel_too_big", []int{1, 2, 2, 2}, []int{7, 7, 2, 3}, dtypes.Float32, 1, 1, "larger than padded input 4x4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewGraph(convGoBackend(), "panics")
			defer g.Finalize()
			x := Parameter(g, "x", shapes.Make(dtypes.Float32, c.x...))
			k := Parameter(g, "k", shapes.Make(c.kdt, c.k...))
			var msg string
			func() {
				defer func() { msg = fmt.Sprint(recover()) }()
				Conv2D(x, k, c.stride, c.pad)
			}()
			require.Contains(t, msg, c.wantSubstring)
		})
	}
}
