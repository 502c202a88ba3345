// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

// fastbatchnorm: BatchNormForTraining, BatchNormForInference and BatchNormGradient, which upstream
// v0.1.6 does not implement, for float32 with the feature axis last ([..., C]). Added by gocls to its
// vendored github.com/gomlx/compute. Semantics are XLA's: the training op returns the normalised
// operand with the batch mean and biased batch variance; the gradient flows through the batch
// statistics:
//
//	inv = 1/sqrt(variance+epsilon), xhat = (x-mean)*inv
//	gradOffset = sum(dy), gradScale = sum(dy*xhat)
//	gradOperand = scale*inv * (dy - gradOffset/n - xhat*gradScale/n)
//
// Sums run in float64, in parallel over blocks of rows.

import (
	"math"
	"runtime"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/pkg/errors"
)

func init() {
	gobackend.RegisterBatchNormForTraining.Register(BatchNormForTraining, gobackend.PriorityArch)
	gobackend.RegisterBatchNormForInference.Register(BatchNormForInference, gobackend.PriorityArch)
	gobackend.RegisterBatchNormGradient.Register(BatchNormGradient, gobackend.PriorityArch)
	gobackend.MultiOutputsNodeExecutors[compute.OpTypeBatchNormForTraining] = execBatchNormForTraining
	gobackend.SetNodeExecutor(compute.OpTypeBatchNormForInference, gobackend.PriorityArch, execBatchNormForInference)
	gobackend.MultiOutputsNodeExecutors[compute.OpTypeBatchNormGradient] = execBatchNormGradient
	gobackend.Capabilities.Operations[compute.OpTypeBatchNormForTraining] = true
	gobackend.Capabilities.Operations[compute.OpTypeBatchNormForInference] = true
	gobackend.Capabilities.Operations[compute.OpTypeBatchNormGradient] = true
}

// batchNormNode is the node data of the three batch-norm ops.
type batchNormNode struct {
	epsilon float32
}

// EqualNodeData implements gobackend.NodeDataComparable.
func (b *batchNormNode) EqualNodeData(other gobackend.NodeDataComparable) bool {
	return b.epsilon == other.(*batchNormNode).epsilon
}

// batchNormInputs checks and returns the inputs: operand float32 [..., C] with featureAxis last, the
// others [C] float32. Another dtype or feature axis is compute.ErrNotImplemented, on which callers such as
// GoMLX's InternalFusedOpCaller fall back to elementary ops.
func batchNormInputs(f *gobackend.Function, op compute.OpType, featureAxis int, values ...compute.Value) ([]*gobackend.Node, error) {
	nodes, err := f.VerifyAndCastValues(op.String(), values...)
	if err != nil {
		return nil, err
	}
	x := nodes[0].Shape
	if x.DType != dtypes.Float32 || x.Rank() < 1 || featureAxis != x.Rank()-1 {
		return nil, errors.Wrapf(compute.ErrNotImplemented, "%s: the Go backend supports float32 with the feature axis last, got operand %s and featureAxis %d",
			op, x, featureAxis)
	}
	c := x.Dimensions[featureAxis]
	for i, n := range nodes[1:] {
		if n.Shape.DType != dtypes.Float32 || n.Shape.Rank() != 1 || n.Shape.Dimensions[0] != c {
			return nil, errors.Errorf("%s: input #%d must be float32 [%d], got %s", op, i+1, c, n.Shape)
		}
	}
	return nodes, nil
}

// BatchNormForTraining builds the training op; see the file comment.
func BatchNormForTraining(f *gobackend.Function, operand, scale, offset compute.Value, epsilon float32, featureAxis int) (
	normalized, batchMean, batchVariance compute.Value, err error) {
	op := compute.OpTypeBatchNormForTraining
	nodes, err := batchNormInputs(f, op, featureAxis, operand, scale, offset)
	if err != nil {
		return nil, nil, nil, err
	}
	vec := nodes[1].Shape.Clone()
	node := f.NewMultiOutputsNode(op, []shapes.Shape{nodes[0].Shape.Clone(), vec, vec.Clone()}, nodes...)
	node.Data = &batchNormNode{epsilon: epsilon}
	return node.MultiOutputsNodes[0], node.MultiOutputsNodes[1], node.MultiOutputsNodes[2], nil
}

// BatchNormForInference builds the inference op: (x-mean)/sqrt(variance+epsilon)*scale + offset.
func BatchNormForInference(f *gobackend.Function, operand, scale, offset, mean, variance compute.Value, epsilon float32, featureAxis int) (compute.Value, error) {
	op := compute.OpTypeBatchNormForInference
	nodes, err := batchNormInputs(f, op, featureAxis, operand, scale, offset, mean, variance)
	if err != nil {
		return nil, err
	}
	node, _ := f.GetOrCreateNode(op, nodes[0].Shape.Clone(), nodes, &batchNormNode{epsilon: epsilon})
	return node, nil
}

// BatchNormGradient builds the gradient op; see the file comment.
func BatchNormGradient(f *gobackend.Function, operand, scale, mean, variance, gradOutput compute.Value, epsilon float32, featureAxis int) (
	gradOperand, gradScale, gradOffset compute.Value, err error) {
	op := compute.OpTypeBatchNormGradient
	nodes, err := batchNormInputs(f, op, featureAxis, operand, scale, mean, variance)
	if err != nil {
		return nil, nil, nil, err
	}
	dy, err := f.VerifyAndCastValues(op.String(), gradOutput)
	if err != nil {
		return nil, nil, nil, err
	}
	if !dy[0].Shape.Equal(nodes[0].Shape) {
		return nil, nil, nil, errors.Errorf("%s: gradOutput %s must be shaped like the operand %s", op, dy[0].Shape, nodes[0].Shape)
	}
	nodes = append(nodes, dy[0])
	vec := nodes[1].Shape.Clone()
	node := f.NewMultiOutputsNode(op, []shapes.Shape{nodes[0].Shape.Clone(), vec, vec.Clone()}, nodes...)
	node.Data = &batchNormNode{epsilon: epsilon}
	return node.MultiOutputsNodes[0], node.MultiOutputsNodes[1], node.MultiOutputsNodes[2], nil
}

// channelSums returns, for x viewed as [n, C], per-channel float64 sums of fn(row, c, v) accumulated
// in parallel over row blocks: sums[k][c] for each of the k accumulators fn fills.
func channelSums(n, c, k int, fn func(row int, acc [][]float64)) [][]float64 {
	workers := max(1, min(runtime.GOMAXPROCS(0), n/64))
	parts := make([][][]float64, workers)
	parallelFor(workers, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			acc := make([][]float64, k)
			for i := range acc {
				acc[i] = make([]float64, c)
			}
			for row := w * n / workers; row < (w+1)*n/workers; row++ {
				fn(row, acc)
			}
			parts[w] = acc
		}
	})
	total := parts[0]
	for _, p := range parts[1:] {
		for i := range total {
			for j := range total[i] {
				total[i][j] += p[i][j]
			}
		}
	}
	return total
}

// rowsParallel runs fn over row blocks of [n, C] in parallel.
func rowsParallel(n int, fn func(row int)) {
	parallelFor(n, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			fn(row)
		}
	})
}

// getBuffers returns a new buffer for each shape.
func getBuffers(backend *gobackend.Backend, shapes []shapes.Shape) ([]*gobackend.Buffer, error) {
	bufs := make([]*gobackend.Buffer, len(shapes))
	for i, s := range shapes {
		b, err := backend.GetBuffer(s)
		if err != nil {
			for _, done := range bufs[:i] {
				backend.PutBuffer(done)
			}
			return nil, err
		}
		bufs[i] = b
	}
	return bufs, nil
}

// normalizeRows sets y = (x-mean)*a + offset per channel, for x and y viewed as [n, C] (C = len(a)),
// in parallel over rows.
func normalizeRows(x, y, mean, a, offset []float32) {
	c := len(a)
	rowsParallel(len(x)/c, func(row int) {
		src, dst := x[row*c:row*c+c], y[row*c:row*c+c]
		for j, v := range src {
			dst[j] = (v-mean[j])*a[j] + offset[j]
		}
	})
}

func execBatchNormForTraining(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, _ []bool) ([]*gobackend.Buffer, error) {
	if fused, ok := node.Data.(*fusedBNTraining); ok { // see fusedbnstats.go
		return execFusedBNTraining(backend, node, fused, inputs)
	}
	eps := float64(node.Data.(*batchNormNode).epsilon)
	x, scale, offset := inputs[0].Flat.([]float32), inputs[1].Flat.([]float32), inputs[2].Flat.([]float32)
	outs, err := getBuffers(backend, node.MultiOutputsShapes)
	if err != nil {
		return nil, err
	}
	y, meanOut, varOut := outs[0].Flat.([]float32), outs[1].Flat.([]float32), outs[2].Flat.([]float32)
	mean, a := batchStatistics(channelMoments(x, len(scale)), len(x)/len(scale), scale, eps, meanOut, varOut)
	normalizeRows(x, y, mean, a, offset)
	return outs, nil
}

// channelMoments returns, for x viewed as [n, c], the per-channel float64 sums of x and x^2, in one
// pass (var = E[x^2] - mean^2 loses about log10(mean^2/var) of float64's 16 digits, harmless for
// activations).
func channelMoments(x []float32, c int) [][]float64 {
	return channelSums(len(x)/c, c, 2, func(row int, acc [][]float64) {
		s, sq := acc[0], acc[1]
		for j, v := range x[row*c : row*c+c] {
			f := float64(v)
			s[j] += f
			sq[j] += f * f
		}
	})
}

// batchStatistics turns the per-channel sums of x and x^2 over n rows into the batch mean and biased
// variance (written to meanOut, varOut) and returns the mean and a = scale/sqrt(variance+eps) as float32.
func batchStatistics(sums [][]float64, n int, scale []float32, eps float64, meanOut, varOut []float32) (mean, a []float32) {
	c := len(scale)
	mean, a = make([]float32, c), make([]float32, c)
	for j := range a {
		m := sums[0][j] / float64(n)
		mean[j] = float32(m)
		variance := max(0, sums[1][j]/float64(n)-m*m)
		meanOut[j], varOut[j] = mean[j], float32(variance)
		inv := 1 / math.Sqrt(variance+eps)
		a[j] = float32(float64(scale[j]) * inv)
	}
	return mean, a
}

func execBatchNormForInference(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, _ []bool) (*gobackend.Buffer, error) {
	eps := float64(node.Data.(*batchNormNode).epsilon)
	x, scale, offset := inputs[0].Flat.([]float32), inputs[1].Flat.([]float32), inputs[2].Flat.([]float32)
	mean, variance := inputs[3].Flat.([]float32), inputs[4].Flat.([]float32)
	out, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	y := out.Flat.([]float32)
	c := len(scale)
	a := make([]float32, c)
	for j := range a {
		inv := 1 / math.Sqrt(float64(variance[j])+eps)
		a[j] = float32(float64(scale[j]) * inv)
	}
	normalizeRows(x, y, mean, a, offset)
	return out, nil
}

func execBatchNormGradient(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, _ []bool) ([]*gobackend.Buffer, error) {
	if fused, ok := node.Data.(*fusedBNGradient); ok { // see fusedbngrad.go
		return execFusedBNGradient(backend, node, fused, inputs)
	}
	x, scale := inputs[0].Flat.([]float32), inputs[1].Flat.([]float32)
	mean, variance, dy := inputs[2].Flat.([]float32), inputs[3].Flat.([]float32), inputs[4].Flat.([]float32)
	outs, err := getBuffers(backend, node.MultiOutputsShapes)
	if err != nil {
		return nil, err
	}
	inv := invStd(variance, float64(node.Data.(*batchNormNode).epsilon))
	batchNormGradientApply(x, dy, outs, scale, mean, inv, gradientSums(x, dy, mean, inv))
	return outs, nil
}

// gradientSums returns the per-channel sums of dy and of dy*xhat, xhat = (x-mean)*inv, for x and dy
// viewed as [n, C].
func gradientSums(x, dy, mean, inv []float32) [][]float64 {
	c := len(mean)
	return channelSums(len(x)/c, c, 2, func(row int, acc [][]float64) {
		sDy, sDyXhat := acc[0], acc[1]
		xr, dyr := x[row*c:row*c+c], dy[row*c:row*c+c]
		for j, g := range dyr {
			sDy[j] += float64(g)
			sDyXhat[j] += float64(g * (xr[j] - mean[j]) * inv[j])
		}
	})
}

// invStd returns 1/sqrt(variance+eps) per channel.
func invStd(variance []float32, eps float64) []float32 {
	inv := make([]float32, len(variance))
	for j := range inv {
		inv[j] = float32(1 / math.Sqrt(float64(variance[j])+eps))
	}
	return inv
}

// batchNormGradientApply sets the gradient outputs (dx, dScale, dOffset) from sums, the per-channel
// sums of dy and of dy*xhat: dScale and dOffset are those sums, and
// dx = a*dy + k*(x-mean) + l with a = scale*inv, k = -a*inv*sum(dy*xhat)/n, l = -a*sum(dy)/n.
func batchNormGradientApply(x, dy []float32, outs []*gobackend.Buffer, scale, mean, inv []float32, sums [][]float64) {
	dx, dScale, dOffset := outs[0].Flat.([]float32), outs[1].Flat.([]float32), outs[2].Flat.([]float32)
	c := len(scale)
	n := len(x) / c
	a, k, l := make([]float32, c), make([]float32, c), make([]float32, c)
	for j := range a {
		dOffset[j], dScale[j] = float32(sums[0][j]), float32(sums[1][j])
		aj := float64(scale[j]) * float64(inv[j])
		a[j] = float32(aj)
		k[j] = float32(-aj * float64(inv[j]) * sums[1][j] / float64(n))
		l[j] = float32(-aj * sums[0][j] / float64(n))
	}
	rowsParallel(n, func(row int) {
		lo, hi := row*c, row*c+c
		gradientRow(x[lo:hi], dy[lo:hi], dx[lo:hi], mean, a, k, l)
	})
}

// gradientRowGo sets dx = a*dy + k*(x-mean) + l per channel.
func gradientRowGo(x, dy, dx, mean, a, k, l []float32) {
	for j, g := range dy {
		dx[j] = a[j]*g + k[j]*(x[j]-mean[j]) + l[j]
	}
}
