package resnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// convGoBackend is the pure-Go backend shared by the convolution tests and benchmarks.
var convGoBackend = sync.OnceValue(func() compute.Backend {
	b, err := gobackend.New("")
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

// convForwardBackward runs y = Conv2DWith(impl, x, k), loss = sum(y*r), and returns y, dloss/dx, dloss/dk.
func convForwardBackward(t *testing.T, impl ConvImpl, x, k, r *tensors.Tensor, stride, padding int) []*tensors.Tensor {
	t.Helper()
	exec, err := NewExec(convGoBackend(), func(x, k, r *Node) []*Node {
		y := Conv2DWith(impl, x, k, stride, padding)
		grads := Gradient(ReduceAllSum(Mul(y, r)), x, k)
		return []*Node{y, grads[0], grads[1]}
	})
	require.NoError(t, err)
	out, err := exec.Exec(x, k, r)
	require.NoError(t, err)
	return out
}

// TestConv2DGatherMatchesNative checks the gather path against the backend's native ConvGeneral
// (forward, and gradients w.r.t. input and kernel) for every kernel/stride/padding ResNet uses, on odd,
// even and non-square images.
func TestConv2DGatherMatchesNative(t *testing.T) {
	cases := []struct {
		name                   string
		k, stride, pad         int
		h, w, cin, cout, batch int
	}{
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
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ho, wo := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
			x := convRandom(rng, c.batch, c.h, c.w, c.cin)
			k := convRandom(rng, c.k, c.k, c.cin, c.cout)
			r := convRandom(rng, c.batch, ho, wo, c.cout)
			want := convForwardBackward(t, ConvNative, x, k, r, c.stride, c.pad)
			got := convForwardBackward(t, ConvGather, x, k, r, c.stride, c.pad)
			for i, name := range []string{"y", "dx", "dkernel"} {
				e := convRelErr(t, got[i], want[i])
				require.Less(t, e, 1e-4, "%s relative error %.3g", name, e)
			}
		})
	}
}

// TestConv2DGatherChained checks gradients through a residual-style graph with several gather
// convolutions sharing inputs, and a gradient taken w.r.t. the kernels only.
func TestConv2DGatherChained(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := convRandom(rng, 2, 8, 8, 4)
	k1 := convRandom(rng, 3, 3, 4, 4)
	k2 := convRandom(rng, 1, 1, 4, 6)
	k3 := convRandom(rng, 3, 3, 4, 6)
	run := func(impl ConvImpl) []*tensors.Tensor {
		exec, err := NewExec(convGoBackend(), func(x, k1, k2, k3 *Node) []*Node {
			a := Conv2DWith(impl, x, k1, 1, 1)
			a = Add(a, x)                                                          // residual reuse of x
			y := Add(Conv2DWith(impl, a, k2, 2, 0), Conv2DWith(impl, a, k3, 2, 1)) // a feeds two convs
			loss := ReduceAllSum(Mul(y, y))
			return Gradient(loss, k1, k2, k3)
		})
		require.NoError(t, err)
		out, err := exec.Exec(x, k1, k2, k3)
		require.NoError(t, err)
		return out
	}
	want, got := run(ConvNative), run(ConvGather)
	for i := range want {
		e := convRelErr(t, got[i], want[i])
		require.Less(t, e, 1e-4, "dk%d relative error %.3g", i+1, e)
	}
}

func TestConvImplSelection(t *testing.T) {
	g := NewGraph(convGoBackend(), "select")
	require.Equal(t, ConvGather, ConvImplFor(g))
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, 1, 4, 4, 2))
	k := Parameter(g, "k", shapes.Make(dtypes.Float32, 3, 3, 2, 3))
	y := Conv2D(x, k, 1, 1)
	require.Equal(t, []int{1, 4, 4, 3}, y.Shape().Dimensions)
	g.Finalize()
}

func TestParseConvImpl(t *testing.T) {
	for _, c := range []ConvImpl{ConvAuto, ConvNative, ConvGather} {
		t.Run(c.String(), func(t *testing.T) {
			got, err := ParseConvImpl(c.String())
			require.NoError(t, err)
			require.Equal(t, c, got)
		})
	}
	_, err := ParseConvImpl("winograd")
	require.ErrorContains(t, err, `resnet: unknown convolution implementation "winograd"`)
}

// TestConv2DPanics checks the programmer-error messages of graph building.
func TestConv2DPanics(t *testing.T) {
	cases := []struct {
		name          string
		x, k          []int
		stride, pad   int
		wantSubstring string
	}{
		{"rank", []int{4, 4, 2}, []int{3, 3, 2, 3}, 1, 1, "want x [batch,H,W,Cin]"},
		{"channels", []int{1, 4, 4, 2}, []int{3, 3, 5, 3}, 1, 1, "x has 2 channels"},
		{"stride", []int{1, 4, 4, 2}, []int{3, 3, 2, 3}, 0, 1, "stride 0 must be >= 1"},
		{"padding", []int{1, 4, 4, 2}, []int{3, 3, 2, 3}, 1, -1, "padding -1 >= 0"},
		{"kernel_too_big", []int{1, 2, 2, 2}, []int{7, 7, 2, 3}, 1, 1, "larger than padded input 4x4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewGraph(convGoBackend(), "panics")
			defer g.Finalize()
			x := Parameter(g, "x", shapes.Make(dtypes.Float32, c.x...))
			k := Parameter(g, "k", shapes.Make(dtypes.Float32, c.k...))
			var msg string
			func() {
				defer func() { msg = fmt.Sprint(recover()) }()
				Conv2DWith(ConvGather, x, k, c.stride, c.pad)
			}()
			require.Contains(t, msg, c.wantSubstring)
		})
	}
}

// TestConvIndices checks the index tables against a direct definition on one small geometry:
// every (output pixel, tap) pair of im2col must appear, mirrored, in col2im.
func TestConvIndices(t *testing.T) {
	for _, g := range []convGeom{
		{B: 2, H: 5, W: 4, C: 1, Cout: 1, KH: 3, KW: 3, S: 2, P: 1},
		{B: 1, H: 7, W: 7, C: 1, Cout: 1, KH: 7, KW: 7, S: 2, P: 3},
		{B: 1, H: 4, W: 3, C: 1, Cout: 1, KH: 3, KW: 3, S: 1, P: 1},
	} {
		g.Ho, g.Wo = (g.H+2*g.P-g.KH)/g.S+1, (g.W+2*g.P-g.KW)/g.S+1
		t.Run(fmt.Sprintf("%dx%ds%dp%d", g.KH, g.KW, g.S, g.P), func(t *testing.T) {
			fwd, bwd := im2colIndices(g), col2imIndices(g)
			T := g.taps()
			pairs := map[[2]int32]int{} // (input row, output row) -> tap
			for o := range g.B * g.Ho * g.Wo {
				for tap := range T {
					if in := fwd[o*T+tap]; in != int32(g.B*g.H*g.W) {
						pairs[[2]int32{in, int32(o)}] = tap
					}
				}
			}
			n := 0
			for in := range g.B * g.H * g.W {
				for tap := range T {
					if o := bwd[in*T+tap]; o != int32(g.B*g.Ho*g.Wo) {
						got, ok := pairs[[2]int32{int32(in), o}]
						require.True(t, ok, "col2im pair (%d,%d) missing from im2col", in, o)
						require.Equal(t, tap, got)
						n++
					}
				}
			}
			require.Equal(t, len(pairs), n)
		})
	}
}
