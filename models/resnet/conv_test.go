package resnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// convGoBackend is the pure-Go backend shared by the convolution tests. It executes ops one at a time:
// with parallel op execution, GoMLX v0.28.8's native ConvGeneral (the reference here) can deadlock when
// several convolutions run at once, each waiting for the worker pool the others hold.
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

// TestConv2DGatherMatchesNative checks the gather path against a plain-loop reference and against the
// backend's native ConvGeneral (forward, and gradients w.r.t. input and kernel) for every
// kernel/stride/padding ResNet uses, on odd, even and non-square images, plus a few other geometries.
func TestConv2DGatherMatchesNative(t *testing.T) {
	cases := []struct {
		name                   string
		k, stride, pad         int
		h, w, cin, cout, batch int
		// nativeDXWrong marks shapes where GoMLX v0.28.8's native input gradient is wrong (stride 3 with
		// pixels no output reads); the gather path is still checked against the plain-loop reference.
		nativeDXWrong bool
	}{
		{"7x7s2p3_stem", 7, 2, 3, 11, 10, 3, 8, 2, false},
		{"7x7s2p3_even", 7, 2, 3, 8, 8, 3, 4, 1, false},
		{"3x3s1p1", 3, 1, 1, 9, 10, 4, 5, 2, false},
		{"3x3s1p1_tiny", 3, 1, 1, 2, 1, 3, 2, 1, false},
		{"3x3s2p1_odd", 3, 2, 1, 9, 7, 4, 6, 2, false},
		{"3x3s2p1_even", 3, 2, 1, 8, 10, 5, 3, 2, false},
		{"1x1s1", 1, 1, 0, 6, 5, 7, 9, 2, false},
		{"1x1s2_odd", 1, 2, 0, 7, 9, 4, 6, 2, false},
		{"1x1s2_even", 1, 2, 0, 6, 6, 8, 4, 1, false},
		{"3x3s1p0_valid", 3, 1, 0, 6, 7, 3, 4, 1, false},
		{"2x2s3p0_untouched_pixels", 2, 3, 0, 8, 7, 3, 4, 2, true},
		{"5x5s2p2", 5, 2, 2, 9, 8, 2, 3, 1, false},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range cases {
		for _, slices := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/slices=%v", c.name, slices), func(t *testing.T) {
				defer func(old bool) { slicesOnGoBackend = old }(slicesOnGoBackend)
				slicesOnGoBackend = slices
				ho, wo := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
				x := convRandom(rng, c.batch, c.h, c.w, c.cin)
				k := convRandom(rng, c.k, c.k, c.cin, c.cout)
				r := convRandom(rng, c.batch, ho, wo, c.cout)
				ref := convReference(x, k, r, c.stride, c.pad)
				got := convForwardBackward(t, ConvGather, x, k, r, c.stride, c.pad)
				native := convForwardBackward(t, ConvNative, x, k, r, c.stride, c.pad)
				for i, name := range []string{"y", "dx", "dkernel"} {
					e := convRelErr(t, got[i], ref[i])
					require.Less(t, e, 1e-4, "gather %s: relative error %.3g vs the reference", name, e)
					if c.nativeDXWrong && name == "dx" {
						continue
					}
					e = convRelErr(t, got[i], native[i])
					require.Less(t, e, 1e-4, "gather %s: relative error %.3g vs native ConvGeneral", name, e)
				}
			})
		}
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
	require.Equal(t, ConvNative, ConvImplFor(g))
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

// TestConv2DGatherWholeModel compares, on a tiny ResNet18 of each layout in inference mode, the logits
// and the gradient of every trainable variable computed with ConvGather against ConvNative (stem, 3x3/1,
// 3x3/2 and 1x1/2 convolutions chained through BatchNorm, ReLU, max-pool and residual additions).
// Inference mode keeps BatchNorm affine: with batch statistics over 2 images of 1x1 pixels (layer4 at
// 32x32) float32 rounding differences get amplified far beyond 1e-4 by either implementation.
func TestConv2DGatherWholeModel(t *testing.T) {
	if testing.Short() {
		t.Skip("native ConvGeneral gradients are slow; skipped with -short")
	}
	for _, layout := range []Layout{LayoutTorchvision, LayoutKeras} {
		t.Run(string(layout), func(t *testing.T) {
			m, err := New("resnet18", 3, layout)
			require.NoError(t, err)
			images := convRandom(rand.New(rand.NewPCG(9, 9)), 2, 32, 32, 3)
			labels := tensors.FromValue([]int32{0, 2})
			run := func(impl ConvImpl) []*tensors.Tensor {
				defer func(old ConvImpl) { DefaultConvImpl = old }(DefaultConvImpl)
				DefaultConvImpl = impl
				store := model.NewStore()
				store.RootScope().SetParam(model.ParamInitialSeed, int64(5))
				exec, err := model.NewExec(convGoBackend(), store, func(scope *model.Scope, images, labels *Node) []*Node {
					g := images.Graph()
					store.SetTraining(g, false)
					modelScope := scope.In("model")
					logits := m.Logits(modelScope, images)
					loss := Neg(ReduceAllMean(ReduceSum(Mul(OneHot(labels, 3, dtypes.Float32), LogSoftmax(logits, -1)), -1)))
					var nodes []*Node
					for v := range modelScope.IterVariables() {
						if v.Trainable && v.InUseByGraph(g) {
							nodes = append(nodes, v.NodeValue(g))
						}
					}
					return append([]*Node{logits}, Gradient(loss, nodes...)...)
				})
				require.NoError(t, err)
				out, err := exec.Exec(images, labels)
				require.NoError(t, err)
				return out
			}
			want, got := run(ConvNative), run(ConvGather)
			require.Len(t, got, len(want))
			require.Greater(t, len(got), 20)
			for i := range want {
				e := convRelErr(t, got[i], want[i])
				require.Less(t, e, 1e-4, "output %d (0 = logits, then variable gradients): relative error %.3g", i, e)
			}
		})
	}
}

// TestConv2DGatherOtherBackend checks ConvGather (forward and gradients) against the plain-loop reference
// on the backend named by $GOCLS_CONV_TEST_BACKEND (e.g. "onnxruntime" in a binary built with -tags onnx);
// skipped when unset.
func TestConv2DGatherOtherBackend(t *testing.T) {
	config := os.Getenv("GOCLS_CONV_TEST_BACKEND")
	if config == "" {
		t.Skip("set GOCLS_CONV_TEST_BACKEND to a backend configuration to run")
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
				require.Equal(t, ConvGather, ConvImplFor(x.Graph()))
				y := Conv2DWith(ConvGather, x, k, s, p)
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
