//go:build onnx

package resnet

// The gather convolution, for ONNX Runtime: its Conv has no input dilation, which GoMLX's gradient of a
// strided convolution with respect to its input needs, so there Conv2D is im2col by one Gather of whole
// pixel rows plus one MatMul, with a hand-written gradient that is again Gather + MatMul.

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// onnxBackendName is compute-onnx's BackendName (GoMLX's ONNX Runtime backend).
const onnxBackendName = "onnxruntime"

// onnxConv2D returns Conv2D as a gather convolution when x's graph runs on ONNX Runtime.
func onnxConv2D(x, kernel *Node, stride, padding int) (*Node, bool) {
	if b := x.Graph().Backend(); b == nil || b.Name() != onnxBackendName {
		return nil, false
	}
	return gatherConv2D(x, kernel, newConvGeom(x, kernel, stride, padding)), true
}

// convGeom holds the static sizes of one convolution (see Conv2D).
type convGeom struct {
	B, H, W, C, Cout, KH, KW, S, P, Ho, Wo int
}

// newConvGeom returns the geometry of Conv2D(x, kernel, stride, padding), whose arguments checkConv2D
// accepted.
func newConvGeom(x, kernel *Node, stride, padding int) convGeom {
	d, kd := x.Shape().Dimensions, kernel.Shape().Dimensions
	g := convGeom{B: d[0], H: d[1], W: d[2], C: d[3], KH: kd[0], KW: kd[1], Cout: kd[3], S: stride, P: padding}
	g.Ho = (g.H+2*padding-g.KH)/stride + 1
	g.Wo = (g.W+2*padding-g.KW)/stride + 1
	if int64(g.B)*int64(max(g.H*g.W, g.Ho*g.Wo)) >= 1<<31-1 {
		panic(fmt.Sprintf("resnet.Conv2D: input %s too large for int32 pixel indices", x.Shape()))
	}
	return g
}

// taps is the number of kernel positions.
func (g convGeom) taps() int { return g.KH * g.KW }

// pointwise reports a 1x1 convolution without padding (a plain matrix product, maybe subsampled).
func (g convGeom) pointwise() bool { return g.KH == 1 && g.KW == 1 && g.P == 0 }

// gatherConv2D is the gather convolution: forward cols·K, gradients built by hand.
//
// The forward runs on StopGradient'ed inputs; the gradient reaches x and kernel through two
// IdentityWithCustomGradient nodes joined to the kernel matrix by a zero-valued scalar "tie". The
// output's own custom gradient records dL/dy, which the (later-visited, upstream) input gradients then
// use. The autodiff gradients along the tie are never used, so the backend prunes them.
func gatherConv2D(x, kernel *Node, g convGeom) *Node {
	cols := patches(StopGradient(x), g) // [B*Ho*Wo, KH*KW*C]

	var dy *Node // [B*Ho*Wo, Cout], set while differentiating the output.
	needDY := func() *Node {
		if dy == nil {
			panic("resnet.Conv2D: internal error: input gradient requested before the output gradient")
		}
		return dy
	}
	xc := IdentityWithCustomGradient(x, func(_, _ *Node) *Node { return convGradInput(needDY(), kernel, g) })
	kc := IdentityWithCustomGradient(kernel, func(_, _ *Node) *Node { return convGradKernel(needDY(), cols, g) })
	tie := MulScalar(Add(firstElement(xc), firstElement(kc)), 0)
	// The tie joins the small kernel matrix, not the output: no extra pass over y.
	kmat := Add(Reshape(StopGradient(kernel), g.taps()*g.C, g.Cout), tie)
	y := Reshape(MatMul(cols, kmat), g.B, g.Ho, g.Wo, g.Cout)
	return IdentityWithCustomGradient(y, func(_, v *Node) *Node {
		dy = Reshape(v, g.B*g.Ho*g.Wo, g.Cout)
		return v
	})
}

// firstElement returns x[0,0,...] as a scalar: a cheap way to make the tie depend on x.
func firstElement(x *Node) *Node {
	specs := make([]SliceAxisSpec, x.Rank())
	for i := range specs {
		specs[i] = AxisRange(0, 1)
	}
	return Reshape(Slice(x, specs...))
}

// patches returns the im2col matrix [B*Ho*Wo, KH*KW*C] of x [B,H,W,C], ordered (tap row, tap col, channel)
// like a reshaped HWIO kernel. For 1x1 convolutions it is the (subsampled) [B*Ho*Wo, C] view.
func patches(x *Node, g convGeom) *Node {
	flat := Reshape(x, g.B*g.H*g.W, g.C)
	if g.pointwise() {
		if g.S == 1 {
			return flat
		}
		return gatherRows(flat, subsampleIndices(g), g.B*g.Ho*g.Wo, 1)
	}
	cols := gatherRows(withZeroRow(flat), im2colIndices(g), g.B*g.Ho*g.Wo, g.taps())
	return Reshape(cols, g.B*g.Ho*g.Wo, g.taps()*g.C)
}

// convGradKernel returns dL/dkernel [KH,KW,C,Cout] = colsᵀ·dy. MatMul wants the contracted M axis last
// on the left operand, so one of the two [M, ·] matrices is transposed: the narrower one (dy [M, Cout]
// for most convolutions, cols [M, KH*KW*C] for 1x1 expansions).
func convGradKernel(dy, cols *Node, g convGeom) *Node {
	k := g.taps() * g.C
	if k < g.Cout {
		return Reshape(MatMul(Transpose(cols, 0, 1), dy), g.KH, g.KW, g.C, g.Cout)
	}
	dwt := MatMul(Transpose(dy, 0, 1), cols) // [Cout, KH*KW*C]
	return Reshape(Transpose(dwt, 0, 1), g.KH, g.KW, g.C, g.Cout)
}

// convGradInput returns dL/dx [B,H,W,C] from dy [B*Ho*Wo, Cout]: a transposed convolution.
//
// Input pixels are split into the S×S residue classes (h mod S, w mod S); within one class every pixel
// is reached by the same kernel taps (those with (h+P-i) divisible by S), so each class is one Gather of
// dy rows (zero row where a tap falls outside dy) and one MatMul with those taps of the kernel, with no
// multiplications by the zeros a strided convolution's dilated gradient would hold. For stride 1 there
// is a single class holding every tap. The classes are then put back in pixel order by one row Gather.
func convGradInput(dy, kernel *Node, g convGeom) *Node {
	graph := dy.Graph()
	if g.pointwise() {
		dxs := DotGeneral(dy, []int{1}, nil, Reshape(kernel, g.C, g.Cout), []int{1}, nil) // [M, C]
		if g.S > 1 {
			dxs = gatherRows(withZeroRow(dxs), upsampleIndices(g), g.B*g.H*g.W, 1)
		}
		return Reshape(dxs, g.B, g.H, g.W, g.C)
	}
	dyz := withZeroRow(dy)
	kflat := Reshape(kernel, g.taps(), g.C*g.Cout)
	parts := make([]*Node, 0, g.S*g.S)
	for rh := range g.S {
		for rw := range g.S {
			n := g.B * ceilDiv(g.H-rh, g.S) * ceilDiv(g.W-rw, g.S)
			if n == 0 {
				continue
			}
			taps := classTaps(g, rh, rw)
			if len(taps) == 0 {
				parts = append(parts, Zeros(graph, shapes.Make(dy.DType(), n, g.C)))
				continue
			}
			nt := len(taps)
			cols := Reshape(gatherRows(dyz, col2imIndices(g, rh, rw), n, nt), n, nt*g.Cout)
			tapIdx := tensors.FromFlatDataAndDimensions(taps, nt, 1)
			kc := Reshape(Gather(kflat, ConstTensor(graph, tapIdx), true), nt, g.C, g.Cout)
			kc = Reshape(TransposeAllAxes(kc, 1, 0, 2), g.C, nt*g.Cout)
			parts = append(parts, DotGeneral(cols, []int{1}, nil, kc, []int{1}, nil)) // [n, C]
		}
	}
	dx := parts[0]
	if len(parts) > 1 {
		dx = gatherRows(Concatenate(parts, 0), classOrderIndices(g), g.B*g.H*g.W, 1)
	}
	return Reshape(dx, g.B, g.H, g.W, g.C)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// classTaps lists the flat kernel taps i*KW+j that reach input pixels with h%S == rh and w%S == rw.
func classTaps(g convGeom, rh, rw int) []int32 {
	var taps []int32
	for i := range g.KH {
		if (rh+g.P-i)%g.S != 0 {
			continue
		}
		for j := range g.KW {
			if (rw+g.P-j)%g.S == 0 {
				taps = append(taps, int32(i*g.KW+j))
			}
		}
	}
	return taps
}

// gatherRows returns the rows of params [R, C] listed by idx (n*perRow row numbers): [n, perRow, C], or
// [n, C] when perRow is 1.
func gatherRows(params *Node, idx []int32, n, perRow int) *Node {
	dims := []int{n, perRow, 1}
	if perRow == 1 {
		dims = []int{n, 1}
	}
	return Gather(params, ConstTensor(params.Graph(), tensors.FromFlatDataAndDimensions(idx, dims...)), false)
}

// withZeroRow appends one row of zeros to a [rows, C] matrix: the target of out-of-range indices.
func withZeroRow(m *Node) *Node {
	c := m.Shape().Dimensions[1]
	return Concatenate([]*Node{m, Zeros(m.Graph(), shapes.Make(m.DType(), 1, c))}, 0)
}

// im2colIndices: for output pixel (b,oh,ow) and tap (i,j), the input row (b, oh*S-P+i, ow*S-P+j), or the
// zero row B*H*W outside the image.
func im2colIndices(g convGeom) []int32 {
	zero := int32(g.B * g.H * g.W)
	idx := make([]int32, 0, g.B*g.Ho*g.Wo*g.taps())
	for b := range g.B {
		for oh := range g.Ho {
			for ow := range g.Wo {
				for i := range g.KH {
					h := oh*g.S - g.P + i
					for j := range g.KW {
						w := ow*g.S - g.P + j
						if h < 0 || h >= g.H || w < 0 || w >= g.W {
							idx = append(idx, zero)
						} else {
							idx = append(idx, int32((b*g.H+h)*g.W+w))
						}
					}
				}
			}
		}
	}
	return idx
}

// col2imIndices: for each input pixel (b,h,w) of residue class (rh,rw), in (b, h, w) order, and each
// tap (i,j) of classTaps, the output row (b, oh, ow) with oh*S-P+i = h and ow*S-P+j = w, or the zero
// row B*Ho*Wo where there is none.
func col2imIndices(g convGeom, rh, rw int) []int32 {
	zero := int32(g.B * g.Ho * g.Wo)
	taps := classTaps(g, rh, rw)
	var idx []int32
	for b := range g.B {
		for h := rh; h < g.H; h += g.S {
			for w := rw; w < g.W; w += g.S {
				for _, tap := range taps {
					i, j := int(tap)/g.KW, int(tap)%g.KW
					nh, nw := h+g.P-i, w+g.P-j // divisible by S by construction of the class
					if nh >= 0 && nh/g.S < g.Ho && nw >= 0 && nw/g.S < g.Wo {
						idx = append(idx, int32((b*g.Ho+nh/g.S)*g.Wo+nw/g.S))
					} else {
						idx = append(idx, zero)
					}
				}
			}
		}
	}
	return idx
}

// classOrderIndices: for each pixel (b,h,w), its row in the concatenation of the residue classes
// (rh, rw) in row-major class order, each class in (b, h, w) order.
func classOrderIndices(g convGeom) []int32 {
	idx := make([]int32, g.B*g.H*g.W)
	row := int32(0)
	for rh := range g.S {
		for rw := range g.S {
			for b := range g.B {
				for h := rh; h < g.H; h += g.S {
					for w := rw; w < g.W; w += g.S {
						idx[(b*g.H+h)*g.W+w] = row
						row++
					}
				}
			}
		}
	}
	return idx
}

// subsampleIndices: the rows of x a strided 1x1 convolution reads, one per output pixel.
func subsampleIndices(g convGeom) []int32 {
	idx := make([]int32, 0, g.B*g.Ho*g.Wo)
	for b := range g.B {
		for oh := range g.Ho {
			for ow := range g.Wo {
				idx = append(idx, int32((b*g.H+oh*g.S)*g.W+ow*g.S))
			}
		}
	}
	return idx
}

// upsampleIndices: for each input pixel of a strided 1x1 convolution, its row of dy·kernelᵀ, or the zero
// row B*Ho*Wo for pixels the convolution does not read.
func upsampleIndices(g convGeom) []int32 {
	zero := int32(g.B * g.Ho * g.Wo)
	idx := make([]int32, 0, g.B*g.H*g.W)
	for b := range g.B {
		for h := range g.H {
			for w := range g.W {
				if h%g.S == 0 && w%g.S == 0 && h/g.S < g.Ho && w/g.S < g.Wo {
					idx = append(idx, int32((b*g.Ho+h/g.S)*g.Wo+w/g.S))
				} else {
					idx = append(idx, zero)
				}
			}
		}
	}
	return idx
}
