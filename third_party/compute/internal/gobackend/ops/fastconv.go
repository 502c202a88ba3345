// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

// fastconv: a float32 ConvGeneral for two spatial axes, as a blocked matrix product.
//
// Added by gocls to its vendored copy of github.com/gomlx/compute v0.1.6: the upstream executor is
// a scalar loop (~1 GFLOP/s). This one covers what convolutional networks and their gradients use --
// any axes layout, strides, padding (also negative), input dilation and kernel dilation -- and
// falls back to the upstream executor for everything else (other dtypes, grouping, spatial rank != 2).
//
// The convolution is C[p, n] = sum_r X[p, r] * W[r, n], with
//
//   - p = (batch, out0, out1): the output "pixels" (M of them),
//   - n: the output channel (N),
//   - r = (k0, k1, c): kernel tap and input channel, channel innermost (K),
//   - X[p, r] = input[b, c, out*stride + k*kernelDilation - padLow] where that position is a real
//     (non-padding, non-dilation-hole) input element, else 0 (the implicit im2col matrix),
//   - W[r, n] = kernel[c, n, k0, k1].
//
// It is computed GotoBLAS-style: W is packed once into NR-column panels; each worker takes blocks of
// output pixels, packs the block's X rows (im2col on the fly, never materialised whole) into MR-row
// panels, KC reduction indices at a time, and runs the MR x NR register-tiled micro-kernel
// (AVX-512 assembly on amd64 when available, plain Go elsewhere) into a scratch block that is then
// copied to the output with the output's strides.

import (
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/compute/support/envutil"
	"k8s.io/klog/v2"
)

const (
	fcMR = 12  // micro-kernel rows (output pixels)
	fcNR = 32  // micro-kernel columns (output channels)
	fcKC = 256 // reduction block: an NR-panel of W (KC*NR*4 = 32 KiB) stays in L1.

	// fastConvEnv disables the fast executors when set to false (for comparisons).
	fastConvEnv = "GOMLX_FASTCONV"
	// fastConvKernelEnv picks the micro-kernel ("avx512", "avx2", "go") instead of the best the CPU
	// runs (to measure what a CPU without AVX-512 would get).
	fastConvKernelEnv = "GOMLX_FASTCONV_KERNEL"
)

func init() {
	if !fastEnabled() {
		return
	}
	if name := os.Getenv(fastConvKernelEnv); name != "" {
		if !useKernel(name) {
			klog.Fatalf("%s=%q: this CPU runs %v", fastConvKernelEnv, name, slices.Sorted(maps.Keys(sgemmKernels())))
		}
	}
	gobackend.SetNodeExecutor(compute.OpTypeConvGeneral, gobackend.PriorityArch, execConvGeneralFast)
}

// fastEnabled reports whether the fast executors are on: GOMLX_FASTCONV unset or true. An unparsable
// value stops the program (rather than silently running the slow executors).
func fastEnabled() bool {
	enabled, err := envutil.ReadBool(fastConvEnv, true)
	if err != nil {
		klog.Fatalf("%s: %v", fastConvEnv, err)
	}
	return enabled
}

// sgemmKernel is the micro-kernel in use, named by sgemmKernelName.
var sgemmKernel = sgemmKernels()[sgemmKernelName]

// useKernel switches fastConv to the named micro-kernel and the epilogues that go with it; false if
// this CPU lacks it.
func useKernel(name string) bool {
	k, ok := sgemmKernels()[name]
	if ok {
		sgemmKernel, sgemmKernelName = k, name
		epilogueAsm, maskAsm = asmEpilogues(name)
	}
	return ok
}

// execConvGeneralFast runs ConvGeneral with fastConv when it applies, else with the upstream executor.
func execConvGeneralFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, owned []bool) (*gobackend.Buffer, error) {
	input, kernel := inputs[0], inputs[1]
	params := node.Data.(*convNode)
	plan, ok := newFastConvPlan(params, input.RawShape, kernel.RawShape, node.Shape)
	if !ok {
		if plan, ok := newBFloat16ConvPlan(params, input.RawShape, kernel.RawShape, node.Shape); ok {
			return execConvBFloat16(backend, node, plan, input, kernel)
		}
		return execConvGeneral(backend, node, inputs, owned)
	}
	if epi := params.epilogue; epi != nil && epi.reluMask {
		setMaskEpilogue(plan, epi, inputs[2:])
	} else if epi != nil {
		// Batch norm for inference fused into the convolution (convBNFusion): per output channel,
		// v*a + b with a = scale/sqrt(variance+epsilon), b = offset - mean*a.
		scale, offset := inputs[2].Flat.([]float32), inputs[3].Flat.([]float32)
		mean, variance := inputs[4].Flat.([]float32), inputs[5].Flat.([]float32)
		plan.epiA, plan.epiB, plan.epiReLU = make([]float32, plan.n), make([]float32, plan.n), epi.relu
		if epi.residual {
			plan.epiRes = inputs[6].Flat.([]float32)
		}
		for j := range plan.n {
			a := float64(scale[j]) / math.Sqrt(float64(variance[j])+float64(epi.epsilon))
			plan.epiA[j] = float32(a)
			plan.epiB[j] = float32(float64(offset[j]) - float64(mean[j])*a)
		}
	}
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	runConvPlan(plan, input.Flat.([]float32), kernel.Flat.([]float32), output.Flat.([]float32), runtime.GOMAXPROCS(0))
	return output, nil
}

// convEpilogue is a batch norm for inference, optionally followed by a residual addition and a ReLU,
// fused into a ConvGeneral node by convBNFusion; the node then has the batch norm's scale, offset, mean
// and variance as inputs 2 to 5, and the residual as input 6.
type convEpilogue struct {
	epsilon  float32
	residual bool // input 6, shaped like the output, is added after the batch norm (with reluMask: input 3, before the mask)
	relu     bool

	// reluMask (without batch norm): input 2, shaped like the output, zeroes the outputs where it is not
	// > 0 -- the gradient of a ReLU, Where(y > 0, conv, 0).
	reluMask bool
}

func init() {
	if fastEnabled() {
		gobackend.RegisterTransformation(50, convBNFusion{})
	}
}

// convBNFusion is a graph transformation: a float32 ConvGeneral that fastConv runs, with channels last,
// whose only consumer is a BatchNormForInference, optionally followed (through Identity nodes) by an
// Add of a same-shaped residual and by Max(., 0), becomes one ConvGeneral node that applies the batch
// norm (residual, ReLU) to its tiles as they are stored: up to three passes over the activations fewer
// at inference. The bypassed nodes become dead code.
type convBNFusion struct{}

// Name implements gobackend.GraphTransformation.
func (convBNFusion) Name() string { return "ConvBatchNormFusion" }

// Apply implements gobackend.GraphTransformation.
func (convBNFusion) Apply(b *gobackend.Builder) (bool, error) {
	modified := false
	for _, f := range b.Functions {
		// One fusion at a time, with the consumers of the nodes still live (reachable from the outputs)
		// recomputed after each: a fusion bypasses nodes and gives the convolution new inputs.
		done := make(map[*gobackend.Node]bool) // batch norms already examined
		for {
			single, live := singleConsumers(f)
			var bn *gobackend.Node
			for _, n := range f.Nodes {
				if n.OpType == compute.OpTypeBatchNormForInference && live[n] && !done[n] {
					bn = n
					break
				}
			}
			if bn == nil {
				break
			}
			done[bn] = true
			if len(bn.Inputs) != 5 {
				continue
			}
			conv := bn.Inputs[0]
			if conv.OpType != compute.OpTypeConvGeneral || single(conv) != bn || len(conv.Inputs) != 2 {
				continue
			}
			if !fusableConv(conv) || !conv.Shape.Equal(bn.Shape) {
				continue
			}
			// Follow single consumers through Identity nodes to an optional Add of a residual shaped like
			// the output (not a scalar: broadcasting is not fused), then to an optional Max(., 0).
			target, relu := bn, false
			var residual *gobackend.Node
			for cur := bn; ; {
				next := single(cur)
				if next == nil {
					break
				}
				if next.OpType == compute.OpTypeIdentity {
					cur = next
					continue
				}
				if len(next.Inputs) != 2 || !next.Shape.Equal(conv.Shape) {
					break
				}
				other := next.Inputs[1]
				if other == cur {
					other = next.Inputs[0]
				}
				if next.OpType == compute.OpTypeAdd && residual == nil && !relu && other != cur && other.Shape.Equal(conv.Shape) {
					target, residual, cur = next, other, next
					continue
				}
				if next.OpType == compute.OpTypeMax && isZeroScalarF32(other) {
					target, relu = next, true
				}
				break
			}
			extra := slices.Clone(bn.Inputs[1:5])
			if residual != nil {
				extra = append(extra, residual)
			}
			epi := &convEpilogue{epsilon: bn.Data.(*batchNormNode).epsilon, residual: residual != nil, relu: relu}
			attachEpilogue(f, conv, epi, extra, target)
			modified = true
		}
		if fuseReLUMasks(f) {
			modified = true
		}
	}
	return modified, nil
}

// fuseReLUMasks rewrites Where(GreaterThan(y, 0), conv, 0), with conv a fast-path ConvGeneral (channels
// last, no epilogue yet) read only by that Where (possibly through Identity nodes), into conv with a
// reluMask epilogue reading y: a ReLU's gradient applied as the convolution (the gradient flowing into
// the ReLU) stores its tiles.
func fuseReLUMasks(f *gobackend.Function) bool {
	modified := false
	for {
		single, live := singleConsumers(f)
		fused := false
		for _, w := range f.Nodes {
			if w.OpType != compute.OpTypeWhere || !live[w] || len(w.Inputs) != 3 || !isZeroScalarF32(w.Inputs[2]) {
				continue
			}
			cond := w.Inputs[0]
			if cond.OpType != compute.OpTypeGreaterThan || len(cond.Inputs) != 2 || !isZeroScalarF32(cond.Inputs[1]) {
				continue
			}
			y := cond.Inputs[0]
			// Back from w through Identity nodes, each read only by the next, to the convolution.
			conv, next := w.Inputs[1], w
			for conv.OpType == compute.OpTypeIdentity && len(conv.Inputs) == 1 && single(conv) == next {
				conv, next = conv.Inputs[0], conv
			}
			if single(conv) != next || !fusableConv(conv) || !y.Shape.Equal(conv.Shape) || !w.Shape.Equal(conv.Shape) {
				continue
			}
			attachEpilogue(f, conv, &convEpilogue{reluMask: true}, []*gobackend.Node{y}, w)
			fused, modified = true, true
			break
		}
		if !fused {
			return modified
		}
	}
}

// fusableConv reports whether n is a ConvGeneral that fastConv runs, with channels last, its plain two
// inputs and no epilogue yet: one that can take an epilogue.
func fusableConv(n *gobackend.Node) bool {
	if n.OpType != compute.OpTypeConvGeneral || len(n.Inputs) != 2 {
		return false
	}
	cd := n.Data.(*convNode)
	if cd.epilogue != nil || cd.axes.OutputChannels != n.Shape.Rank()-1 {
		return false
	}
	_, ok := newFastConvPlan(cd, n.Inputs[0].Shape, n.Inputs[1].Shape, n.Shape)
	return ok
}

// attachEpilogue gives conv (see fusableConv) the epilogue epi, reading the extra inputs, and makes
// everything that read replaced (the last node of the fused chain) read conv instead.
func attachEpilogue(f *gobackend.Function, conv *gobackend.Node, epi *convEpilogue, extra []*gobackend.Node, replaced *gobackend.Node) {
	data := *conv.Data.(*convNode)
	data.epilogue = epi
	conv.Data = &data
	conv.Inputs = append(conv.Inputs[:2:2], extra...)
	replaceUses(f, replaced, conv)
}

// singleConsumers returns single(n), the only live consumer of n (nil if n has several, none, or is an
// output of f), and the set of live nodes (reachable from f's outputs).
func singleConsumers(f *gobackend.Function) (single func(n *gobackend.Node) *gobackend.Node, live map[*gobackend.Node]bool) {
	consumers, live := liveConsumers(f)
	isOutput := make(map[*gobackend.Node]bool)
	for _, out := range f.Outputs {
		isOutput[out] = true
	}
	return func(n *gobackend.Node) *gobackend.Node {
		if isOutput[n] || len(consumers[n]) != 1 {
			return nil
		}
		return consumers[n][0]
	}, live
}

// replaceUses makes every node and output of f that reads old read replacement instead.
func replaceUses(f *gobackend.Function, old, replacement *gobackend.Node) {
	for _, n := range f.Nodes {
		for i, in := range n.Inputs {
			if in == old {
				n.Inputs[i] = replacement
			}
		}
	}
	for i, out := range f.Outputs {
		if out == old {
			f.Outputs[i] = replacement
		}
	}
}

// liveConsumers returns, for the nodes reachable from f's outputs, their consumers among those nodes.
func liveConsumers(f *gobackend.Function) (consumers map[*gobackend.Node][]*gobackend.Node, live map[*gobackend.Node]bool) {
	consumers = make(map[*gobackend.Node][]*gobackend.Node)
	live = make(map[*gobackend.Node]bool)
	stack := append([]*gobackend.Node(nil), f.Outputs...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if live[n] {
			continue
		}
		live[n] = true
		inputs := slices.Clone(n.Inputs)
		for _, captured := range n.CapturedInputs {
			inputs = append(inputs, captured...)
		}
		for _, in := range inputs {
			consumers[in] = append(consumers[in], n)
			stack = append(stack, in)
		}
	}
	return consumers, live
}

// isZeroScalarF32 reports whether n is a float32 constant holding a single 0.
func isZeroScalarF32(n *gobackend.Node) bool {
	if n.OpType != compute.OpTypeConstant || n.Shape.DType != dtypes.Float32 || n.Shape.Size() != 1 {
		return false
	}
	buf, ok := n.Data.(*gobackend.Buffer)
	return ok && buf.Flat.([]float32)[0] == 0
}

// fastConvPlan is the geometry of one convolution, with every axis reduced to an element stride.
type fastConvPlan struct {
	batch, cin, cout        int
	inDim, outDim, kDim     [2]int // input (undilated), output and kernel spatial sizes
	stride, padLow          [2]int
	inDil, kDil             [2]int
	inSB, inSC              int // input strides: batch, channel
	inSS                    [2]int
	kSI, kSO                int // kernel strides: input channel, output channel
	kSS                     [2]int
	outSB, outSC            int
	outSS                   [2]int
	m, n, k                 int
	npad                    int    // n rounded up to fcNR
	pDims                   [3]int // pixel components, outermost first
	pIn, pOut               [3]int // input and output strides of those components
	pSpatial                [3]int // which spatial axis (0, 1) each component is, or -1 for batch
	batchInnermostContigous bool   // innermost pixel component is the batch with input stride 1
	direct                  bool   // the output is the row-major [M, N] product: full tiles go straight to it
	mergeK1                 bool   // packA may copy the taps of a kernel row as one run
	directA                 bool   // X is the input itself, row-major [M, K] (1x1, stride 1, NHWC): not packed

	// A plan may cover one residue class of a dilated convolution (see dilationClasses): its output
	// position i along axis d is oStart[d] + i*oStep[d], its kernel tap j is kStart[d] + j*kStep[d], and
	// outBase is the output offset of its first position. Plain plans have starts 0 and steps 1.
	oStart, oStep, kStart, kStep [2]int
	outBase                      int

	// Fused epilogue (see convBNFusion): output v of channel n becomes v*epiA[n]+epiB[n], plus the
	// residual, then max(., 0) if epiReLU. nil epiA: none.
	epiA, epiB []float32
	epiRes     []float32 // residual added before the ReLU, shaped like the output; nil: none
	epiReLU    bool
	epiMask    []float32 // if set (and epiA nil): outputs where epiMask <= 0 (or NaN) become 0

	stats *convStats // if set: per-channel sums of the output for a fused batch norm (fusedbnstats.go)
}

// newFastConvPlan returns the plan of a float32 convolution, or false if fastConv does not handle it.
func newFastConvPlan(params *convNode, inShape, kShape, outShape shapes.Shape) (*fastConvPlan, bool) {
	if inShape.DType != dtypes.Float32 || kShape.DType != dtypes.Float32 || outShape.DType != dtypes.Float32 {
		return nil, false
	}
	return newConvPlanGeometry(params, inShape, kShape, outShape)
}

// newConvPlanGeometry returns the plan for the convolution's geometry, whatever its dtype, or false if
// fastConv does not handle that geometry.
func newConvPlanGeometry(params *convNode, inShape, kShape, outShape shapes.Shape) (*fastConvPlan, bool) {
	axes := params.axes
	if inShape.Rank() != 4 || len(axes.InputSpatial) != 2 || params.channelGroupCount > 1 || params.batchGroupCount > 1 {
		return nil, false
	}
	if inShape.Size() == 0 || kShape.Size() == 0 || outShape.Size() == 0 {
		return nil, false
	}
	inStr, kStr, outStr := inShape.Strides(), kShape.Strides(), outShape.Strides()
	p := &fastConvPlan{
		batch: inShape.Dimensions[axes.InputBatch],
		cin:   inShape.Dimensions[axes.InputChannels],
		cout:  kShape.Dimensions[axes.KernelOutputChannels],
		inSB:  inStr[axes.InputBatch], inSC: inStr[axes.InputChannels],
		kSI: kStr[axes.KernelInputChannels], kSO: kStr[axes.KernelOutputChannels],
		outSB: outStr[axes.OutputBatch], outSC: outStr[axes.OutputChannels],
	}
	if kShape.Dimensions[axes.KernelInputChannels] != p.cin || outShape.Dimensions[axes.OutputChannels] != p.cout ||
		outShape.Dimensions[axes.OutputBatch] != p.batch {
		return nil, false
	}
	for d := range 2 {
		p.inDim[d] = inShape.Dimensions[axes.InputSpatial[d]]
		p.outDim[d] = outShape.Dimensions[axes.OutputSpatial[d]]
		p.kDim[d] = kShape.Dimensions[axes.KernelSpatial[d]]
		p.inSS[d] = inStr[axes.InputSpatial[d]]
		p.kSS[d] = kStr[axes.KernelSpatial[d]]
		p.outSS[d] = outStr[axes.OutputSpatial[d]]
		p.stride[d] = 1
		if len(params.strides) > d && params.strides[d] > 0 {
			p.stride[d] = params.strides[d]
		}
		if len(params.paddings) > d {
			p.padLow[d] = params.paddings[d][0]
		}
		p.inDil[d], p.kDil[d] = 1, 1
		if len(params.inputDilations) > d && params.inputDilations[d] > 0 {
			p.inDil[d] = params.inputDilations[d]
		}
		if len(params.kernelDilations) > d && params.kernelDilations[d] > 0 {
			p.kDil[d] = params.kernelDilations[d]
		}
	}
	p.n = p.cout
	p.npad = (p.n + fcNR - 1) / fcNR * fcNR
	p.oStep, p.kStep = [2]int{1, 1}, [2]int{1, 1}
	p.derive()
	return p, true
}

// derive sets the sizes, pixel order and flags that follow from the geometry.
func (p *fastConvPlan) derive() {
	p.m = p.batch * p.outDim[0] * p.outDim[1]
	p.k = p.kDim[0] * p.kDim[1] * p.cin

	// Pixel components ordered by input stride, largest first, so that consecutive pixels tend to be
	// close in the input (for the kernel gradient, whose "batch" is the input's channel axis, the
	// batch becomes the innermost component and MR consecutive pixels are contiguous).
	comps := [3]struct{ dim, in, out, sp int }{
		{p.batch, p.inSB, p.outSB, -1},
		{p.outDim[0], p.inSS[0] * p.stride[0], p.outSS[0] * p.oStep[0], 0},
		{p.outDim[1], p.inSS[1] * p.stride[1], p.outSS[1] * p.oStep[1], 1},
	}
	if comps[0].in < comps[1].in && comps[0].in < comps[2].in {
		comps[0], comps[1], comps[2] = comps[1], comps[2], comps[0]
	}
	for i, c := range comps {
		p.pDims[i], p.pIn[i], p.pOut[i], p.pSpatial[i] = c.dim, c.in, c.out, c.sp
	}
	p.batchInnermostContigous = p.pSpatial[2] == -1 && p.inSB == 1
	// A 1x1, stride-1, unpadded convolution over an input whose pixels lie row after row in pixel order:
	// X is the input matrix [M, cin] itself.
	p.directA = p.kDim == [2]int{1, 1} && p.stride == [2]int{1, 1} && p.padLow == [2]int{} &&
		p.inDil == [2]int{1, 1} && p.oStep == [2]int{1, 1} && p.inSC == 1 && p.outDim == p.inDim &&
		p.pIn[2] == p.cin && p.pIn[1] == p.cin*p.pDims[2] && p.pIn[0] == p.cin*p.pDims[2]*p.pDims[1]
	// Consecutive taps of a kernel row read consecutive input channels runs (NHWC, no dilation holes).
	p.mergeK1 = p.inSC == 1 && p.inDil[1] == 1 && p.kStep[1] == 1 && p.inSS[1]*p.kDil[1] == p.cin
	// The output is the row-major [M, N] matrix itself when pixel m sits at m*N with unit channel stride.
	p.direct = p.outSC == 1 && p.n%fcNR == 0 && p.outBase == 0 && p.pOut[2] == p.n && p.pOut[1] == p.n*p.pDims[2] &&
		p.pOut[0] == p.n*p.pDims[2]*p.pDims[1]
}

// dilationClasses splits a convolution with input dilation (as in the gradient of a strided
// convolution with respect to its input) into one plan per residue class of output positions modulo
// the dilation: within a class every pixel meets the input's real (non-hole) elements through the same
// kernel taps, so each class is a product over those taps only, without the zeros (3/4 of the work for
// stride 2). It returns nil where that does not apply (no input dilation, or strided or dilated kernel).
func (p *fastConvPlan) dilationClasses() []*fastConvPlan {
	if p.inDil == [2]int{1, 1} || p.oStep != [2]int{1, 1} { // not dilated, or already a class
		return nil
	}
	for d := range 2 {
		if p.stride[d] != 1 || p.kDil[d] != 1 {
			return nil
		}
	}
	var classes []*fastConvPlan
	for r0 := range min(p.inDil[0], p.outDim[0]) {
		for r1 := range min(p.inDil[1], p.outDim[1]) {
			c := *p
			r := [2]int{r0, r1}
			for d := range 2 {
				step := p.inDil[d]
				c.oStart[d], c.oStep[d] = r[d], step
				c.outDim[d] = (p.outDim[d] - r[d] + step - 1) / step
				// Taps k with (r + k - padLow) divisible by the dilation.
				c.kStart[d] = ((p.padLow[d]-r[d])%step + step) % step
				c.kStep[d] = step
				c.kDim[d] = max(0, (p.kDim[d]-c.kStart[d]+step-1)/step)
			}
			c.outBase = r0*p.outSS[0] + r1*p.outSS[1]
			c.derive()
			classes = append(classes, &c)
		}
	}
	return classes
}

// pixel decomposes pixel index p into its batch index and output spatial position.
func (p *fastConvPlan) pixel(idx int) (b int, o [2]int, outOff int) {
	c2 := idx % p.pDims[2]
	idx /= p.pDims[2]
	c1 := idx % p.pDims[1]
	c0 := idx / p.pDims[1]
	comps := [3]int{c0, c1, c2}
	outOff = p.outBase
	for i, v := range comps {
		outOff += v * p.pOut[i]
		if s := p.pSpatial[i]; s < 0 {
			b = v
		} else {
			o[s] = p.oStart[s] + v*p.oStep[s]
		}
	}
	return
}

// tapOffset returns the input offset (without the channel) of pixel (b, o) at kernel tap (k0, k1), or
// -1 if it falls in padding or in a dilation hole.
func (p *fastConvPlan) tapOffset(b int, o [2]int, k0, k1 int) int {
	off := b * p.inSB
	for d, kk := range [2]int{k0, k1} {
		kk = p.kStart[d] + kk*p.kStep[d]
		pos := o[d]*p.stride[d] + kk*p.kDil[d] - p.padLow[d]
		if pos < 0 {
			return -1
		}
		if p.inDil[d] > 1 {
			if pos%p.inDil[d] != 0 {
				return -1
			}
			pos /= p.inDil[d]
		}
		if pos >= p.inDim[d] {
			return -1
		}
		off += pos * p.inSS[d]
	}
	return off
}

// float32Pool recycles scratch slices.
var float32Pool sync.Pool

func getFloat32s(n int) []float32 {
	if v := float32Pool.Get(); v != nil {
		s := *(v.(*[]float32))
		if cap(s) >= n {
			return s[:n]
		}
	}
	return make([]float32, n, n+n/4)
}

func putFloat32s(s []float32) { float32Pool.Put(&s) }

// run computes the convolution into out (fully overwritten) with up to workers goroutines.
func (p *fastConvPlan) run(in, kern, out []float32, workers int) {
	if classes := p.dilationClasses(); classes != nil {
		for _, c := range classes {
			c.run(in, kern, out, workers)
		}
		return
	}
	if p.k == 0 {
		// No kernel tap reaches a real input element (a residue class without taps): zeros.
		zeros := make([]float32, p.npad)
		for m := range p.m {
			p.storeC(out, zeros, m, 1)
		}
		return
	}
	if p.k >= fcSplitKMin && p.k > 4*p.m && p.m*p.npad <= 1<<16 && workers > 1 {
		p.runSplitK(in, kern, out, workers)
		return
	}
	nPanels := p.npad / fcNR
	bpack := getFloat32s(nPanels * p.k * fcNR)
	defer putFloat32s(bpack)

	// Block of output pixels per work item: enough items to balance the workers.
	mb := (p.m + 2*workers - 1) / (2 * workers)
	mb = (mb + fcMR - 1) / fcMR * fcMR
	mb = min(max(mb, fcMR), 16*fcMR)
	mBlocks := (p.m + mb - 1) / mb
	workers = max(1, min(workers, max(nPanels, mBlocks)))

	var wg sync.WaitGroup
	var next atomic.Int64
	parallel := func(fn func()) {
		wg.Add(workers)
		for range workers {
			go func() {
				defer wg.Done()
				fn()
			}()
		}
		wg.Wait()
	}

	// Phase 1: pack W into nPanels panels [k][NR].
	parallel(func() {
		for {
			np := int(next.Add(1) - 1)
			if np >= nPanels {
				return
			}
			p.packB(kern, bpack[np*p.k*fcNR:(np+1)*p.k*fcNR], np*fcNR, 0, p.k)
		}
	})

	// Phase 2: blocks of output pixels.
	if p.stats != nil {
		p.stats.start(mBlocks, p.n)
	}
	var kda func(k int, a *float32, lda int, b, c *float32, ldc int, accumulate bool)
	if p.directA {
		kda = sgemmKernelDirectA()
	}
	next.Store(0)
	parallel(func() {
		abuf := getFloat32s(mb * min(p.k, fcKC))
		cbuf := getFloat32s(mb * p.npad)
		defer putFloat32s(abuf)
		defer putFloat32s(cbuf)
		for {
			blk := int(next.Add(1) - 1)
			if blk >= mBlocks {
				return
			}
			m0 := blk * mb
			rows := min(mb, p.m-m0)
			mPanels := (rows + fcMR - 1) / fcMR
			fullPanels := rows / fcMR
			for kb := 0; kb < p.k; kb += fcKC {
				kc := min(fcKC, p.k-kb)
				if kda != nil {
					// Only a last, partial panel is packed (reading 12 rows from the input could run
					// past its end).
					if fullPanels < mPanels {
						p.packA(in, abuf[fullPanels*fcMR*kc:mPanels*fcMR*kc], m0+fullPanels*fcMR, rows-fullPanels*fcMR, kb, kc)
					}
				} else {
					p.packA(in, abuf[:mPanels*fcMR*kc], m0, rows, kb, kc)
				}
				for np := range nPanels {
					bp := bpack[np*p.k*fcNR+kb*fcNR:]
					for mp := range mPanels {
						if p.direct && mp < fullPanels {
							// Whole tile inside the output: the kernel writes it in place.
							at := (m0+mp*fcMR)*p.n + np*fcNR
							if kda != nil {
								kda(kc, &in[(m0+mp*fcMR)*p.cin+kb], p.cin, &bp[0], &out[at], p.n, kb > 0)
							} else {
								sgemmKernel(kc, &abuf[mp*fcMR*kc], &bp[0], &out[at], p.n, kb > 0)
							}
							if (p.epiA != nil || p.epiMask != nil) && kb+kc == p.k { // last block: the tile is final and in L1
								for r := range fcMR {
									p.applyEpilogue(out[at+r*p.n:at+r*p.n+fcNR], at+r*p.n, np*fcNR)
								}
							}
							if p.stats != nil && kb+kc == p.k {
								p.tileMoments(out, blk, at, np*fcNR)
							}
							continue
						}
						if kda != nil && mp < fullPanels {
							kda(kc, &in[(m0+mp*fcMR)*p.cin+kb], p.cin, &bp[0], &cbuf[mp*fcMR*p.npad+np*fcNR], p.npad, kb > 0)
							continue
						}
						sgemmKernel(kc, &abuf[mp*fcMR*kc], &bp[0], &cbuf[mp*fcMR*p.npad+np*fcNR], p.npad, kb > 0)
					}
				}
			}
			if p.direct {
				// Only the last, partial panel went to the scratch block.
				full := fullPanels * fcMR
				if full < rows {
					p.storeC(out, cbuf[full*p.npad:], m0+full, rows-full)
				}
			} else {
				p.storeC(out, cbuf, m0, rows)
			}
			if p.stats != nil {
				p.blockMoments(out, blk, m0, rows)
			}
		}
	})
}

// packB packs W[kb:kb+kc, n0:n0+NR] as [kc][NR], zero-padding columns past n.
func (p *fastConvPlan) packB(kern, dst []float32, n0, kb, kc int) {
	cols := min(fcNR, p.n-n0)
	if cols < fcNR {
		clear(dst[:kc*fcNR])
	}
	taps := p.kDim[0] * p.kDim[1]
	for t := kb / p.cin; t < min(taps, (kb+kc+p.cin-1)/p.cin); t++ {
		k0, k1 := t/p.kDim[1], t%p.kDim[1]
		tapOff := (p.kStart[0]+k0*p.kStep[0])*p.kSS[0] + (p.kStart[1]+k1*p.kStep[1])*p.kSS[1] + n0*p.kSO
		cA, cB := max(kb-t*p.cin, 0), min(kb+kc-t*p.cin, p.cin)
		r := t*p.cin + cA - kb // row in dst
		if p.kSO == 1 {
			for c := cA; c < cB; c++ {
				src := tapOff + c*p.kSI
				copy(dst[r*fcNR:r*fcNR+cols], kern[src:src+cols])
				r++
			}
			continue
		}
		for j := range cols {
			d := r*fcNR + j
			s := tapOff + j*p.kSO + cA*p.kSI
			for range cB - cA {
				dst[d] = kern[s]
				d += fcNR
				s += p.kSI
			}
		}
	}
}

// fcSplitKMin is the reduction size from which a convolution with few output rows (like the kernel
// gradient, whose reduction runs over every pixel of the batch) splits the reduction among the workers.
const fcSplitKMin = 4096

// runSplitK computes the convolution by splitting the reduction K among the workers: each packs its own
// blocks of both X and W (read once overall) and accumulates a private [M, N] result; the results are
// then summed into the output.
func (p *fastConvPlan) runSplitK(in, kern, out []float32, workers int) {
	nPanels := p.npad / fcNR
	mPanels := (p.m + fcMR - 1) / fcMR
	blocks := (p.k + fcKC - 1) / fcKC
	workers = min(workers, blocks)
	results := make([][]float32, workers)
	parallelForN(workers, workers, func(wLo, wHi int) {
		for w := wLo; w < wHi; w++ {
			abuf := getFloat32s(mPanels * fcMR * fcKC)
			bbuf := getFloat32s(nPanels * fcKC * fcNR)
			cbuf := getFloat32s(mPanels * fcMR * p.npad) // fully written by the first block (accumulate=false)
			first := true
			for blk := w * blocks / workers; blk < (w+1)*blocks/workers; blk++ {
				kb := blk * fcKC
				kc := min(fcKC, p.k-kb)
				p.packA(in, abuf[:mPanels*fcMR*kc], 0, p.m, kb, kc)
				for np := range nPanels {
					p.packB(kern, bbuf[np*kc*fcNR:(np+1)*kc*fcNR], np*fcNR, kb, kc)
				}
				for np := range nPanels {
					for mp := range mPanels {
						sgemmKernel(kc, &abuf[mp*fcMR*kc], &bbuf[np*kc*fcNR], &cbuf[mp*fcMR*p.npad+np*fcNR], p.npad, !first)
					}
				}
				first = false
			}
			results[w] = cbuf
			putFloat32s(abuf)
			putFloat32s(bbuf)
		}
	})
	sum := results[0]
	for _, r := range results[1:] {
		for i, v := range r {
			sum[i] += v
		}
	}
	p.storeC(out, sum, 0, p.m)
	for _, r := range results {
		putFloat32s(r)
	}
}

// packA packs X[m0:m0+rows, kb:kb+kc] as panels [rows/MR][kc][MR], zero-padding rows past `rows`.
func (p *fastConvPlan) packA(in, dst []float32, m0, rows, kb, kc int) {
	mPanels := (rows + fcMR - 1) / fcMR
	taps := p.kDim[0] * p.kDim[1]
	t0, t1 := kb/p.cin, (kb+kc+p.cin-1)/p.cin // taps overlapping [kb, kb+kc)
	for mp := range mPanels {
		panel := dst[mp*fcMR*kc : (mp+1)*fcMR*kc]
		first := mp * fcMR
		n := min(fcMR, rows-first)
		if n < fcMR {
			clear(panel)
		}
		b, o, _ := p.pixel(m0 + first)
		if n == fcMR && p.batchInnermostContigous && b+fcMR <= p.batch {
			// The MR pixels differ only by batch index, contiguous in the input: copy MR floats per r.
			for t := t0; t < min(t1, taps); t++ {
				off := p.tapOffset(b, o, t/p.kDim[1], t%p.kDim[1])
				cA, cB := max(kb-t*p.cin, 0), min(kb+kc-t*p.cin, p.cin)
				d := (t*p.cin + cA - kb) * fcMR
				if off < 0 {
					clear(panel[d : d+(cB-cA)*fcMR])
					continue
				}
				s := off + cA*p.inSC
				_ = panel[d+(cB-cA-1)*fcMR+fcMR-1]
				_ = in[s+(cB-cA-1)*p.inSC+fcMR-1]
				for range cB - cA {
					*(*[fcMR]float32)(panel[d : d+fcMR]) = *(*[fcMR]float32)(in[s : s+fcMR])
					d += fcMR
					s += p.inSC
				}
			}
			continue
		}
		tEnd := min(t1, taps)
		for j := range n {
			b, o, _ := p.pixel(m0 + first + j)
			for t := t0; t < tEnd; t++ {
				k0, k1 := t/p.kDim[1], t%p.kDim[1]
				off := p.tapOffset(b, o, k0, k1)
				cA, cB := max(kb-t*p.cin, 0), min(kb+kc-t*p.cin, p.cin)
				if p.mergeK1 && off >= 0 {
					// Taps t..te-1 of this kernel row read consecutive input: one run if its last tap is
					// also inside the input (validity is monotonic along the row).
					te := min(tEnd, t-k1+p.kDim[1])
					if te > t+1 && p.tapOffset(b, o, k0, k1+te-1-t) >= 0 {
						cnt := (te-1-t)*p.cin + min(kb+kc-(te-1)*p.cin, p.cin) - cA
						storeColumn(panel, (t*p.cin+cA-kb)*fcMR+j, in[off+cA:off+cA+cnt])
						t = te - 1
						continue
					}
				}
				d := (t*p.cin+cA-kb)*fcMR + j
				if off < 0 {
					for range cB - cA {
						panel[d] = 0
						d += fcMR
					}
					continue
				}
				s := off + cA*p.inSC
				if p.inSC == 1 {
					storeColumn(panel, d, in[s:s+cB-cA])
					continue
				}
				for range cB - cA {
					panel[d] = in[s]
					d += fcMR
					s += p.inSC
				}
			}
		}
	}
}

// storeColumn writes src down one column of a packed [.][MR] panel: panel[d + i*MR] = src[i]. The last
// index is bounds-checked once; the loop has no checks.
func storeColumn(panel []float32, d int, src []float32) {
	if len(src) == 0 {
		return
	}
	_ = panel[d+(len(src)-1)*fcMR]
	dp := unsafe.Pointer(&panel[d])
	for _, v := range src {
		*(*float32)(dp) = v
		dp = unsafe.Add(dp, 4*fcMR)
	}
}

// storeC copies rows [m0, m0+rows) of the scratch block cbuf ([rows][npad]) to the output.
func (p *fastConvPlan) storeC(out, cbuf []float32, m0, rows int) {
	for i := range rows {
		_, _, off := p.pixel(m0 + i)
		src := cbuf[i*p.npad : i*p.npad+p.n]
		if p.outSC == 1 {
			copy(out[off:off+p.n], src)
			p.applyEpilogue(out[off:off+p.n], off, 0)
			continue
		}
		for _, v := range src {
			out[off] = v
			off += p.outSC
		}
	}
}

// applyEpilogue applies the fused batch norm (then residual, then ReLU), if any, to row: the output
// values at offset off, channels n0.. (contiguous: the fusion pass only fuses such outputs).
func (p *fastConvPlan) applyEpilogue(row []float32, off, n0 int) {
	if p.epiMask != nil {
		mask := p.epiMask[off : off+len(row)]
		if p.epiRes != nil { // a gradient sum fused by fuseMaskedGradientAdds (fusedbngrad.go)
			addRow(row, p.epiRes[off:off+len(row)])
		}
		if maskAsm != nil && len(row)%16 == 0 && len(row) > 0 {
			maskAsm(&row[0], &mask[0], len(row))
			return
		}
		for j, m := range mask {
			if !(m > 0) {
				row[j] = 0
			}
		}
		return
	}
	if p.epiA == nil {
		return
	}
	a, b := p.epiA[n0:n0+len(row)], p.epiB[n0:n0+len(row)]
	if epilogueAsm != nil && len(row)%16 == 0 && len(row) > 0 {
		var res *float32
		if p.epiRes != nil {
			res = &p.epiRes[off : off+len(row)][0]
		}
		epilogueAsm(&row[0], &a[0], &b[0], res, len(row), p.epiReLU)
		return
	}
	switch {
	case p.epiRes != nil:
		res := p.epiRes[off : off+len(row)]
		if p.epiReLU {
			for j, v := range row {
				row[j] = max(v*a[j]+b[j]+res[j], 0)
			}
		} else {
			for j, v := range row {
				row[j] = v*a[j] + b[j] + res[j]
			}
		}
	case p.epiReLU:
		for j, v := range row {
			row[j] = max(v*a[j]+b[j], 0)
		}
	default:
		for j, v := range row {
			row[j] = v*a[j] + b[j]
		}
	}
}

// sgemmKernelGo is the portable micro-kernel:
// c[r*ldc + j] (+)= sum_{i<k} a[i*MR + r] * b[i*NR + j] for r < MR, j < NR.
func sgemmKernelGo(k int, a, b, c *float32, ldc int, accumulate bool) {
	as := unsafe.Slice(a, k*fcMR)
	bs := unsafe.Slice(b, k*fcNR)
	cs := unsafe.Slice(c, (fcMR-1)*ldc+fcNR)
	var acc [fcMR][fcNR]float32
	for i := range k {
		av := as[i*fcMR : i*fcMR+fcMR]
		bv := (*[fcNR]float32)(bs[i*fcNR : i*fcNR+fcNR])
		for r, x := range av {
			row := &acc[r]
			for j, y := range bv {
				row[j] += x * y
			}
		}
	}
	for r := range fcMR {
		row := cs[r*ldc : r*ldc+fcNR]
		if accumulate {
			for j := range row {
				row[j] += acc[r][j]
			}
		} else {
			copy(row, acc[r][:])
		}
	}
}
