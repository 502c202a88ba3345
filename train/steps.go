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

// forwardWithPrecision returns the network's forward function for a
// run.precision: "bfloat16" casts the float32 images to bfloat16, so the
// convolutions run in bfloat16 while the variables (master weights), batch
// norm, logits and loss stay float32 (see resnet.ParamDType).
func forwardWithPrecision(net *resnet.Model, precision string) forwardFn {
	if precision != "bfloat16" {
		return net.Logits
	}
	return func(scope *model.Scope, images *Node) *Node {
		return net.Logits(scope, ConvertDType(images, dtypes.BFloat16))
	}
}

// steps holds the compiled graphs of one model: a training step (forward,
// backward, optimizer update), with gradient accumulation a micro-step that
// only adds its gradients to /optimizer/accum, and inference.
type steps struct {
	be        compute.Backend
	store     *model.Store
	trainExec *model.Exec // (images, labels, hyper[10]: stepInputs.tensor) -> (mean loss, top-1 count)
	accumExec *model.Exec // (images, labels) -> (mean loss, top-1 count); nil without accumulation
	evalExec  *model.Exec // images -> logits
}

// stepInputs are the scalars fed to a training step.
type stepInputs struct {
	LR, BackboneLR float64
	BackboneOn     bool
	// Examples is the number of examples whose gradients the step applies:
	// the batch plus those accumulated since the last step.
	Examples int
	Mix      *mixParams // the batch's mixup/cutmix draw (nil: none)
}

func (in stepInputs) tensor() *tensors.Tensor {
	on := float32(0)
	if in.BackboneOn {
		on = 1
	}
	mix := noMix
	if in.Mix != nil {
		mix = *in.Mix
	}
	values := append([]float32{float32(in.LR), float32(in.BackboneLR), on, 1 / float32(in.Examples)}, mix.values()...)
	return tensors.FromFlatDataAndDimensions(values, len(values))
}

// newSteps builds the graphs (compiled lazily on first use). With accumulate,
// the training step adds the gradients stored by accumulation micro-steps.
// With mixup (non-nil), the training step mixes its batch as stepInputs.Mix
// says and trains on the mixed soft targets.
func newSteps(be compute.Backend, store *model.Store, forward forwardFn, opt *optimizer, smoothing float64, accumulate bool, mixup *mixer) *steps {
	s := &steps{be: be, store: store}
	sg := stepGraph{store: store, forward: forward, smoothing: smoothing, mixup: mixup}
	s.trainExec = model.MustNewExec(be, store, func(_ *model.Scope, images, labels, in *Node) (*Node, *Node) {
		return sg.train(images, labels, in, opt, accumulate)
	})
	if accumulate {
		s.accumExec = model.MustNewExec(be, store, func(_ *model.Scope, images, labels *Node) (*Node, *Node) {
			return sg.accumulate(images, labels)
		})
	}
	s.evalExec = model.MustNewExec(be, store, func(_ *model.Scope, images *Node) *Node {
		store.SetTraining(images.Graph(), false)
		return forward(store.Scope(resnet.RootScope), images)
	})
	return s
}

// stepGraph builds the training graphs: the network under resnet.RootScope, its
// loss (label smoothing, mixup/CutMix targets) and the optimizer update.
type stepGraph struct {
	store     *model.Store
	forward   forwardFn
	smoothing float64
	mixup     *mixer // nil without mixup/CutMix
}

// gradients returns the trainable parameters under resnet.RootScope that the
// graph uses, the gradients of the summed loss, the mean loss and how many
// examples rank their label first.
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
		if v.Trainable && v.InUseByGraph(g) {
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
		mix = Slice(in, AxisRange(4, 10))
	}
	params, grads, loss, correct := sg.gradients(images, labels, mix)
	invCount := Slice(in, AxisElem(3))
	invCount = Reshape(invCount)
	for i, v := range params {
		grad := grads[i]
		if accumulate {
			acc := slot(sg.store, "accum", v)
			grad = Add(grad, acc.NodeValue(g))
			acc.SetNodeValue(ZerosLike(grad))
		}
		grads[i] = Mul(grad, ConvertDType(invCount, grad.DType()))
	}
	h := hyper{LR: Reshape(Slice(in, AxisElem(0))), BackboneLR: Reshape(Slice(in, AxisElem(1))), BackboneOn: Reshape(Slice(in, AxisElem(2)))}
	opt.apply(sg.store, g, params, opt.clip(params, grads, h), h)
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

// train runs one optimizer step on a batch (plus any accumulated gradients)
// and returns its mean loss (float32) and top-1 count (int32), left on the
// device until read. images and labels may be tensors or donated buffers
// (graph.DonateTensorBuffer).
func (s *steps) train(images, labels any, in stepInputs) (loss, correct *tensors.Tensor, err error) {
	defer recoverErr(&err)
	out := s.trainExec.MustCall(images, labels, in.tensor())
	return out[0], out[1], nil
}

// accumulate adds a batch's gradients to the accumulation buffers and
// returns its mean loss and top-1 count, as train.
func (s *steps) accumulate(images, labels any) (loss, correct *tensors.Tensor, err error) {
	defer recoverErr(&err)
	out := s.accumExec.MustCall(images, labels)
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
