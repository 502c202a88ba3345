package train

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/models/resnet"
)

// steps holds the compiled training and evaluation graphs of one model.
type steps struct {
	store     *model.Store
	trainExec *model.Exec
	evalExec  *model.Exec
}

func newSteps(be compute.Backend, store *model.Store, net *resnet.Model, opt *optimizer) *steps {
	s := &steps{store: store}
	s.trainExec = model.MustNewExec(be, store, func(root *model.Scope, images, labels, lr *Node) (*Node, *Node) {
		g := images.Graph()
		store.SetTraining(g, true)
		scope := store.Scope(modelScope)
		logits := net.Logits(scope, images)
		loss := crossEntropy(logits, labels)
		var params []*model.Variable
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				params = append(params, v)
			}
		}
		nodes := make([]*Node, len(params))
		for i, v := range params {
			nodes[i] = v.NodeValue(g)
		}
		grads := Gradient(loss, nodes...)
		opt.apply(store, g, params, grads, lr)
		return loss, logits
	})
	s.evalExec = model.MustNewExec(be, store, func(root *model.Scope, images *Node) *Node {
		store.SetTraining(images.Graph(), false)
		return net.Logits(store.Scope(modelScope), images)
	})
	return s
}

// train runs one optimizer step on a batch and returns its mean loss.
func (s *steps) train(b dataset.Batch, crop int, lr float64) (loss float64, err error) {
	defer recoverErr(&err)
	labels := tensors.FromFlatDataAndDimensions(b.Labels[:b.Size], b.Size)
	out := s.trainExec.MustCall(batchTensor(b, crop), labels, float32(lr))
	return float64(tensors.ToScalar[float32](out[0])), nil
}

// logits runs the network in inference mode: [Size, NumClasses] row-major.
func (s *steps) logits(b dataset.Batch, crop int) (out []float32, err error) {
	defer recoverErr(&err)
	t := s.evalExec.MustCall(batchTensor(b, crop))[0]
	return tensors.MustCopyFlatData[float32](t), nil
}

func recoverErr(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%v", r)
	}
}

// crossEntropy is the mean softmax cross-entropy of logits [batch, classes]
// against integer labels [batch].
func crossEntropy(logits, labels *Node) *Node {
	classes := logits.Shape().Dimensions[1]
	oneHot := OneHot(labels, classes, logits.DType())
	return Neg(ReduceAllMean(ReduceSum(Mul(oneHot, LogSoftmax(logits, -1)), -1)))
}

// optimizer updates the parameters from their gradients inside the training
// graph; its state lives in the store under /optimizer.
type optimizer struct {
	cfg OptimConfig
}

func newOptimizer(cfg OptimConfig) *optimizer { return &optimizer{cfg: cfg} }

// slot returns the optimizer variable of the given kind for parameter v.
func slot(store *model.Store, kind string, v *model.Variable) *model.Variable {
	path := "/optimizer/" + kind + strings.ReplaceAll(v.Path(), "/", "~")
	sv := store.VariableWithShape(path, v.Shape(), Zeros)
	return sv.SetTrainable(false)
}

// apply builds the update of params with grads at learning rate lr (a
// float32 scalar node). L2 weight decay adds WeightDecay*w to each gradient.
func (o *optimizer) apply(store *model.Store, g *Graph, params []*model.Variable, grads []*Node, lr *Node) {
	c := o.cfg
	for i, v := range params {
		w := v.NodeValue(g)
		grad := grads[i]
		if c.WeightDecay > 0 {
			grad = Add(grad, MulScalar(w, c.WeightDecay))
		}
		switch c.Name {
		case "adamw":
			panic("adamw not implemented yet")
		default: // SGD with momentum, torch convention.
			step := grad
			if c.Momentum > 0 {
				bufVar := slot(store, "momentum", v)
				buf := Add(MulScalar(bufVar.NodeValue(g), c.Momentum), grad)
				bufVar.SetNodeValue(buf)
				step = buf
				if c.Nesterov {
					step = Add(grad, MulScalar(buf, c.Momentum))
				}
			}
			v.SetNodeValue(Sub(w, Mul(ConvertDType(lr, w.DType()), step)))
		}
	}
}
