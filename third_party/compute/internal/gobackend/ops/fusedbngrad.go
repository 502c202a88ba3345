// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

// fusedbngrad: the batch-norm gradient's reductions from the convolution computing its output gradient.
//
// In a ResNet's backward pass, the gradient dy reaching a batch norm followed by a ReLU is computed by a
// convolution (the input gradient of the next convolution) with the ReLU's mask fused into it
// (fuseReLUMasks). BatchNormGradient then reads x and dy twice: once for sum(dy) and sum(dy*xhat), once
// for dx. bnGradientFusion (GOMLX_FUSE_BNGRAD, off by default) makes the BatchNormGradient node run that convolution: it
// sums dy and dy*(x-mean) per channel for each block of output pixels right after storing it (dy still
// in cache), so only the pass computing dx reads dy from memory again. dy stays available as a fourth
// output of the node for any other reader.
//
// Where a ReLU's output feeds two layers (a ResNet block's output: the next block's convolution and its
// residual addition), its gradient is Where(GreaterThan(y, 0), Add(dConv, dOther), 0): an addition, a
// comparison and a select, three passes. maskedGradientAddFusion (GOMLX_FUSE_GRADADD) makes the
// convolution computing dConv add dOther and apply the mask as it stores its tiles.

import (
	"runtime"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
)

const (
	// fuseBNGradEnv set to true puts the output gradient's convolution into the batch-norm gradient. Off
	// by default, as GOMLX_FUSE_BNSTATS (see fuseBNStatsEnv): the convolution's input stays alive while
	// dx and dy are allocated.
	fuseBNGradEnv = "GOMLX_FUSE_BNGRAD"
	// fuseGradAddEnv set to false keeps masked gradient sums out of the convolutions.
	fuseGradAddEnv = "GOMLX_FUSE_GRADADD"
)

// fuseBNGrad and fuseGradAdd are what the environment asked for (tests switch them).
var fuseBNGrad, fuseGradAdd bool

func init() {
	if !fastEnabled() {
		return
	}
	fuseBNGrad, fuseGradAdd = envSwitch(fuseBNGradEnv, false), envSwitch(fuseGradAddEnv, true)
	// Both after convBNFusion (50), whose fuseReLUMasks gives the convolutions their plain masks; the
	// batch-norm gradient takes the convolutions with their masks and sums.
	gobackend.RegisterTransformation(45, maskedGradientAddFusion{})
	gobackend.RegisterTransformation(40, bnGradientFusion{})
}

// fusedBNGradient is the data of a BatchNormGradient node that computes its gradOutput with the
// convolution conv (and conv's ReLU mask epilogue, if any): its inputs are the operand, scale, mean,
// variance, then the convolution's input, kernel and mask (if any); its outputs dx, dScale, dOffset and
// the convolution's result dy.
type fusedBNGradient struct {
	epsilon float32
	conv    *convNode
}

// bnGradientFusion is the graph transformation described in the file comment.
type bnGradientFusion struct{}

// Name implements gobackend.GraphTransformation.
func (bnGradientFusion) Name() string { return "BatchNormGradientFusion" }

// Apply implements gobackend.GraphTransformation.
func (bnGradientFusion) Apply(b *gobackend.Builder) (bool, error) {
	if !fuseBNGrad {
		return false, nil
	}
	modified := false
	for _, f := range b.Functions {
		for _, bg := range slices.Clone(f.Nodes) {
			if bg.OpType == compute.OpTypeBatchNormGradient && bg.IsMultiOutputs() && !bg.IsNodeSelectOutput &&
				len(bg.MultiOutputsNodes) == 3 && fuseGradConvIntoBN(f, bg) {
				modified = true
			}
		}
	}
	return modified, nil
}

// fuseGradConvIntoBN makes the live batch-norm gradient bg run the convolution computing its gradOutput,
// if fastConv runs it with channels last (with no epilogue or a ReLU mask), and gives every other reader
// of the convolution bg's new fourth output.
func fuseGradConvIntoBN(f *gobackend.Function, bg *gobackend.Node) bool {
	_, live := liveConsumers(f)
	conv := bg.Inputs[4]
	if !live[bg] || !gradConvFusable(conv) || !conv.Shape.Equal(bg.Inputs[0].Shape) {
		return false
	}
	bg.Data = &fusedBNGradient{epsilon: bg.Data.(*batchNormNode).epsilon, conv: conv.Data.(*convNode)}
	bg.Inputs = append(bg.Inputs[:4:4], conv.Inputs...)
	replaceUses(f, conv, appendOutput(f, bg, conv.Shape))
	return true
}

// gradConvFusable reports whether n is a ConvGeneral that fastConv runs, with channels last, static
// shapes and either no epilogue or only a ReLU mask (with or without a gradient sum).
func gradConvFusable(n *gobackend.Node) bool {
	if n.OpType != compute.OpTypeConvGeneral || n.Shape.IsDynamic() {
		return false
	}
	cd := n.Data.(*convNode)
	plain := cd.epilogue == nil && len(n.Inputs) == 2
	masked := cd.epilogue != nil && cd.epilogue.reluMask && !cd.epilogue.residual && len(n.Inputs) == 3
	maskedSum := cd.epilogue != nil && cd.epilogue.reluMask && cd.epilogue.residual && len(n.Inputs) == 4
	if !(plain || masked || maskedSum) || cd.axes.OutputChannels != n.Shape.Rank()-1 {
		return false
	}
	_, ok := newFastConvPlan(cd, n.Inputs[0].Shape, n.Inputs[1].Shape, n.Shape)
	return ok
}

// execFusedBNGradient runs a BatchNormGradient node extended by bnGradientFusion.
func execFusedBNGradient(backend *gobackend.Backend, node *gobackend.Node, fused *fusedBNGradient, inputs []*gobackend.Buffer) ([]*gobackend.Buffer, error) {
	x, scale := inputs[0].Flat.([]float32), inputs[1].Flat.([]float32)
	mean, variance := inputs[2].Flat.([]float32), inputs[3].Flat.([]float32)
	convIn, kernel := inputs[4], inputs[5]
	plan, err := fusedConvPlan(node, fused.conv, convIn, kernel)
	if err != nil {
		return nil, err
	}
	outs, err := getBuffers(backend, node.MultiOutputsShapes)
	if err != nil {
		return nil, err
	}
	if fused.conv.epilogue != nil {
		setMaskEpilogue(plan, fused.conv.epilogue, inputs[6:])
	}
	dy := outs[3].Flat.([]float32)
	plan.stats = &convStats{x: x, mean: mean}
	plan.run(convIn.Flat.([]float32), kernel.Flat.([]float32), dy, runtime.GOMAXPROCS(0))
	inv := invStd(variance, float64(fused.epsilon))
	sums := plan.stats.total(plan.n)
	if sums == nil { // a convolution path that does not collect them (see convStats)
		sums = gradientSums(x, dy, mean, inv)
	} else {
		for j, v := range inv {
			sums[1][j] *= float64(v) // sum(dy*(x-mean)) * inv = sum(dy*xhat)
		}
	}
	batchNormGradientApply(x, dy, outs, scale, mean, inv, sums)
	return outs, nil
}

// setMaskEpilogue sets plan's ReLU-mask epilogue epi from the convolution's extra inputs: the mask's
// operand, then the gradient added before the mask (if epi.residual).
func setMaskEpilogue(plan *fastConvPlan, epi *convEpilogue, extra []*gobackend.Buffer) {
	plan.epiMask = extra[0].Flat.([]float32)
	if epi.residual {
		plan.epiRes = extra[1].Flat.([]float32)
	}
}

// maskedGradientAddFusion is the graph transformation described in the file comment.
type maskedGradientAddFusion struct{}

// Name implements gobackend.GraphTransformation.
func (maskedGradientAddFusion) Name() string { return "MaskedGradientAddFusion" }

// Apply implements gobackend.GraphTransformation.
func (maskedGradientAddFusion) Apply(b *gobackend.Builder) (bool, error) {
	if !fuseGradAdd {
		return false, nil
	}
	modified := false
	for _, f := range b.Functions {
		for fuseMaskedGradientAdd(f) {
			modified = true
		}
	}
	return modified, nil
}

// fuseMaskedGradientAdd rewrites one live Where(GreaterThan(y, 0), Add(conv, other), 0), with conv a
// fast-path ConvGeneral (channels last, no epilogue) read only by the Add, read only by the Where, into
// conv with a ReLU-mask epilogue reading y that adds other first; false if there is none.
func fuseMaskedGradientAdd(f *gobackend.Function) bool {
	single, live := singleConsumers(f)
	for _, w := range f.Nodes {
		if w.OpType != compute.OpTypeWhere || !live[w] || len(w.Inputs) != 3 || !isZeroScalarF32(w.Inputs[2]) {
			continue
		}
		cond, add := w.Inputs[0], w.Inputs[1]
		if cond.OpType != compute.OpTypeGreaterThan || len(cond.Inputs) != 2 || !isZeroScalarF32(cond.Inputs[1]) ||
			add.OpType != compute.OpTypeAdd || len(add.Inputs) != 2 || single(add) != w {
			continue
		}
		y := cond.Inputs[0]
		for i, conv := range add.Inputs {
			other := add.Inputs[1-i]
			if single(conv) != add || !fusableConv(conv) || other == conv || !other.Shape.Equal(conv.Shape) ||
				!y.Shape.Equal(conv.Shape) || !w.Shape.Equal(conv.Shape) || dependsOn(y, conv) {
				continue
			}
			attachEpilogue(f, conv, &convEpilogue{reluMask: true, residual: true}, []*gobackend.Node{y, other}, w)
			return true
		}
	}
	return false
}

// addRowGo adds src to dst.
func addRowGo(dst, src []float32) {
	for j, v := range src {
		dst[j] += v
	}
}
