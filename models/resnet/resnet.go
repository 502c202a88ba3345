// Package resnet builds the ResNet family (ResNet18, 34, 50, 101, 152) as GoMLX graphs, channels-last,
// in the torchvision ("v1.5") and Keras ("v1") layouts, with a hand-written batch normalisation whose
// training-mode gradient flows through the batch statistics.
//
// The package does no I/O: pretrained weights are loaded by the weights package onto the variable tree
// that Model.Variables lists.
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

// stemWidth is the number of channels of the stem's 7x7 convolution.
const stemWidth = 64

// stageWidths are the block widths of the 4 stages (output channels are width*expansion).
var stageWidths = [4]int{64, 128, 256, 512}

// RootScope is the scope under which train and predict build the network (the scope passed to Logits)
// and under which checkpoints store its variables; a run's model.json may name another (e.g. "/ema").
const RootScope = "/model"

// headScope is the classifier's scope, relative to the network's.
const headScope = "fc"

// IsHead reports whether the variable at path belongs to the classifier (the layer a fine-tuning
// replaces). path may be relative to the network's scope ("fc/weights") or absolute
// ("/model/fc/weights", "/ema/fc/biases").
func IsHead(path string) bool { return slices.Contains(strings.Split(path, "/"), headScope) }

// BackboneLayers is the number of backbone layers PartialLogits counts, as torchvision's
// trainable_backbone_layers: the stem (conv1/bn1), layer1, layer2, layer3 and layer4.
const BackboneLayers = 5

// IsTrained reports whether the variable at path belongs to the part of the network that
// PartialLogits(scope, images, trainable) trains: the classifier or one of the last trainable
// backbone layers. path is as for IsHead; a path outside the network's tree counts as trained.
func IsTrained(path string, trainable int) bool {
	for part := range strings.SplitSeq(path, "/") {
		if layer, ok := backboneLayer(part); ok {
			return layer >= BackboneLayers-trainable
		}
	}
	return true
}

// backboneLayer is the index (0: the stem, 1-4: layer1-4) of the backbone layer whose scope is
// name; ok is false for any other name.
func backboneLayer(name string) (layer int, ok bool) {
	if name == stem.at {
		return 0, true
	}
	for i := range stageWidths {
		if name == stageScope(i) {
			return i + 1, true
		}
	}
	return 0, false
}

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

// convSpec is one convolution of the network and the batch norm that follows it: where they sit in the
// variable tree and their geometry. Both the graph (Features) and the variable list (Variables) are
// made from these, so that the two cannot disagree.
type convSpec struct {
	at       string // scope of the pair in its block ("downsample" or "") or, for the stem, the network's
	conv, bn string // the scopes of the two, in at: e.g. "conv1", "bn1"
	in, out  int    // channels
	size     int    // kernel size x size
	stride   int
	padding  int
	// zeroScale: the last batch norm of a residual branch with ZeroInitResidual.
	zeroScale bool
}

// blockSpec is one residual block, block_{index} of stage layer{stage+1}: relu(branch(x) +
// shortcut(x)), with ReLUs between the branch's convolutions. downsample is the projection shortcut
// (1x1 conv + BN), nil for the identity.
type blockSpec struct {
	stage, index int
	branch       []convSpec
	downsample   *convSpec
}

// stem is the first convolution: 7x7/2 from the 3 image channels, followed by BN, ReLU and max-pooling.
var stem = convSpec{at: "stem", conv: "conv", bn: "bn", in: 3, out: stemWidth, size: 7, stride: 2, padding: 3}

// blocks lists the residual blocks in order: stage s (scope layer{s+1}) has Variant.Layers[s] blocks
// (block_{i}) of width stageWidths[s]; the first block of stages 2-4 halves the resolution.
func (m *Model) blocks() []blockSpec {
	var blocks []blockSpec
	in := stemWidth
	for stage, numBlocks := range m.Variant.Layers {
		for i := range numBlocks {
			stride := 1
			if stage > 0 && i == 0 {
				stride = 2
			}
			b := m.newBlock(in, stageWidths[stage], stride)
			b.stage, b.index = stage, i
			blocks = append(blocks, b)
			in = b.outChannels()
		}
	}
	return blocks
}

// newBlock is a block of the given width on in channels. A block whose stride or channel count
// changes gets a projection shortcut.
func (m *Model) newBlock(in, width, stride int) blockSpec {
	kind := m.Variant.Block
	out := width * kind.expansion()
	var b blockSpec
	if stride != 1 || in != out {
		b.downsample = &convSpec{at: "downsample", conv: "conv", bn: "bn", in: in, out: out, size: 1, stride: stride}
	}
	if kind == BasicBlock {
		b.branch = []convSpec{
			{conv: "conv1", bn: "bn1", in: in, out: width, size: 3, stride: stride, padding: 1},
			{conv: "conv2", bn: "bn2", in: width, out: width, size: 3, stride: 1, padding: 1, zeroScale: m.ZeroInitResidual},
		}
		return b
	}
	stride1, stride2 := 1, stride // v1.5: stride on the 3x3 conv.
	if m.Layout == LayoutKeras {
		stride1, stride2 = stride, 1 // v1: stride on the first 1x1 conv.
	}
	b.branch = []convSpec{
		{conv: "conv1", bn: "bn1", in: in, out: width, size: 1, stride: stride1},
		{conv: "conv2", bn: "bn2", in: width, out: width, size: 3, stride: stride2, padding: 1},
		{conv: "conv3", bn: "bn3", in: width, out: out, size: 1, stride: 1, zeroScale: m.ZeroInitResidual},
	}
	return b
}

// stageScope is the scope of stage s (0-3): layer{s+1}.
func stageScope(s int) string { return fmt.Sprintf("layer%d", s+1) }

// scopes are the block's scope and that of its stage.
func (b blockSpec) scopes() (stage, block string) {
	return stageScope(b.stage), fmt.Sprintf("block_%d", b.index)
}

// outChannels is the number of channels a block outputs.
func (b blockSpec) outChannels() int { return b.branch[len(b.branch)-1].out }

// Logits builds the network on images [batch, H, W, 3] float32 (already normalised) and returns the
// logits [batch, NumClasses]. Training mode (batch statistics, running-average updates) is taken
// from scope.IsTraining(g). The variables it creates under scope are those Variables lists:
//
//	stem/conv/kernel [7,7,3,64], stem/bn/{scale,offset,mean,variance}
//	layer{1..4}/block_{i}/conv{1,2[,3]}/kernel, layer{1..4}/block_{i}/bn{1,2[,3]}/...
//	layer{1..4}/block_0/downsample/conv/kernel, .../downsample/bn/...
//	fc/weights [512 or 2048, NumClasses], fc/biases [NumClasses]
//
// With LayoutKeras every conv also has a bias ("conv*/bias").
func (m *Model) Logits(scope *model.Scope, images *Node) *Node {
	features := m.Features(scope, images)
	return m.fc(scope.In(headScope), features)
}

// PartialLogits is Logits with only the classifier (fc) and the last trainable (0 to
// BackboneLayers) backbone layers trained, as torchvision's trainable_backbone_layers: 0 is a
// linear probe, 1 trains layer4 and fc, ..., BackboneLayers is Logits. The first
// BackboneLayers-trainable layers are frozen: their batch norm normalises with its running
// statistics and leaves them unchanged (as timm's FrozenBatchNorm2d), whatever the graph's mode,
// and their output passes through StopGradient, so that the backward pass never enters them. The
// trained layers run in the graph's mode (scope.IsTraining). IsTrained tells the variables of the
// two parts apart; the variables are those of Logits.
func (m *Model) PartialLogits(scope *model.Scope, images *Node, trainable int) *Node {
	if trainable < 0 || trainable > BackboneLayers {
		// An error value: model.Exec returns it as the call's error.
		panic(fmt.Errorf("resnet: %d trainable backbone layers, want 0 to %d", trainable, BackboneLayers))
	}
	features := m.features(scope, images, BackboneLayers-trainable)
	return m.fc(scope.In(headScope), features)
}

// Features builds the network without its classifier: images [batch, H, W, 3] -> globally
// average-pooled features [batch, 512 or 2048]. Variables as in Logits, minus fc.
//
// Mixed precision: with bfloat16 (or float16) images the convolutions run in that dtype, while the
// variables stay float32 (see ParamDType), batch norm runs in float32, and the pooled features and
// logits are float32.
func (m *Model) Features(scope *model.Scope, images *Node) *Node {
	return m.features(scope, images, 0)
}

// features is Features with the first frozen backbone layers (0: none) in inference mode and the
// gradient stopped at their output (see PartialLogits).
func (m *Model) features(scope *model.Scope, images *Node, frozen int) *Node {
	if images.Rank() != 4 || images.Shape().Dimensions[3] != 3 {
		panic(fmt.Sprintf("resnet: images must be [batch, H, W, 3], got %s", images.Shape()))
	}
	if m.Variant.Block != BasicBlock && m.Variant.Block != Bottleneck {
		panic(fmt.Sprintf("resnet: unknown block kind %d", m.Variant.Block))
	}
	if m.Layout != LayoutTorchvision && m.Layout != LayoutKeras {
		panic(fmt.Sprintf("resnet: unknown layout %q", m.Layout))
	}

	training := scope.IsTraining(images.Graph())
	x := images
	for layer := range BackboneLayers {
		x = m.layer(scope, layer, x, training && layer >= frozen)
		if layer == frozen-1 {
			x = StopGradient(x)
		}
	}
	return ReduceMean(ConvertDType(x, ParamDType(x.DType())), 1, 2)
}

// layer builds backbone layer i on x, its batch norm in training mode or not: the stem (i = 0:
// conv, BN, ReLU, 3x3/2 max-pool with padding 1; the input is >= 0 after ReLU so zero padding
// equals torch's -inf padding) or the blocks of stage i-1 (scope layer{i}).
func (m *Model) layer(scope *model.Scope, i int, x *Node, training bool) *Node {
	if i == 0 {
		x = relu(m.convBN(scope, stem, x, training))
		return MaxPool(x).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	}
	stage := scope.In("%s", stageScope(i-1))
	for _, b := range m.blocks() {
		if b.stage == i-1 {
			_, block := b.scopes()
			x = m.block(stage.In("%s", block), b, x, training)
		}
	}
	return x
}

// block builds residual block b on x [batch, H, W, Cin] in the block's scope, its batch norms in
// training mode or not.
func (m *Model) block(scope *model.Scope, b blockSpec, x *Node, training bool) *Node {
	shortcut := x
	if b.downsample != nil {
		shortcut = m.convBN(scope, *b.downsample, x, training)
	}
	y := x
	for i, c := range b.branch {
		if i > 0 {
			y = relu(y)
		}
		y = m.convBN(scope, c, y, training)
	}
	return relu(Add(y, shortcut))
}

// convBN builds c's conv followed by its batch norm (the conv's bias, in the Keras layout, goes to the
// batch norm; training: its mode) in scope, the block's (the network's for the stem).
func (m *Model) convBN(scope *model.Scope, c convSpec, x *Node, training bool) *Node {
	if c.at != "" {
		scope = scope.In("%s", c.at)
	}
	y, bias := m.conv(scope.In("%s", c.conv), x, c)
	return m.bn(scope.In("%s", c.bn), y, bias, c.zeroScale, training)
}

// conv is c's convolution, kernel [size, size, in, out] initialised as torchvision (kaiming normal,
// fan_out, ReLU gain: std = sqrt(2 / (size*size*out))). In the Keras layout it also has a
// zero-initialised bias [out], returned (in the parameter dtype) rather than added: every conv feeds a
// batch norm, which absorbs it (BatchNormWithBias).
func (m *Model) conv(scope *model.Scope, x *Node, c convSpec) (y, bias *Node) {
	g := x.Graph()
	std := math.Sqrt(2 / float64(c.size*c.size*c.out))
	pdt := ParamDType(x.DType())
	kernel := scope.WithInitializer(initializer.RandomNormalFn(scope, std)).
		VariableWithShape(kernelVar, shapes.Make(pdt, c.kernelDims()...)).NodeValue(g)
	y = Conv2D(x, ConvertDType(kernel, x.DType()), c.stride, c.padding)
	if m.Layout == LayoutKeras {
		bias = scope.WithInitializer(initializer.Zero).
			VariableWithShape(biasVar, shapes.Make(pdt, c.out)).NodeValue(g)
	}
	return y, bias
}

// bn applies BatchNormWithBias (bias: the conv's, or nil) with the model's epsilon and momentum, in
// training mode or not. Half-precision activations are normalised in float32 (as torch's autocast
// does).
func (m *Model) bn(scope *model.Scope, x, bias *Node, zeroScale, training bool) *Node {
	if pdt := ParamDType(x.DType()); pdt != x.DType() {
		return ConvertDType(BatchNormWithBias(scope, ConvertDType(x, pdt), bias, m.Epsilon, m.Momentum, zeroScale, training), x.DType())
	}
	return BatchNormWithBias(scope, x, bias, m.Epsilon, m.Momentum, zeroScale, training)
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
	weights := scope.VariableWithShape(fcWeightsVar, shapes.Make(features.DType(), in, m.NumClasses)).NodeValue(g)
	biases := scope.VariableWithShape(fcBiasesVar, shapes.Make(features.DType(), m.NumClasses)).NodeValue(g)
	return Add(MatMul(features, weights), Reshape(biases, 1, m.NumClasses))
}

// Names of the variables in their scopes.
const (
	kernelVar    = "kernel"  // conv kernel [size, size, in, out]
	biasVar      = "bias"    // conv bias [out], Keras layout only
	fcWeightsVar = "weights" // classifier weights [features, NumClasses]
	fcBiasesVar  = "biases"  // classifier biases [NumClasses]

	bnScaleVar    = "scale"    // batch-norm scale [channels]
	bnOffsetVar   = "offset"   // batch-norm offset [channels]
	bnMeanVar     = "mean"     // batch-norm running mean [channels], not trainable
	bnVarianceVar = "variance" // batch-norm running variance [channels], not trainable
)

// bnVariables are the variables BatchNormWithBias creates, each [channels]; the running statistics
// are not trainable.
var bnVariables = []struct {
	name      string
	trainable bool
}{{bnScaleVar, true}, {bnOffsetVar, true}, {bnMeanVar, false}, {bnVarianceVar, false}}

// Var is one variable of the network.
type Var struct {
	Path      string // relative to the scope passed to Logits, e.g. "layer1/block_0/conv1/kernel"
	Dims      []int  // conv kernels [kh, kw, in, out] (HWIO), classifier weights [in, out]
	Trainable bool   // false for the batch-norm running statistics
}

// Variables lists the variables Logits creates under its scope, in the order it creates them: both
// are made from the same structure (stem, blocks). Their dtype is ParamDType of the images' dtype.
func (m *Model) Variables() []Var {
	vars := m.convBNVariables(nil, "", stem)
	features := stem.out
	for _, b := range m.blocks() {
		stageName, blockName := b.scopes()
		at := stageName + "/" + blockName + "/"
		if b.downsample != nil {
			vars = m.convBNVariables(vars, at, *b.downsample)
		}
		for _, c := range b.branch {
			vars = m.convBNVariables(vars, at, c)
		}
		features = b.outChannels()
	}
	return append(vars,
		Var{Path: headScope + "/" + fcWeightsVar, Dims: []int{features, m.NumClasses}, Trainable: true},
		Var{Path: headScope + "/" + fcBiasesVar, Dims: []int{m.NumClasses}, Trainable: true})
}

// convBNVariables appends the variables of c's conv and batch norm to vars; prefix is the path of
// c's block ("" for the stem).
func (m *Model) convBNVariables(vars []Var, prefix string, c convSpec) []Var {
	if c.at != "" {
		prefix += c.at + "/"
	}
	conv, bn := prefix+c.conv+"/", prefix+c.bn+"/"
	vars = append(vars, Var{Path: conv + kernelVar, Dims: c.kernelDims(), Trainable: true})
	if m.Layout == LayoutKeras {
		vars = append(vars, Var{Path: conv + biasVar, Dims: []int{c.out}, Trainable: true})
	}
	for _, v := range bnVariables {
		vars = append(vars, Var{Path: bn + v.name, Dims: []int{c.out}, Trainable: v.trainable})
	}
	return vars
}

// kernelDims are the dimensions of c's kernel: [size, size, in, out].
func (c convSpec) kernelDims() []int { return []int{c.size, c.size, c.in, c.out} }
