//go:build onnx

package resnet

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/stretchr/testify/require"
)

// gatherForwardBackward runs y = gatherConv2D(x, k) on backend, loss = sum(y*r), and returns y, dloss/dx,
// dloss/dk.
func gatherForwardBackward(t *testing.T, backend compute.Backend, x, k, r *tensors.Tensor, stride, padding int) []*tensors.Tensor {
	t.Helper()
	exec, err := NewExec(backend, func(x, k, r *Node) []*Node {
		checkConv2D(x, k, stride, padding)
		y := gatherConv2D(x, k, newConvGeom(x, k, stride, padding))
		grads := Gradient(ReduceAllSum(Mul(y, r)), x, k)
		return []*Node{y, grads[0], grads[1]}
	})
	require.NoError(t, err)
	out, err := exec.Exec(x, k, r)
	require.NoError(t, err)
	return out
}

// TestGatherConv2DMatchesReference checks the gather convolution (forward, and gradients w.r.t. input and
// kernel) against the plain-loop reference on the pure-Go backend, for the convCases geometries and one
// strided convolution that leaves input pixels unread.
func TestGatherConv2DMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := append(slices.Clone(convCases), convCase{"2x2s3p0_untouched_pixels", 2, 3, 0, 8, 7, 3, 4, 2})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ho, wo := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
			x := convRandom(rng, c.batch, c.h, c.w, c.cin)
			k := convRandom(rng, c.k, c.k, c.cin, c.cout)
			r := convRandom(rng, c.batch, ho, wo, c.cout)
			ref := convReference(x, k, r, c.stride, c.pad)
			got := gatherForwardBackward(t, convGoBackend(), x, k, r, c.stride, c.pad)
			for i, name := range []string{"y", "dx", "dkernel"} {
				e := convRelErr(t, got[i], ref[i])
				require.Less(t, e, 1e-5, "gather %s: relative error %.3g vs the reference", name, e)
			}
		})
	}
}

// TestGatherConv2DChained checks gradients through a residual-style graph with several gather
// convolutions sharing inputs, and a gradient taken w.r.t. the kernels only, against GoMLX's Convolve.
func TestGatherConv2DChained(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := convRandom(rng, 2, 8, 8, 4)
	k1 := convRandom(rng, 3, 3, 4, 4)
	k2 := convRandom(rng, 1, 1, 4, 6)
	k3 := convRandom(rng, 3, 3, 4, 6)
	run := func(conv func(x, k *Node, stride, padding int) *Node) []*tensors.Tensor {
		exec, err := NewExec(convGoBackend(), func(x, k1, k2, k3 *Node) []*Node {
			a := Add(conv(x, k1, 1, 1), x)                 // residual reuse of x
			y := Add(conv(a, k2, 2, 0), conv(a, k3, 2, 1)) // a feeds two convs
			return Gradient(ReduceAllSum(Mul(y, y)), k1, k2, k3)
		})
		require.NoError(t, err)
		out, err := exec.Exec(x, k1, k2, k3)
		require.NoError(t, err)
		return out
	}
	gather := func(x, k *Node, stride, padding int) *Node {
		return gatherConv2D(x, k, newConvGeom(x, k, stride, padding))
	}
	want, got := run(Conv2D), run(gather)
	for i := range want {
		e := convRelErr(t, got[i], want[i])
		require.Less(t, e, 1e-4, "dk%d relative error %.3g", i+1, e)
	}
}

// TestConvIndices checks the index tables against each other on small geometries: every (input pixel,
// output pixel, tap) triple of im2col must appear exactly once in the residue-class col2im tables, and the
// class order must be a permutation of the pixels.
func TestConvIndices(t *testing.T) {
	for _, g := range []convGeom{
		{B: 2, H: 5, W: 4, C: 1, Cout: 1, KH: 3, KW: 3, S: 2, P: 1},
		{B: 1, H: 7, W: 7, C: 1, Cout: 1, KH: 7, KW: 7, S: 2, P: 3},
		{B: 1, H: 4, W: 3, C: 1, Cout: 1, KH: 3, KW: 3, S: 1, P: 1},
		{B: 1, H: 8, W: 7, C: 1, Cout: 1, KH: 2, KW: 2, S: 3, P: 0},
	} {
		g.Ho, g.Wo = (g.H+2*g.P-g.KH)/g.S+1, (g.W+2*g.P-g.KW)/g.S+1
		t.Run(fmt.Sprintf("%dx%ds%dp%d", g.KH, g.KW, g.S, g.P), func(t *testing.T) {
			fwd := im2colIndices(g)
			T := g.taps()
			want := map[[3]int]bool{} // (input row, output row, tap)
			for o := range g.B * g.Ho * g.Wo {
				for tap := range T {
					if in := fwd[o*T+tap]; in != int32(g.B*g.H*g.W) {
						want[[3]int{int(in), o, tap}] = true
					}
				}
			}
			got := map[[3]int]bool{}
			order := classOrderIndices(g)
			seen := make([]bool, len(order))
			row := 0
			for rh := range g.S {
				for rw := range g.S {
					taps := classTaps(g, rh, rw)
					idx := col2imIndices(g, rh, rw)
					n := 0
					for b := range g.B {
						for h := rh; h < g.H; h += g.S {
							for w := rw; w < g.W; w += g.S {
								in := (b*g.H+h)*g.W + w
								require.Equal(t, int32(row), order[in], "class order of pixel %d", in)
								require.False(t, seen[order[in]])
								seen[order[in]] = true
								row++
								for k, tap := range taps {
									if o := idx[n*len(taps)+k]; o != int32(g.B*g.Ho*g.Wo) {
										key := [3]int{in, int(o), int(tap)}
										require.False(t, got[key], "duplicate %v", key)
										got[key] = true
									}
								}
								n++
							}
						}
					}
					require.Equal(t, n*len(taps), len(idx))
				}
			}
			require.Equal(t, want, got)
		})
	}
}

// TestConv2DOnONNXRuntime checks Conv2D (forward and gradients) against the plain-loop reference on the
// backend named by $GOCLS_CONV_TEST_BACKEND, "onnxruntime" (which needs ONNX Runtime's library); skipped
// when unset.
func TestConv2DOnONNXRuntime(t *testing.T) {
	config := os.Getenv("GOCLS_CONV_TEST_BACKEND")
	if config == "" {
		t.Skip("set GOCLS_CONV_TEST_BACKEND=onnxruntime (with ONNX Runtime's library installed) to run")
	}
	backend, err := compute.NewWithConfig(config)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range [][4]int{{7, 2, 3, 3}, {3, 1, 1, 4}, {3, 2, 1, 6}, {1, 1, 0, 4}, {1, 2, 0, 8}} {
		k, s, p, cin := c[0], c[1], c[2], c[3]
		t.Run(fmt.Sprintf("%dx%ds%dp%d", k, k, s, p), func(t *testing.T) {
			const h, w, cout = 9, 8, 5
			x := convRandom(rng, 2, h, w, cin)
			kt := convRandom(rng, k, k, cin, cout)
			r := convRandom(rng, 2, (h+2*p-k)/s+1, (w+2*p-k)/s+1, cout)
			exec, err := NewExec(backend, func(x, k, r *Node) []*Node {
				_, gather := onnxConv2D(x, k, s, p)
				require.True(t, gather, "backend %q does not get the gather convolution", config)
				y := Conv2D(x, k, s, p)
				grads := Gradient(ReduceAllSum(Mul(y, r)), x, k)
				return []*Node{y, grads[0], grads[1]}
			})
			require.NoError(t, err)
			got, err := exec.Exec(x, kt, r)
			require.NoError(t, err)
			want := convReference(x, kt, r, s, p)
			for i, name := range []string{"y", "dx", "dkernel"} {
				e := convRelErr(t, got[i], want[i])
				require.Less(t, e, 1e-4, "%s relative error %.3g", name, e)
			}
		})
	}
}
