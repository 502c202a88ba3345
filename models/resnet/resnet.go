// Package resnet builds the ResNet family (ResNet18, 34, 50, 101, 152) as GoMLX graphs, channels-last,
// in the torchvision ("v1.5") and Keras ("v1") layouts, with a hand-written batch normalisation whose
// training-mode gradient flows through the batch statistics.
//
// The package does no I/O: pretrained weights are loaded by the weights package onto the variable tree
// documented on Model.Logits.
package resnet

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// Layout selects where a down-sampling bottleneck strides and whether convolutions carry a bias, so
// that both kinds of ImageNet weights load exactly.
type Layout string

const (
	// LayoutTorchvision is torchvision's ResNet ("v1.5"): stride 2 on the 3x3 conv of a down-sampling
	// bottleneck, no conv bias, BN epsilon 1e-5.
	LayoutTorchvision Layout = "v1.5"
	// LayoutKeras is keras.applications' ResNet ("v1"): stride 2 on the first 1x1 conv of a down-sampling
	// bottleneck, conv bias, BN epsilon EpsilonKeras.
	LayoutKeras Layout = "v1"
)

// BlockKind is the residual block type of a variant.
type BlockKind int

const (
	// BasicBlock is two 3x3 convolutions (ResNet18/34), expansion 1.
	BasicBlock BlockKind = iota
	// Bottleneck is 1x1, 3x3, 1x1 convolutions (ResNet50/101/152), expansion 4.
	Bottleneck
)

// String returns "basic" or "bottleneck".
func (k BlockKind) String() string {
	if k == Bottleneck {
		return "bottleneck"
	}
	return "basic"
}

// expansion is the ratio of a block's output channels to its width.
func (k BlockKind) expansion() int {
	if k == Bottleneck {
		return 4
	}
	return 1
}

// Variant is one depth of the family: its block type and the number of blocks of each of the 4 stages.
type Variant struct {
	Block  BlockKind
	Layers [4]int
}

// Variants lists the supported architectures by name.
var Variants = map[string]Variant{
	"resnet18":  {BasicBlock, [4]int{2, 2, 2, 2}},
	"resnet34":  {BasicBlock, [4]int{3, 4, 6, 3}},
	"resnet50":  {Bottleneck, [4]int{3, 4, 6, 3}},
	"resnet101": {Bottleneck, [4]int{3, 4, 23, 3}},
	"resnet152": {Bottleneck, [4]int{3, 8, 36, 3}},
}

// Names returns the names of Variants, sorted by depth.
func Names() []string {
	names := make([]string, 0, len(Variants))
	for name := range Variants {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return names
}

// stageWidths are the block widths of the 4 stages (output channels are width*expansion).
var stageWidths = [4]int{64, 128, 256, 512}

// Model is a configured ResNet. Its fields may be changed after New and before building a graph.
type Model struct {
	Name       string
	Variant    Variant
	NumClasses int
	Layout     Layout

	// Epsilon is the batch-norm epsilon: EpsilonTorchvision for LayoutTorchvision, EpsilonKeras for
	// LayoutKeras.
	Epsilon float64
	// Momentum is the batch-norm running-average momentum, torch convention (DefaultMomentum = 0.1).
	Momentum float64
	// ZeroInitResidual initialises the scale (gamma) of the last BN of every residual block to zero,
	// so each block starts as the identity (torchvision's zero_init_residual). Default false.
	ZeroInitResidual bool
}

// New returns the ResNet called name (one of Variants: resnet18, resnet34, resnet50, resnet101,
// resnet152) with numClasses outputs and the given layout.
func New(name string, numClasses int, layout Layout) (*Model, error) {
	v, ok := Variants[name]
	if !ok {
		return nil, fmt.Errorf("resnet: unknown model %q, valid names are %s", name, strings.Join(Names(), ", "))
	}
	if numClasses < 1 {
		return nil, fmt.Errorf("resnet: %s: number of classes must be >= 1, got %d", name, numClasses)
	}
	m := &Model{Name: name, Variant: v, NumClasses: numClasses, Layout: layout, Momentum: DefaultMomentum}
	switch layout {
	case LayoutTorchvision:
		m.Epsilon = EpsilonTorchvision
	case LayoutKeras:
		m.Epsilon = EpsilonKeras
	default:
		return nil, fmt.Errorf("resnet: %s: unknown layout %q, valid layouts are %q (torchvision) and %q (keras)",
			name, layout, LayoutTorchvision, LayoutKeras)
	}
	return m, nil
}

// FeatureDim is the number of channels of the pooled features fed to the classifier: 512 for
// BasicBlock variants, 2048 for Bottleneck ones.
func (m *Model) FeatureDim() int {
	return stageWidths[3] * m.Variant.Block.expansion()
}

// Logits builds the network on images [batch, H, W, 3] float32 (already normalised) and returns the
// logits [batch, NumClasses]. Training mode (batch statistics, running-average updates) is taken
// from scope.IsTraining(g).
//
// Variables, relative to scope:
//
//	stem/conv/kernel [7,7,3,64], stem/bn/{scale,offset,mean,variance}
//	layer{1..4}/block_{i}/conv{1,2[,3]}/kernel, layer{1..4}/block_{i}/bn{1,2[,3]}/...
//	layer{1..4}/block_0/downsample/conv/kernel, .../downsample/bn/...
//	fc/weights [FeatureDim, NumClasses], fc/biases [NumClasses]
//
// With LayoutKeras every conv also has a bias ("conv*/bias").
func (m *Model) Logits(scope *model.Scope, images *Node) *Node {
	features := m.Features(scope, images)
	return m.fc(scope.In("fc"), features)
}

// Features builds the network without its classifier: images [batch, H, W, 3] -> globally
// average-pooled features [batch, FeatureDim()]. Variables as in Logits, minus fc.
//
// Mixed precision: with bfloat16 (or float16) images the convolutions run in that dtype, while the
// variables stay float32 (see ParamDType), batch norm runs in float32, and the pooled features and
// logits are float32.
func (m *Model) Features(scope *model.Scope, images *Node) *Node {
	if images.Rank() != 4 || images.Shape().Dimensions[3] != 3 {
		panic(fmt.Sprintf("resnet: images must be [batch, H, W, 3], got %s", images.Shape()))
	}
	if m.Variant.Block != BasicBlock && m.Variant.Block != Bottleneck {
		panic(fmt.Sprintf("resnet: unknown block kind %d", m.Variant.Block))
	}
	if m.Layout != LayoutTorchvision && m.Layout != LayoutKeras {
		panic(fmt.Sprintf("resnet: unknown layout %q", m.Layout))
	}

	// Stem: 7x7/2 conv, BN, ReLU, 3x3/2 max-pool (padding 1; the input is >= 0 after ReLU so zero
	// padding equals torch's -inf padding).
	x := relu(m.convBN(scope.In("stem"), "conv", "bn", images, 64, 7, 2, 3, false))
	x = MaxPool(x).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()

	for stage, numBlocks := range m.Variant.Layers {
		layer := scope.In("layer%d", stage+1)
		for i := range numBlocks {
			stride := 1
			if stage > 0 && i == 0 {
				stride = 2
			}
			x = m.block(layer.In("block_%d", i), x, stageWidths[stage], stride)
		}
	}
	return ReduceMean(ConvertDType(x, ParamDType(x.DType())), 1, 2)
}

// block is one residual block of the given width; x is [batch, H, W, Cin].
func (m *Model) block(scope *model.Scope, x *Node, width, stride int) *Node {
	kind := m.Variant.Block
	outChannels := width * kind.expansion()
	inChannels := x.Shape().Dimensions[3]

	shortcut := x
	if stride != 1 || inChannels != outChannels {
		shortcut = m.convBN(scope.In("downsample"), "conv", "bn", x, outChannels, 1, stride, 0, false)
	}

	var y *Node
	if kind == BasicBlock {
		y = relu(m.convBN(scope, "conv1", "bn1", x, width, 3, stride, 1, false))
		y = m.convBN(scope, "conv2", "bn2", y, width, 3, 1, 1, m.ZeroInitResidual)
	} else {
		stride1, stride2 := 1, stride // v1.5: stride on the 3x3 conv.
		if m.Layout == LayoutKeras {
			stride1, stride2 = stride, 1 // v1: stride on the first 1x1 conv.
		}
		y = relu(m.convBN(scope, "conv1", "bn1", x, width, 1, stride1, 0, false))
		y = relu(m.convBN(scope, "conv2", "bn2", y, width, 3, stride2, 1, false))
		y = m.convBN(scope, "conv3", "bn3", y, outChannels, 1, 1, 0, m.ZeroInitResidual)
	}
	return relu(Add(y, shortcut))
}

// conv is a size x size convolution with outChannels filters, kernel [size, size, Cin, outChannels]
// initialised as torchvision (kaiming normal, fan_out, ReLU gain: std = sqrt(2 / (size*size*out))).
// In the Keras layout it also has a zero-initialised bias [outChannels], returned (in the parameter
// dtype) rather than added: every conv feeds a batch norm, which absorbs it (BatchNormWithBias).
func (m *Model) conv(scope *model.Scope, x *Node, outChannels, size, stride, padding int) (y, bias *Node) {
	g := x.Graph()
	inChannels := x.Shape().Dimensions[3]
	std := math.Sqrt(2 / float64(size*size*outChannels))
	pdt := ParamDType(x.DType())
	kernel := scope.WithInitializer(initializer.RandomNormalFn(scope, std)).
		VariableWithShape("kernel", shapes.Make(pdt, size, size, inChannels, outChannels)).NodeValue(g)
	y = Conv2D(x, ConvertDType(kernel, x.DType()), stride, padding)
	if m.Layout == LayoutKeras {
		bias = scope.WithInitializer(initializer.Zero).
			VariableWithShape("bias", shapes.Make(pdt, outChannels)).NodeValue(g)
	}
	return y, bias
}

// bn applies BatchNormWithBias (bias: the conv's, or nil) with the model's epsilon and momentum.
// Half-precision activations are normalised in float32 (as torch's autocast does).
func (m *Model) bn(scope *model.Scope, x, bias *Node, zeroScale bool) *Node {
	if pdt := ParamDType(x.DType()); pdt != x.DType() {
		return ConvertDType(BatchNormWithBias(scope, ConvertDType(x, pdt), bias, m.Epsilon, m.Momentum, zeroScale), x.DType())
	}
	return BatchNormWithBias(scope, x, bias, m.Epsilon, m.Momentum, zeroScale)
}

// convBN is conv followed by bn (the conv's bias, in the Keras layout, goes to the batch norm).
func (m *Model) convBN(scope *model.Scope, conv, bn string, x *Node, outChannels, size, stride, padding int, zeroScale bool) *Node {
	y, bias := m.conv(scope.In("%s", conv), x, outChannels, size, stride, padding)
	return m.bn(scope.In("%s", bn), y, bias, zeroScale)
}

// ParamDType is the dtype of the variables for activations of dtype dt: dt itself, except that
// half-precision activations (bfloat16, float16: mixed precision) keep float32 master weights,
// which are cast to dt where they are used.
func ParamDType(dt dtypes.DType) dtypes.DType {
	if dt == dtypes.BFloat16 || dt == dtypes.Float16 {
		return dtypes.Float32
	}
	return dt
}

// fc is the classifier: features [batch, in] -> [batch, NumClasses], weights [in, NumClasses] and
// biases [NumClasses] both initialised as torch.nn.Linear: uniform in +-1/sqrt(in).
func (m *Model) fc(scope *model.Scope, features *Node) *Node {
	g := features.Graph()
	in := features.Shape().Dimensions[1]
	bound := 1 / math.Sqrt(float64(in))
	scope = scope.WithInitializer(initializer.RandomUniformFn(scope, -bound, bound))
	weights := scope.VariableWithShape("weights", shapes.Make(features.DType(), in, m.NumClasses)).NodeValue(g)
	biases := scope.VariableWithShape("biases", shapes.Make(features.DType(), m.NumClasses)).NodeValue(g)
	return Add(MatMul(features, weights), Reshape(biases, 1, m.NumClasses))
}
