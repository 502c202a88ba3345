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
	// EpsilonKeras is keras.layers.BatchNormalization's default epsilon, used by LayoutKeras.
	// Note: keras.applications.ResNet50 (Keras >= 2.2.5) builds its layers with 1.001e-5 instead;
	// set Model.Epsilon to match the weights being loaded.
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

	// Broadcast shape for per-channel vectors: [1, ..., 1, C].
	bdims := make([]int, rank)
	for i := range bdims {
		bdims[i] = 1
	}
	bdims[rank-1] = channels
	expand := func(v *Node) *Node { return Reshape(v, bdims...) }

	if !scope.IsTraining(g) {
		// Inference: y = x*a + b with a = scale/sqrt(var+eps), b = offset - mean*a.
		a := Mul(scale, Reciprocal(Sqrt(AddScalar(varianceVar.NodeValue(g), epsilon))))
		b := Sub(offset, Mul(meanVar.NodeValue(g), a))
		return Add(Mul(x, expand(a)), expand(b))
	}

	reduceAxes := make([]int, rank-1)
	n := 1
	for i := range reduceAxes {
		reduceAxes[i] = i
		n *= x.Shape().Dimensions[i]
	}
	mean := ReduceMean(x, reduceAxes...)                   // [C]
	centred := Sub(x, expand(mean))                        // [..., C]
	variance := ReduceMean(Square(centred), reduceAxes...) // [C], biased.
	a := Mul(scale, Reciprocal(Sqrt(AddScalar(variance, epsilon))))
	y := Add(Mul(centred, expand(a)), expand(offset))

	// Running statistics (no gradient).
	unbias := float64(n)
	if n > 1 {
		unbias /= float64(n - 1)
	}
	m := Scalar(g, dtype, momentum)
	oneMinusM := Scalar(g, dtype, 1-momentum)
	batchMean := StopGradient(mean)
	batchVar := StopGradient(MulScalar(variance, unbias))
	meanVar.SetNodeValue(Add(Mul(oneMinusM, meanVar.NodeValue(g)), Mul(m, batchMean)))
	varianceVar.SetNodeValue(Add(Mul(oneMinusM, varianceVar.NodeValue(g)), Mul(m, batchVar)))
	return y
}
