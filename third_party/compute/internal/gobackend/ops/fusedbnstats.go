// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

// fusedbnstats: fewer passes over the activations in training.
//
// A ResNet training step runs conv -> BatchNormForTraining -> [Add(., residual)] -> Max(., 0) for every
// convolution. Unfused, the batch norm reads the convolution's output twice (statistics, then
// normalisation) and the addition and the ReLU each read and write a tensor of that size again.
// bnTrainingFusion, a graph transformation, makes
//
//   - the batch norm run the convolution itself (GOMLX_FUSE_BNSTATS, off by default: see fuseBNStatsEnv):
//     the convolution sums its output per
//     channel (float64 sums of v and v^2, one partial per block of output pixels, added in block order)
//     as it stores each tile (or, where tiles go through a scratch block, each block), while it is in
//     cache, so the statistics cost no pass over memory. The
//     convolution's result stays available as a fourth output of the batch-norm node (the batch-norm
//     gradient reads it);
//   - the batch norm's normalisation add the residual and apply the ReLU in the same pass
//     (GOMLX_FUSE_BNRELU). The ReLU gradients' masks, GreaterThan(v, 0) of the pre-ReLU value v, then
//     read the ReLU's output, which is > 0 exactly where v is (NaN included: NaN stays NaN).

import (
	"runtime"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/compute/support/envutil"
	"github.com/pkg/errors"
	"k8s.io/klog/v2"
)

const (
	// fuseBNStatsEnv set to true puts the convolution into the training batch norm. Off by default: on
	// ResNet50 training (2-core Zen 5, AVX-512, shared) it took as much CPU time as the pass it saves
	// (the sums of a just-stored tile run at about 1 ns per value inside the convolution, against
	// 0.2 in a hot loop), and with GOMLX_FUSE_BNGRAD it added 11% to the peak memory.
	fuseBNStatsEnv = "GOMLX_FUSE_BNSTATS"
	// fuseBNReLUEnv set to false keeps the residual addition and the ReLU out of the training batch norm.
	fuseBNReLUEnv = "GOMLX_FUSE_BNRELU"
)

// fuseBNStats and fuseBNReLU are what the environment asked for (tests switch them).
var fuseBNStats, fuseBNReLU bool

func init() {
	if !fastEnabled() {
		return
	}
	fuseBNStats, fuseBNReLU = envSwitch(fuseBNStatsEnv, false), envSwitch(fuseBNReLUEnv, true)
	gobackend.RegisterTransformation(60, bnTrainingFusion{})
}

// envSwitch reads a boolean environment variable, def if unset; an unparsable value stops the program.
func envSwitch(name string, def bool) bool {
	on, err := envutil.ReadBool(name, def)
	if err != nil {
		klog.Fatalf("%s: %v", name, err)
	}
	return on
}

// fusedBNTraining is the data of a BatchNormForTraining node that bnTrainingFusion extended. Its
// inputs are the convolution's input and kernel (if conv is set) or the operand, then scale and offset,
// then the residual (if residual). Its outputs are the normalised value (after the residual and ReLU,
// if set), the batch mean and variance, and the convolution's result (if conv is set).
type fusedBNTraining struct {
	epsilon  float32
	conv     *convNode // the convolution whose result is normalised
	residual bool      // the last input, shaped like the output, is added after normalising
	relu     bool      // max(., 0) last
}

// bnTrainingFusion is the graph transformation described in the file comment.
type bnTrainingFusion struct{}

// Name implements gobackend.GraphTransformation.
func (bnTrainingFusion) Name() string { return "BatchNormTrainingFusion" }

// Apply implements gobackend.GraphTransformation.
func (bnTrainingFusion) Apply(b *gobackend.Builder) (bool, error) {
	modified := false
	for _, f := range b.Functions {
		for _, bn := range slices.Clone(f.Nodes) {
			if bn.OpType != compute.OpTypeBatchNormForTraining || !bn.IsMultiOutputs() || bn.IsNodeSelectOutput ||
				len(bn.MultiOutputsNodes) != 3 || bn.MultiOutputsShapes[0].IsDynamic() {
				continue
			}
			if fuseBNStats && fuseConvIntoBN(f, bn) {
				modified = true
			}
			if fuseBNReLU && fuseReLUIntoBN(f, bn) {
				modified = true
			}
		}
	}
	return modified, nil
}

// fusedData returns bn's data as a fusedBNTraining, converting (and setting) it on first use.
func fusedData(bn *gobackend.Node) *fusedBNTraining {
	if d, ok := bn.Data.(*fusedBNTraining); ok {
		return d
	}
	d := &fusedBNTraining{epsilon: bn.Data.(*batchNormNode).epsilon}
	bn.Data = d
	return d
}

// fuseConvIntoBN makes the live batch norm bn run the convolution producing its operand, if fastConv
// runs it with channels last, and gives every other reader of the convolution bn's new fourth output.
func fuseConvIntoBN(f *gobackend.Function, bn *gobackend.Node) bool {
	_, live := liveConsumers(f)
	conv := bn.Inputs[0]
	if !live[bn] || !fusableConv(conv) || conv.Shape.IsDynamic() || !conv.Shape.Equal(bn.MultiOutputsShapes[0]) {
		return false
	}
	fusedData(bn).conv = conv.Data.(*convNode)
	bn.Inputs = append([]*gobackend.Node{conv.Inputs[0], conv.Inputs[1]}, bn.Inputs[1:]...)
	replaceUses(f, conv, appendOutput(f, bn, conv.Shape))
	return true
}

// appendOutput gives the multi-output node n one more output, shaped shape, and returns its node.
func appendOutput(f *gobackend.Function, n *gobackend.Node, shape shapes.Shape) *gobackend.Node {
	out := &gobackend.Node{
		Builder:            n.Builder,
		OpType:             n.OpType,
		Index:              len(f.Nodes),
		Shape:              shape.Clone(),
		Inputs:             []*gobackend.Node{n},
		IsNodeSelectOutput: true,
		SelectOutputIdx:    len(n.MultiOutputsNodes),
		Function:           f,
	}
	f.Nodes = append(f.Nodes, out)
	n.MultiOutputsNodes = append(n.MultiOutputsNodes, out)
	n.MultiOutputsShapes = append(n.MultiOutputsShapes, out.Shape)
	return out
}

// fuseReLUIntoBN follows bn's normalised output through Identity nodes, an optional Add of a residual
// shaped like it, and Identity nodes to Max(., 0): if each reads the previous as its only live consumer
// (besides ReLU masks GreaterThan(., 0) after the Add), bn applies the Add and the ReLU and its output
// replaces the Max's; the masks read it instead of the pre-ReLU values.
func fuseReLUIntoBN(f *gobackend.Function, bn *gobackend.Node) bool {
	consumers, live := liveConsumers(f)
	isOutput := make(map[*gobackend.Node]bool)
	for _, out := range f.Outputs {
		isOutput[out] = true
	}
	y := bn.MultiOutputsNodes[0]
	var masks []*gobackend.Node
	var residual, relu *gobackend.Node
	for cur := y; relu == nil; {
		if !live[cur] || isOutput[cur] {
			return false
		}
		var next *gobackend.Node
		for _, c := range consumers[cur] {
			if isReLUMask(c, cur) {
				masks = append(masks, c)
			} else if next != nil {
				return false // a second reader
			} else {
				next = c
			}
		}
		if next == nil || !next.Shape.Equal(y.Shape) || next.IsMultiOutputs() {
			return false
		}
		switch {
		case next.OpType == compute.OpTypeIdentity && len(next.Inputs) == 1:
		case next.OpType == compute.OpTypeAdd && residual == nil && len(masks) == 0 && len(next.Inputs) == 2:
			residual = next.Inputs[1]
			if residual == cur {
				residual = next.Inputs[0]
			}
			if residual == cur || !residual.Shape.Equal(y.Shape) || residual.Function != f || dependsOn(residual, bn) {
				return false
			}
		case next.OpType == compute.OpTypeMax && len(next.Inputs) == 2 && next.Inputs[0] == cur && isZeroScalarF32(next.Inputs[1]):
			relu = next
		default:
			return false
		}
		cur = next
	}
	d := fusedData(bn)
	d.relu, d.residual = true, residual != nil
	if residual != nil {
		bn.Inputs = append(bn.Inputs, residual)
	}
	for _, m := range masks {
		m.Inputs[0] = relu
	}
	replaceUses(f, relu, y)
	return true
}

// isReLUMask reports whether n is GreaterThan(v, 0).
func isReLUMask(n, v *gobackend.Node) bool {
	return n.OpType == compute.OpTypeGreaterThan && len(n.Inputs) == 2 && n.Inputs[0] == v && isZeroScalarF32(n.Inputs[1])
}

// dependsOn reports whether target is n or one of the nodes n is computed from.
func dependsOn(n, target *gobackend.Node) bool {
	seen := make(map[*gobackend.Node]bool)
	stack := []*gobackend.Node{n}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if cur == target {
			return true
		}
		if seen[cur] {
			continue
		}
		seen[cur] = true
		stack = append(stack, cur.Inputs...)
		for _, captured := range cur.CapturedInputs {
			stack = append(stack, captured...)
		}
	}
	return false
}

// execFusedBNTraining runs a BatchNormForTraining node extended by bnTrainingFusion.
func execFusedBNTraining(backend *gobackend.Backend, node *gobackend.Node, fused *fusedBNTraining, inputs []*gobackend.Buffer) ([]*gobackend.Buffer, error) {
	var plan *fastConvPlan
	if fused.conv != nil {
		var err error
		if plan, err = fusedConvPlan(node, fused.conv, inputs[0], inputs[1]); err != nil {
			return nil, err
		}
	}
	outs, err := getBuffers(backend, node.MultiOutputsShapes)
	if err != nil {
		return nil, err
	}
	var x []float32
	var sums [][]float64
	if plan != nil {
		x = outs[3].Flat.([]float32)
		plan.stats = new(convStats)
		plan.run(inputs[0].Flat.([]float32), inputs[1].Flat.([]float32), x, runtime.GOMAXPROCS(0))
		sums = plan.stats.total(plan.n)
		inputs = inputs[2:]
	} else {
		x = inputs[0].Flat.([]float32)
		inputs = inputs[1:]
	}
	scale, offset := inputs[0].Flat.([]float32), inputs[1].Flat.([]float32)
	c := len(scale)
	if sums == nil { // a convolution path that does not collect them (see convStats)
		sums = channelMoments(x, c)
	}
	y, meanOut, varOut := outs[0].Flat.([]float32), outs[1].Flat.([]float32), outs[2].Flat.([]float32)
	mean, a := batchStatistics(sums, len(x)/c, scale, float64(fused.epsilon), meanOut, varOut)
	var res []float32
	if fused.residual {
		res = inputs[2].Flat.([]float32)
	}
	rowsParallel(len(x)/c, func(row int) {
		lo, hi := row*c, row*c+c
		var r []float32
		if res != nil {
			r = res[lo:hi]
		}
		normalizeRow(x[lo:hi], y[lo:hi], mean, a, offset, r, fused.relu)
	})
	return outs, nil
}

// fusedConvPlan returns the plan of the convolution params of input in and kernel kern that the
// batch-norm node runs (its output is the node's fourth); an error where fastConv does not run it,
// which the transformations rule out.
func fusedConvPlan(node *gobackend.Node, params *convNode, in, kern *gobackend.Buffer) (*fastConvPlan, error) {
	plan, ok := newFastConvPlan(params, in.RawShape, kern.RawShape, node.MultiOutputsShapes[3])
	if !ok {
		return nil, errors.Errorf("%s with a fused convolution: fastConv does not run %s * %s", node.OpType,
			in.RawShape, kern.RawShape)
	}
	return plan, nil
}

// normalizeRowGo sets y = (x-mean)*a + offset (+ res if not nil), then max(., 0) if relu (NaN stays
// NaN), per channel.
func normalizeRowGo(x, y, mean, a, offset, res []float32, relu bool) {
	for j, v := range x {
		o := (v-mean[j])*a[j] + offset[j]
		if res != nil {
			o += res[j]
		}
		if relu {
			o = max(o, 0)
		}
		y[j] = o
	}
}

// convStats collects per-channel sums of a convolution's output and its square in fastConvPlan.run: one
// float64 partial per block of output pixels, summed in block order (the same result whatever worker
// ran which block). Only the blocked path collects them (not the split reduction, nor the residue
// classes of a dilated convolution): total is then nil.
//
// With x and mean set, the convolution's output is the gradient dy of a batch norm's output, and the
// sums are those of dy and of dy*(x-mean), for the batch norm's operand x (shaped like dy) and mean.
type convStats struct {
	partial []float64 // [block][2][n]
	starts  int
	x, mean []float32
}

// start prepares for blocks blocks of n channels.
func (s *convStats) start(blocks, n int) {
	s.starts++
	s.partial = make([]float64, blocks*2*n)
}

// total returns the sums of the output and of its square per channel, or nil if they were not
// collected by exactly one blocked run.
func (s *convStats) total(n int) [][]float64 {
	if s.starts != 1 {
		return nil
	}
	sum, sq := make([]float64, n), make([]float64, n)
	for blk := 0; blk < len(s.partial); blk += 2 * n {
		for j := range n {
			sum[j] += s.partial[blk+j]
			sq[j] += s.partial[blk+n+j]
		}
	}
	return [][]float64{sum, sq}
}

// blockMoments adds the output rows [m0, m0+rows) of block blk (just stored) to the block's partial
// sums, except, in a direct plan, the full tiles, which tileMoments counted as they were stored.
func (p *fastConvPlan) blockMoments(out []float32, blk, m0, rows int) {
	if p.direct {
		full := rows / fcMR * fcMR
		m0, rows = m0+full, rows-full
	}
	offs := make([]int, rows)
	for i := range offs {
		_, _, offs[i] = p.pixel(m0 + i)
	}
	p.addMoments(out, blk, offs, 0, p.n)
}

// tileMoments adds the final output tile of a direct plan at offset at (MR rows, channels n0 to
// n0+NR), in L1 as the micro-kernel and epilogue just wrote it, to the partial sums of block blk.
func (p *fastConvPlan) tileMoments(out []float32, blk, at, n0 int) {
	var offs [fcMR]int
	for r := range offs {
		offs[r] = at + r*p.n
	}
	p.addMoments(out, blk, offs[:], n0, fcNR)
}

// addMoments adds channels [n0, n0+cols) of the rows of out starting at offs (pointing at channel n0)
// to the partial sums of block blk.
func (p *fastConvPlan) addMoments(out []float32, blk int, offs []int, n0, cols int) {
	acc := p.stats.partial[blk*2*p.n : (blk+1)*2*p.n]
	sum, sq := acc[n0:n0+cols], acc[p.n+n0:p.n+n0+cols]
	if p.stats.x != nil {
		rowGradientMoments(out, p.stats.x, offs, p.stats.mean[n0:n0+cols], sum, sq)
		return
	}
	rowMoments(out, offs, sum, sq)
}

// rowMomentsGo adds, for every row out[off:off+len(sum)] with off in offs, v to sum and v*v to sq per
// channel, in float64.
func rowMomentsGo(out []float32, offs []int, sum, sq []float64) {
	for _, off := range offs {
		for j, v := range out[off : off+len(sum)] {
			f := float64(v)
			sum[j] += f
			sq[j] += f * f
		}
	}
}

// rowGradientMomentsGo adds, for every row at off in offs of dy and x, dy to sum and dy*(x-mean) to
// sdx per channel, in float64.
func rowGradientMomentsGo(dy, x []float32, offs []int, mean []float32, sum, sdx []float64) {
	for _, off := range offs {
		xr := x[off : off+len(sum)]
		for j, g := range dy[off : off+len(sum)] {
			f := float64(g)
			sum[j] += f
			sdx[j] += f * (float64(xr[j]) - float64(mean[j]))
		}
	}
}
