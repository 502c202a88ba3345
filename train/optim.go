package train

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/gocls/gocls/models/resnet"
)

// optimizerScope holds the optimizer state (momentum, Adam moments, step
// counts, accumulated gradients) inside the store, so checkpoints carry it.
const optimizerScope = "/optimizer"

// hyper are the per-step scalar inputs of the training graph (float32), fed
// at every call so that changing them never recompiles.
type hyper struct {
	LR         *Node // learning rate of the classifier (fc)
	BackboneLR *Node // learning rate of every other parameter
}

// optimizer builds the parameter updates inside the training graph:
//
//   - sgd (torch.optim.SGD, dampening 0): g += wd*w (L2Decay, skipped for
//     excluded parameters); buf = momentum*buf + g; step = buf, or g +
//     momentum*buf with Nesterov; w -= lr*step. With momentum 0, step = g.
//   - adamw (torch.optim.AdamW): w *= 1 - lr*wd (decoupled decay); m = b1*m +
//     (1-b1)*g; v = b2*v + (1-b2)*g²; w -= lr * (m/(1-b1^t)) /
//     (sqrt(v/(1-b2^t)) + eps), with t counted per parameter group.
//
// Parameters are in two groups: the classifier "head" (paths containing
// "/fc/") and the "backbone" (everything else), each with its own rate. A
// step updates the parameters it is given and only their state: a step
// with frozen layers gives the trained ones only (the frozen-backbone step
// the head's), so the frozen layers' weights and moments stay as they are
// (and the backbone's step count, in the frozen-backbone step).
type optimizer struct {
	cfg OptimConfig
}

func newOptimizer(cfg OptimConfig) *optimizer {
	return &optimizer{cfg: cfg}
}

// isBNOrBias reports whether the variable at path is a BatchNorm scale or
// offset, or a bias: the parameters excluded from weight decay by
// optim.no_decay_bn_bias (the rank-1 parameters of a ResNet).
func isBNOrBias(path string) bool {
	switch model.BasePath(path) {
	case "scale", "offset", "bias", "biases":
		return true
	}
	return false
}

// slot returns the zero-initialised, non-trainable optimizer variable of the
// given kind for parameter v.
func slot(store *model.Store, kind string, v *model.Variable) *model.Variable {
	path := optimizerScope + "/" + kind + "/" + strings.ReplaceAll(strings.TrimPrefix(v.Path(), "/"), "/", "~")
	return store.VariableWithShape(path, v.Shape(), initializer.Zero).SetTrainable(false)
}

// decays reports whether parameter path gets weight decay.
func (o *optimizer) decays(path string) bool {
	return o.cfg.WeightDecay > 0 && !(o.cfg.NoDecayBNBias && isBNOrBias(path))
}

// apply builds the update of params with their gradients grads (already
// averaged over the examples of the step).
func (o *optimizer) apply(store *model.Store, g *Graph, params []*model.Variable, grads []*Node, h hyper) {
	if len(params) != len(grads) {
		panic(fmt.Sprintf("train: %d parameters, %d gradients", len(params), len(grads)))
	}
	counts := map[bool]*Node{} // Adam step count t per group (true: backbone), after this step's increment
	for i, v := range params {
		w := v.NodeValue(g)
		backbone := !resnet.IsHead(v.Path())
		lr := h.LR
		if backbone {
			lr = h.BackboneLR
		}
		lr = ConvertDType(lr, w.DType())
		var updates []update
		switch o.cfg.Name {
		case "adamw":
			if counts[backbone] == nil {
				counts[backbone] = adamStepCount(store, g, backbone, h.LR.DType())
			}
			updates = o.adamw(store, v, w, grads[i], lr, counts[backbone])
		default:
			updates = o.sgd(store, v, w, grads[i], lr)
		}
		for _, u := range updates {
			u.v.SetNodeValue(u.value)
		}
	}
}

// adamStepCount increments the AdamW step count of a parameter group (the
// backbone's or the head's) and returns its new value.
func adamStepCount(store *model.Store, g *Graph, backbone bool, dt dtypes.DType) *Node {
	name := "head"
	if backbone {
		name = "backbone"
	}
	cv := store.VariableWithShape(optimizerScope+"/adam_steps/"+name, shapes.Make(dt), initializer.Zero).SetTrainable(false)
	t := Add(cv.NodeValue(g), ScalarOne(g, dt))
	cv.SetNodeValue(t)
	return t
}

// update is a new value for a variable.
type update struct {
	v     *model.Variable
	value *Node
}

func (o *optimizer) sgd(store *model.Store, v *model.Variable, w, grad, lr *Node) []update {
	c := o.cfg
	if o.decays(v.Path()) {
		grad = Add(grad, MulScalar(w, c.WeightDecay))
	}
	step := grad
	var ups []update
	if c.Momentum > 0 {
		bufVar := slot(store, "momentum", v)
		buf := Add(MulScalar(bufVar.NodeValue(w.Graph()), c.Momentum), grad)
		ups = append(ups, update{bufVar, buf})
		step = buf
		if c.Nesterov {
			step = Add(grad, MulScalar(buf, c.Momentum))
		}
	}
	return append(ups, update{v, Sub(w, Mul(lr, step))})
}

func (o *optimizer) adamw(store *model.Store, v *model.Variable, w, grad, lr, t *Node) []update {
	c := o.cfg
	g := w.Graph()
	b1, b2 := c.Betas[0], c.Betas[1]
	mVar, vVar := slot(store, "adam_m", v), slot(store, "adam_v", v)
	m := Add(MulScalar(mVar.NodeValue(g), b1), MulScalar(grad, 1-b1))
	sq := Add(MulScalar(vVar.NodeValue(g), b2), MulScalar(Square(grad), 1-b2))
	tw := ConvertDType(t, w.DType())
	one := ScalarOne(g, w.DType())
	bc1 := Sub(one, Pow(Scalar(g, w.DType(), b1), tw))
	bc2 := Sub(one, Pow(Scalar(g, w.DType(), b2), tw))
	if o.decays(v.Path()) {
		w = Mul(w, Sub(one, MulScalar(lr, c.WeightDecay)))
	}
	denom := AddScalar(Div(Sqrt(sq), Sqrt(bc2)), c.Eps)
	newW := Sub(w, Mul(Div(lr, bc1), Div(m, denom)))
	return []update{{mVar, m}, {vVar, sq}, {v, newW}}
}
