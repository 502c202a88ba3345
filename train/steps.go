package train

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/models/resnet"
)

// forwardFn builds the logits [batch, classes] of images [batch, H, W, 3]
// with the variables under scope.
type forwardFn func(scope *model.Scope, images *Node) *Node

// forwardWithPrecision returns logits (resnet.Model.Logits or
// PartialLogits) for a run.precision: "bfloat16" casts the float32 images to
// bfloat16, so the convolutions run in bfloat16 while the variables (master
// weights), batch norm, logits and loss stay float32 (see
// resnet.ParamDType).
func forwardWithPrecision(logits forwardFn, precision string) forwardFn {
	if precision != "bfloat16" {
		return logits
	}
	return func(scope *model.Scope, images *Node) *Node {
		return logits(scope, ConvertDType(images, dtypes.BFloat16))
	}
}

// partialLogits is net's PartialLogits by number of trainable backbone
// layers (stepConfig.partial).
func partialLogits(net *resnet.Model) func(n int) forwardFn {
	return func(n int) forwardFn {
		return func(scope *model.Scope, images *Node) *Node { return net.PartialLogits(scope, images, n) }
	}
}

// steps holds the compiled graphs of one model: the training step, the
// frozen-backbone step (model.freeze_backbone_epochs) and inference.
type steps struct {
	be       compute.Backend
	store    *model.Store
	full     stepExecs   // the training step (model.trainable_layers)
	frozen   stepExecs   // nil execs without a partial forward (stepConfig.partial)
	evalExec *model.Exec // images -> logits
}

// stepExecs are the graphs of one kind of step: an optimizer step (forward,
// backward, update) and, with gradient accumulation, a micro-step that only
// adds its gradients to /optimizer/accum.
type stepExecs struct {
	train *model.Exec // (images, labels, hyper[9]: stepInputs.tensor) -> (mean loss, top-1 count)
	accum *model.Exec // (images, labels) -> (mean loss, top-1 count); nil without accumulation
}

// stepInputs are the scalars fed to a training step, and which step runs.
type stepInputs struct {
	LR, BackboneLR float64
	// Examples is the number of examples whose gradients the step applies:
	// the batch plus those accumulated since the last step.
	Examples int
	Mix      *mixParams // the batch's mixup/cutmix draw (nil: none)
	Frozen   bool       // run the frozen-backbone (head-only) step (BackboneLR is then unused)
}

func (in stepInputs) tensor() *tensors.Tensor {
	mix := noMix
	if in.Mix != nil {
		mix = *in.Mix
	}
	values := append([]float32{float32(in.LR), float32(in.BackboneLR), 1 / float32(in.Examples)}, mix.values()...)
	return tensors.FromFlatDataAndDimensions(values, len(values))
}

// stepConfig is what the training graphs are made of.
type stepConfig struct {
	forward forwardFn // the network (resnet.Model.Logits)
	// partial is the network with only the classifier and the last n
	// backbone layers trained (resnet.Model.PartialLogits); nil: the
	// training step trains the whole network and there is no frozen step.
	partial func(n int) forwardFn
	// trainable is how many backbone layers the training step trains with
	// partial (model.trainable_layers); resnet.BackboneLayers: all, with
	// forward. The frozen step is partial's with none.
	trainable  int
	opt        *optimizer
	smoothing  float64 // label smoothing
	accumulate bool    // the training step adds the gradients stored by accumulation micro-steps
	mixup      *mixer  // non-nil: the step mixes its batch as stepInputs.Mix says
}

// newSteps builds the graphs (compiled lazily on first use).
func newSteps(be compute.Backend, store *model.Store, c stepConfig) *steps {
	s := &steps{be: be, store: store}
	sg := stepGraph{store: store, forward: c.forward, trainable: resnet.BackboneLayers, smoothing: c.smoothing, mixup: c.mixup}
	if c.partial != nil && c.trainable < resnet.BackboneLayers {
		sg.forward, sg.trainable = c.partial(c.trainable), c.trainable
	}
	s.full = newStepExecs(be, store, c, sg)
	if c.partial != nil {
		sg.forward, sg.trainable = c.partial(0), 0
		s.frozen = newStepExecs(be, store, c, sg)
	}
	s.evalExec = model.MustNewExec(be, store, func(_ *model.Scope, images *Node) *Node {
		store.SetTraining(images.Graph(), false)
		return c.forward(store.Scope(resnet.RootScope), images)
	})
	return s
}

// newStepExecs makes the graphs of the step sg builds.
func newStepExecs(be compute.Backend, store *model.Store, c stepConfig, sg stepGraph) stepExecs {
	var e stepExecs
	e.train = model.MustNewExec(be, store, func(_ *model.Scope, images, labels, in *Node) (*Node, *Node) {
		return sg.train(images, labels, in, c.opt, c.accumulate)
	})
	if c.accumulate {
		e.accum = model.MustNewExec(be, store, func(_ *model.Scope, images, labels *Node) (*Node, *Node) {
			return sg.accumulate(images, labels)
		})
	}
	return e
}

// stepGraph builds the training graphs: the network under resnet.RootScope, its
// loss (label smoothing, mixup/CutMix targets) and the optimizer update.
type stepGraph struct {
	store     *model.Store
	forward   forwardFn
	smoothing float64
	mixup     *mixer // nil without mixup/CutMix
	// trainable: the step trains the classifier and the last trainable
	// backbone layers (resnet.IsTrained). forward must freeze the others:
	// inference-mode batch norm, no gradient (resnet.Model.PartialLogits).
	trainable int
}

// gradients returns the parameters under resnet.RootScope that the step
// trains (those the graph uses and resnet.IsTrained), the gradients of the
// summed loss, the mean loss and how many examples rank their label first.
func (sg stepGraph) gradients(images, labels, mix *Node) (params []*model.Variable, grads []*Node, meanLoss, correct *Node) {
	g := images.Graph()
	sg.store.SetTraining(g, true)
	scope := sg.store.Scope(resnet.RootScope)
	if mix != nil {
		images = sg.mixup.images(images, mix)
	}
	logits := sg.forward(scope, images)
	var losses *Node
	if mix != nil {
		losses = softCrossEntropy(logits, mixTarget(labels, mix, logits.Shape().Dimensions[1], sg.smoothing, logits.DType()))
	} else {
		losses = crossEntropy(logits, labels, sg.smoothing)
	}
	for v := range scope.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) && resnet.IsTrained(v.Path(), sg.trainable) {
			params = append(params, v)
		}
	}
	nodes := make([]*Node, len(params))
	for i, v := range params {
		nodes[i] = v.NodeValue(g)
	}
	grads = Gradient(ReduceAllSum(losses), nodes...)
	return params, grads, ReduceAllMean(losses), top1CountNode(logits, labels)
}

// train is the optimizer step's graph: the gradients (plus the accumulated
// ones, whose buffers it clears, when accumulating) scaled by in's
// 1/examples, clipped and applied. in holds the step's scalar inputs
// (stepInputs.tensor). It returns the mean loss and the top-1 count.
func (sg stepGraph) train(images, labels, in *Node, opt *optimizer, accumulate bool) (loss, correct *Node) {
	g := images.Graph()
	var mix *Node
	if sg.mixup != nil {
		mix = Slice(in, AxisRange(3, 9))
	}
	params, grads, loss, correct := sg.gradients(images, labels, mix)
	invCount := Reshape(Slice(in, AxisElem(2)))
	for i, v := range params {
		grad := grads[i]
		if accumulate {
			acc := slot(sg.store, "accum", v)
			grad = Add(grad, acc.NodeValue(g))
			acc.SetNodeValue(ZerosLike(grad))
		}
		grads[i] = Mul(grad, ConvertDType(invCount, grad.DType()))
	}
	h := hyper{LR: Reshape(Slice(in, AxisElem(0))), BackboneLR: Reshape(Slice(in, AxisElem(1)))}
	opt.apply(sg.store, g, params, opt.clip(params, grads), h)
	return loss, correct
}

// accumulate is an accumulation micro-step's graph: it adds the gradients
// to the accumulation buffers and returns the mean loss and the top-1 count.
func (sg stepGraph) accumulate(images, labels *Node) (loss, correct *Node) {
	g := images.Graph()
	params, grads, loss, correct := sg.gradients(images, labels, nil)
	for i, v := range params {
		acc := slot(sg.store, "accum", v)
		acc.SetNodeValue(Add(acc.NodeValue(g), grads[i]))
	}
	return loss, correct
}

// execs returns the graphs of the full or the frozen-backbone step.
func (s *steps) execs(frozen bool) stepExecs {
	if frozen {
		if s.frozen.train == nil {
			panic("train: no frozen-backbone step was built")
		}
		return s.frozen
	}
	return s.full
}

// train runs one optimizer step on a batch (plus any accumulated gradients)
// and returns its mean loss (float32) and top-1 count (int32), left on the
// device until read. images and labels may be tensors or donated buffers
// (graph.DonateTensorBuffer).
func (s *steps) train(images, labels any, in stepInputs) (loss, correct *tensors.Tensor, err error) {
	defer recoverErr(&err)
	out := s.execs(in.Frozen).train.MustCall(images, labels, in.tensor())
	return out[0], out[1], nil
}

// accumulate adds a batch's gradients to the accumulation buffers (the
// head's only, when frozen) and returns its mean loss and top-1 count, as
// train.
func (s *steps) accumulate(images, labels any, frozen bool) (loss, correct *tensors.Tensor, err error) {
	defer recoverErr(&err)
	out := s.execs(frozen).accum.MustCall(images, labels)
	return out[0], out[1], nil
}

// top1CountNode counts the rows of logits [batch, classes] whose largest
// value (the first one on ties, as evaluate.Accumulator) is at labels [batch]: an int32
// scalar.
func top1CountNode(logits, labels *Node) *Node {
	hit := Equal(ArgMax(logits, -1, dtypes.Int32), ConvertDType(labels, dtypes.Int32))
	return ReduceAllSum(ConvertDType(hit, dtypes.Int32))
}

// logits runs the network in inference mode: [Size, NumClasses] row-major.
func (s *steps) logits(images *tensors.Tensor) (out []float32, err error) {
	defer recoverErr(&err)
	t := s.evalExec.MustCall(images)[0]
	return tensors.MustCopyFlatData[float32](t), nil
}

// recoverErr turns a panic of graph building or execution into *err.
func recoverErr(err *error) {
	if r := recover(); r != nil {
		if e, ok := r.(error); ok {
			*err = e
		} else {
			*err = fmt.Errorf("%v", r)
		}
	}
}

// crossEntropy returns the per-example softmax cross-entropy [batch] of
// logits [batch, classes] against integer labels [batch], with label
// smoothing e: the target is (1-e)*onehot + e/classes (torch's
// CrossEntropyLoss(label_smoothing=e)).
func crossEntropy(logits, labels *Node, smoothing float64) *Node {
	classes := logits.Shape().Dimensions[1]
	target := OneHot(labels, classes, logits.DType())
	if smoothing > 0 {
		target = AddScalar(MulScalar(target, 1-smoothing), smoothing/float64(classes))
	}
	return Neg(ReduceSum(Mul(target, LogSoftmax(logits, -1)), -1))
}

// batchTensors converts a loader batch to the model's inputs: images
// [Size, crop, crop, 3] and labels [Size].
func batchTensors(b dataset.Batch, crop int) (images, labels *tensors.Tensor) {
	images = tensors.FromFlatDataAndDimensions(b.Images[:b.Size*crop*crop*3], b.Size, crop, crop, 3)
	labels = tensors.FromFlatDataAndDimensions(append([]int32(nil), b.Labels[:b.Size]...), b.Size)
	return images, labels
}
