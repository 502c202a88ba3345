package resnet

import (
	"fmt"
	"slices"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// ConvImpl selects how Conv2D is lowered.
type ConvImpl int

const (
	// ConvAuto picks per backend: ConvGather on ONNX Runtime, ConvNative elsewhere (the pure-Go
	// backend, whose ConvGeneral is the blocked AVX-512 kernel of third_party/compute, and XLA).
	ConvAuto ConvImpl = iota
	// ConvNative is GoMLX's Convolve (the backend's ConvGeneral) and its autodiff gradient.
	ConvNative
	// ConvGather is im2col by one Gather of whole pixel rows plus one MatMul, with a hand-written
	// gradient that is again Gather + MatMul (no dilated convolutions, no interior padding, no strided
	// slices). ONNX Runtime uses it; on the pure-Go backend it is slower than the native
	// convolution and kept as an independent cross-check of it.
	ConvGather
)

// String returns the name used by flags: "auto", "native" or "gather".
func (c ConvImpl) String() string {
	switch c {
	case ConvAuto:
		return "auto"
	case ConvNative:
		return "native"
	case ConvGather:
		return "gather"
	}
	return fmt.Sprintf("ConvImpl(%d)", int(c))
}

// ParseConvImpl parses "auto", "native" or "gather".
func ParseConvImpl(s string) (ConvImpl, error) {
	for _, c := range []ConvImpl{ConvAuto, ConvNative, ConvGather} {
		if c.String() == s {
			return c, nil
		}
	}
	return ConvAuto, fmt.Errorf("resnet: unknown convolution implementation %q (want auto, native or gather)", s)
}

// DefaultConvImpl is the implementation Conv2D uses; ConvAuto (the default) picks per backend.
// Benchmarks and tests may set it before building a graph; it is read at graph-building time.
var DefaultConvImpl = ConvAuto

// goBackendName is compute/gobackend.BackendName, the String() of the pure-Go backend.
const goBackendName = "go"

// onGoBackend reports whether g runs on the pure-Go backend.
func onGoBackend(g *Graph) bool {
	b := g.Backend()
	return b != nil && b.String() == goBackendName
}

// onnxBackendName is compute-onnx's BackendName (GoMLX's ONNX Runtime backend, build tag onnx).
const onnxBackendName = "onnxruntime"

// ConvImplFor returns the implementation that ConvAuto resolves to for the graph's backend: ConvGather
// on ONNX Runtime (where the gradients of the native convolution need input dilation, which ONNX Conv
// lacks, and where the gather form also measured faster for inference); ConvNative elsewhere: XLA, and
// the pure-Go backend, whose ConvGeneral executor is replaced in this module's vendored compute
// (third_party/compute) by a blocked matrix-product kernel that is several times faster than
// ConvGather there.
func ConvImplFor(g *Graph) ConvImpl {
	if b := g.Backend(); b != nil && b.Name() == onnxBackendName {
		return ConvGather
	}
	return ConvNative
}

// Conv2D convolves x [batch, H, W, Cin] with kernel [kh, kw, Cin, Cout] using
// the given stride and symmetric zero padding on both spatial axes, and
// returns [batch, H', W', Cout] with H' = (H+2*padding-kh)/stride+1. No bias.
//
// It is the single convolution entry point of the model: it picks the fastest
// correct implementation for the graph's backend (see DefaultConvImpl and ConvImplFor).
func Conv2D(x, kernel *Node, stride, padding int) *Node {
	return Conv2DWith(DefaultConvImpl, x, kernel, stride, padding)
}

// Conv2DWith is Conv2D with an explicit implementation. It panics on programmer errors (ranks,
// channel mismatch, non-positive stride, negative padding, kernel larger than the padded input).
func Conv2DWith(impl ConvImpl, x, kernel *Node, stride, padding int) *Node {
	geom := newConvGeom(x, kernel, stride, padding)
	if impl == ConvAuto {
		impl = ConvImplFor(x.Graph())
		if impl == ConvNative && x.DType() != dtypes.Float32 && onGoBackend(x.Graph()) {
			// The pure-Go backend's fast ConvGeneral is float32 only; its other dtypes run the upstream
			// scalar loop, slower than the gather form's matrix products.
			impl = ConvGather
		}
	}
	switch impl {
	case ConvNative:
		return Convolve(x, kernel).Strides(stride).
			PaddingPerDim([][2]int{{padding, padding}, {padding, padding}}).Done()
	case ConvGather:
		if x.DType() != kernel.DType() {
			panic(fmt.Sprintf("resnet.Conv2D: x dtype %s != kernel dtype %s", x.DType(), kernel.DType()))
		}
		return gatherConv2D(x, kernel, geom)
	}
	panic(fmt.Sprintf("resnet.Conv2D: unknown implementation %s", impl))
}

// convGeom holds the static sizes of one convolution.
type convGeom struct {
	B, H, W, C, Cout, KH, KW, S, P, Ho, Wo int
}

func newConvGeom(x, kernel *Node, stride, padding int) convGeom {
	if x.Rank() != 4 || kernel.Rank() != 4 {
		panic(fmt.Sprintf("resnet.Conv2D: want x [batch,H,W,Cin] and kernel [kh,kw,Cin,Cout], got %s and %s",
			x.Shape(), kernel.Shape()))
	}
	d, kd := x.Shape().Dimensions, kernel.Shape().Dimensions
	g := convGeom{B: d[0], H: d[1], W: d[2], C: d[3], KH: kd[0], KW: kd[1], Cout: kd[3], S: stride, P: padding}
	if kd[2] != g.C {
		panic(fmt.Sprintf("resnet.Conv2D: x has %d channels but kernel %s expects %d", g.C, kernel.Shape(), kd[2]))
	}
	if stride < 1 || padding < 0 {
		panic(fmt.Sprintf("resnet.Conv2D: stride %d must be >= 1 and padding %d >= 0", stride, padding))
	}
	if g.H+2*padding < g.KH || g.W+2*padding < g.KW {
		panic(fmt.Sprintf("resnet.Conv2D: kernel %dx%d larger than padded input %dx%d",
			g.KH, g.KW, g.H+2*padding, g.W+2*padding))
	}
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

// gatherConv2D is ConvGather: forward cols·K, gradients built by hand (see conv2DGrads).
//
// The forward runs on StopGradient'ed inputs; the gradient reaches x and kernel through two
// IdentityWithCustomGradient nodes joined to the kernel matrix by a zero-valued scalar "tie". The
// output's own custom gradient records dL/dy, which the (later-visited, upstream) input gradients then
// use. The autodiff gradients along the tie are never used, so the backend prunes them (the pure-Go
// backend executes only nodes reachable from the outputs).
func gatherConv2D(x, kernel *Node, g convGeom) *Node {
	cols := patches(StopGradient(x), g) // [B*Ho*Wo, KH*KW*C]

	var dy *Node // [B*Ho*Wo, Cout], set while differentiating the output.
	needDY := func() *Node {
		if dy == nil {
			panic("resnet.Conv2D: internal error: input gradient requested before the output gradient")
		}
		return dy
	}
	// The input gradient's matrix products wait for the kernel gradient (see after): this bounds the
	// number of matrix products the pure-Go backend runs at once.
	var dw *Node
	kernelGrad := func() *Node {
		if dw == nil {
			dw = convGradKernel(needDY(), cols, g)
		}
		return dw
	}
	xc := IdentityWithCustomGradient(x, func(_, _ *Node) *Node { return convGradInput(needDY(), kernel, g, kernelGrad()) })
	kc := IdentityWithCustomGradient(kernel, func(_, _ *Node) *Node { return kernelGrad() })
	tie := MulScalar(Add(firstElement(xc), firstElement(kc)), 0)
	// The tie joins the small kernel matrix, not the output: no extra pass over y.
	kmat := Add(Reshape(StopGradient(kernel), g.taps()*g.C, g.Cout), tie)
	y := Reshape(MatMul(cols, kmat), g.B, g.Ho, g.Wo, g.Cout)
	return IdentityWithCustomGradient(y, func(_, v *Node) *Node {
		dy, dw = Reshape(v, g.B*g.Ho*g.Wo, g.Cout), nil
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
		if patchesBySlices(x.Graph()) {
			sub := Slice(x, AxisRange(), AxisRange().Stride(g.S), AxisRange().Stride(g.S), AxisRange())
			return Reshape(sub, g.B*g.Ho*g.Wo, g.C)
		}
		return gatherRows(flat, convIndices(idxSubsample, g, 0, 0), true, true)
	}
	if patchesBySlices(x.Graph()) {
		return slicePatches(x, g)
	}
	cols := gatherRows(withZeroRow(flat), convIndices(idxIm2col, g, 0, 0), false, true)
	return Reshape(cols, g.B*g.Ho*g.Wo, g.taps()*g.C)
}

// patchesBySlices reports whether im2col uses strided slices rather than one Gather: on the pure-Go
// backend, whose Slice is a tight typed loop and whose independent slices run on parallel workers
// (measured faster than its Gather for every ResNet50 shape), but not on ONNX Runtime (measured no
// faster there, and failing on strided slices in gradient graphs).
func patchesBySlices(graph *Graph) bool {
	return slicesOnGoBackend && onGoBackend(graph)
}

// slicesOnGoBackend lets tests exercise the Gather-based paths on the pure-Go backend too.
var slicesOnGoBackend = true

// slicePatches is im2col as zero padding, one strided slice per tap and a concatenation on the channel
// axis. Only used on StopGradient'ed inputs: its own autodiff gradient (interior padding) is never built.
func slicePatches(x *Node, g convGeom) *Node {
	if g.P > 0 {
		pad := compute.PadAxis{Start: g.P, End: g.P}
		x = Pad(x, ScalarZero(x.Graph(), x.DType()), compute.PadAxis{}, pad, pad, compute.PadAxis{})
	}
	cols := make([]*Node, 0, g.taps())
	for i := range g.KH {
		for j := range g.KW {
			cols = append(cols, Slice(x, AxisRange(),
				AxisRange(i, i+(g.Ho-1)*g.S+1).Stride(g.S), AxisRange(j, j+(g.Wo-1)*g.S+1).Stride(g.S), AxisRange()))
		}
	}
	return Reshape(Concatenate(cols, -1), g.B*g.Ho*g.Wo, g.taps()*g.C)
}

// convGradKernel returns dL/dkernel [KH,KW,C,Cout] = colsᵀ·dy. The backend's MatMul wants the
// contracted M axis last on the left operand, so one of the two [M, ·] matrices is transposed: the
// narrower one (dy [M, Cout] for most convolutions, cols [M, KH*KW*C] for 1x1 expansions).
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
func convGradInput(dy, kernel *Node, g convGeom, wait *Node) *Node {
	if g.pointwise() {
		dxs := DotGeneral(dy, []int{1}, nil, after(Reshape(kernel, g.C, g.Cout), wait), []int{1}, nil) // [M, C]
		if g.S > 1 {
			if patchesBySlices(dy.Graph()) {
				// Scatter back with interior padding (a block copy on the pure-Go backend; ONNX has none).
				ph := compute.PadAxis{End: g.H - ((g.Ho-1)*g.S + 1), Interior: g.S - 1}
				pw := compute.PadAxis{End: g.W - ((g.Wo-1)*g.S + 1), Interior: g.S - 1}
				dx4 := Reshape(dxs, g.B, g.Ho, g.Wo, g.C)
				return Pad(dx4, ScalarZero(dy.Graph(), dy.DType()), compute.PadAxis{}, ph, pw, compute.PadAxis{})
			}
			dxs = gatherRows(withZeroRow(dxs), convIndices(idxUpsample, g, 0, 0), true, true)
		}
		return Reshape(dxs, g.B, g.H, g.W, g.C)
	}
	graph := dy.Graph()
	if g.S == 1 && g.KH == g.KW && g.P <= g.KH-1 && patchesBySlices(graph) {
		// Stride 1: dx is the correlation of dy, zero-padded by KH-1-P, with the spatially flipped kernel
		// with its channel axes swapped.
		gd := convGeom{B: g.B, H: g.Ho, W: g.Wo, C: g.Cout, Cout: g.C, KH: g.KH, KW: g.KW, S: 1, P: g.KH - 1 - g.P,
			Ho: g.H, Wo: g.W}
		cols := slicePatches(Reshape(dy, g.B, g.Ho, g.Wo, g.Cout), gd) // [B*H*W, taps*Cout]
		kt := Reshape(Reverse(kernel, 0, 1), g.taps(), g.C, g.Cout)
		kt = Reshape(TransposeAllAxes(kt, 1, 0, 2), g.C, g.taps()*g.Cout)
		dx := DotGeneral(cols, []int{1}, nil, after(kt, wait), []int{1}, nil) // [B*H*W, C]
		return Reshape(dx, g.B, g.H, g.W, g.C)
	}
	var dyz, dyPadded *Node
	var lowH, lowW int
	useSlices := patchesBySlices(graph)
	if useSlices {
		// dy zero-padded so that every class's tap window is a plain slice.
		var highH, highW int
		lowH, highH = classPadding(g.H, g.Ho, g.KH, g.S, g.P)
		lowW, highW = classPadding(g.W, g.Wo, g.KW, g.S, g.P)
		dyPadded = Pad(Reshape(dy, g.B, g.Ho, g.Wo, g.Cout), ScalarZero(graph, dy.DType()), compute.PadAxis{},
			compute.PadAxis{Start: lowH, End: highH}, compute.PadAxis{Start: lowW, End: highW}, compute.PadAxis{})
	} else {
		dyz = withZeroRow(dy)
	}
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
			var cols *Node
			if useSlices {
				cols = classSlices(dyPadded, g, rh, rw, lowH, lowW)
			} else {
				cols = gatherRows(dyz, convIndices(idxCol2im, g, rh, rw), false, g.S == 1)
			}
			cols = Reshape(cols, n, nt*g.Cout)
			tapIdx := tensors.FromFlatDataAndDimensions(taps, nt, 1)
			kc := Reshape(Gather(kflat, ConstTensor(graph, tapIdx), true), nt, g.C, g.Cout)
			kc = Reshape(TransposeAllAxes(kc, 1, 0, 2), g.C, nt*g.Cout)
			part := DotGeneral(cols, []int{1}, nil, after(kc, wait), []int{1}, nil) // [n, C]
			parts, wait = append(parts, part), part                                 // one class product at a time
		}
	}
	dx := parts[0]
	if len(parts) > 1 {
		dx = gatherRows(Concatenate(parts, 0), convIndices(idxClassOrder, g, 0, 0), true, false)
	}
	return Reshape(dx, g.B, g.H, g.W, g.C)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// after returns m (a small matrix) made to depend on the node wait, so that the product using it
// starts only once wait is computed; nil wait returns m.
//
// Why: the pure-Go backend (compute v0.1.6) deadlocks when as many matrix products as its worker pool
// has slots (2×GOMAXPROCS) start at once -- each waits in workerspool.Saturate for a free worker while
// holding one. Chaining the products of one convolution's gradient keeps the number of concurrent
// products down to the number of parallel branches of the network.
func after(m, wait *Node) *Node {
	if wait == nil {
		return m
	}
	return Add(m, MulScalar(firstElement(wait), 0))
}

// classPadding returns the zero padding of one spatial axis of dy (size out) that makes every residue
// class's tap window, out positions q+d for q in [0, ceil((in-r)/S)) with d = (r+P-i)/S, fall inside it.
func classPadding(in, out, k, s, p int) (low, high int) {
	for r := range s {
		n := ceilDiv(in-r, s)
		for i := range k {
			if (r+p-i)%s != 0 || n <= 0 {
				continue
			}
			d := (r + p - i) / s
			low = max(low, -d)
			high = max(high, d+n-out)
		}
	}
	return low, high
}

// classSlices returns, for residue class (rh, rw), the dy rows each of its pixels receives from each of
// its taps, as [B, nh, nw, taps*Cout]: one slice of the padded dy [B, Ho+pads, Wo+pads, Cout] per tap.
func classSlices(dyPadded *Node, g convGeom, rh, rw, lowH, lowW int) *Node {
	nh, nw := ceilDiv(g.H-rh, g.S), ceilDiv(g.W-rw, g.S)
	taps := classTaps(g, rh, rw)
	cols := make([]*Node, 0, len(taps))
	for _, tap := range taps {
		i, j := int(tap)/g.KW, int(tap)%g.KW
		oh := (rh+g.P-i)/g.S + lowH // exact division by construction of the class
		ow := (rw+g.P-j)/g.S + lowW
		cols = append(cols, Slice(dyPadded, AxisRange(), AxisRange(oh, oh+nh), AxisRange(ow, ow+nw), AxisRange()))
	}
	return Concatenate(cols, -1)
}

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

// gatherRowsSplitElements is the output size (in float32 values) above which gatherRows splits the
// gather into two independent halves that the pure-Go backend runs on two workers.
const gatherRowsSplitElements = 1 << 20

// gatherRows returns params [R, C] gathered by the int32 index table idx [N, T, 1] (or [N, 1]): [N, T, C]
// (or [N, C]). On the pure-Go backend, whose Gather copies one element per step on one thread, it moves
// float32 pairs as float64 (Bitcast) when C is even and splits big gathers into two halves the backend
// runs in parallel (only if tuned: measured to lose on the strided input gradient's small class
// gathers); elsewhere it is a plain Gather. The result carries no gradient.
func gatherRows(params *Node, idx *tensors.Tensor, sorted, tuned bool) *Node {
	g := params.Graph()
	if !tuned || !onGoBackend(g) {
		return Gather(params, ConstTensor(g, idx), sorted)
	}
	dims := idx.Shape().Dimensions
	rows, c := params.Shape().Dimensions[0], params.Shape().Dimensions[1]
	outDims := append(slices.Clone(dims[:len(dims)-1]), c)
	wide := params.DType() == dtypes.Float32 && c%2 == 0
	if wide {
		params = Bitcast(Reshape(params, rows, c/2, 2), dtypes.Float64) // [R, C/2]
	}
	var out *Node
	if n := dims[0]; n >= 2 && idx.Shape().Size()*c >= gatherRowsSplitElements {
		halves := splitIndexTable(idx)
		out = Concatenate([]*Node{
			Gather(params, ConstTensor(g, halves[0]), sorted),
			Gather(params, ConstTensor(g, halves[1]), sorted),
		}, 0)
	} else {
		out = Gather(params, ConstTensor(g, idx), sorted)
	}
	if wide {
		out = Bitcast(out, dtypes.Float32) // [..., C/2, 2]
	}
	// Bitcast has no gradient in GoMLX; gatherRows only feeds values the hand-written gradients use.
	return StopGradient(Reshape(out, outDims...))
}

var (
	splitMu    sync.Mutex
	splitCache = map[*tensors.Tensor][2]*tensors.Tensor{}
)

// splitIndexTable splits an int32 index table in two along its first axis (cached with the table).
func splitIndexTable(idx *tensors.Tensor) [2]*tensors.Tensor {
	splitMu.Lock()
	defer splitMu.Unlock()
	if h, ok := splitCache[idx]; ok {
		return h
	}
	dims := idx.Shape().Dimensions
	flat := tensors.MustCopyFlatData[int32](idx)
	n := dims[0] / 2
	per := len(flat) / dims[0]
	d0 := append([]int{n}, dims[1:]...)
	d1 := append([]int{dims[0] - n}, dims[1:]...)
	h := [2]*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(flat[:n*per], d0...),
		tensors.FromFlatDataAndDimensions(slices.Clone(flat[n*per:]), d1...),
	}
	splitCache[idx] = h
	return h
}

// withZeroRow appends one row of zeros to a [rows, C] matrix: the target of out-of-range indices.
func withZeroRow(m *Node) *Node {
	c := m.Shape().Dimensions[1]
	return Concatenate([]*Node{m, Zeros(m.Graph(), shapes.Make(m.DType(), 1, c))}, 0)
}

// Index tables (int32 constants) are cached per geometry: building them is O(pixels·taps).
type indexKind int

const (
	idxIm2col     indexKind = iota // [B*Ho*Wo, KH*KW, 1] rows of x (zero row B*H*W outside the image)
	idxCol2im                      // per residue class (rh,rw): [pixels, taps, 1] rows of dy (zero row B*Ho*Wo outside dy)
	idxClassOrder                  // [B*H*W, 1]: row of the class-ordered dx for each pixel (stride > 1)
	idxSubsample                   // [B*Ho*Wo, 1] rows of x read by a strided 1x1 convolution
	idxUpsample                    // [B*H*W, 1] rows of dx·kernelᵀ for a strided 1x1 convolution (zero row elsewhere)
)

type indexKey struct {
	kind   indexKind
	g      convGeom
	rh, rw int
}

var (
	indexMu    sync.Mutex
	indexCache = map[indexKey]*tensors.Tensor{}
)

// convIndices returns the cached index table of the given kind (rh, rw: residue class for idxCol2im).
func convIndices(kind indexKind, g convGeom, rh, rw int) *tensors.Tensor {
	key := indexKey{kind, g, rh, rw}
	indexMu.Lock()
	defer indexMu.Unlock()
	if t, ok := indexCache[key]; ok {
		return t
	}
	var t *tensors.Tensor
	switch kind {
	case idxIm2col:
		t = tensors.FromFlatDataAndDimensions(im2colIndices(g), g.B*g.Ho*g.Wo, g.taps(), 1)
	case idxCol2im:
		idx := col2imIndices(g, rh, rw)
		nt := len(classTaps(g, rh, rw))
		t = tensors.FromFlatDataAndDimensions(idx, len(idx)/nt, nt, 1)
	case idxClassOrder:
		t = tensors.FromFlatDataAndDimensions(classOrderIndices(g), g.B*g.H*g.W, 1)
	case idxSubsample:
		t = tensors.FromFlatDataAndDimensions(subsampleIndices(g), g.B*g.Ho*g.Wo, 1)
	case idxUpsample:
		t = tensors.FromFlatDataAndDimensions(upsampleIndices(g), g.B*g.H*g.W, 1)
	}
	indexCache[key] = t
	return t
}

// im2colIndices: for output pixel (b,oh,ow) and tap (i,j), the input row (b, oh*S-P+i, ow*S-P+j).
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
// tap (i,j) of classTaps, the output row (b, oh, ow) with oh*S-P+i = h and ow*S-P+j = w, if it exists.
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
