package train

import (
	"sort"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// clipEps is torch.nn.utils.clip_grad_norm_'s guard against a zero norm.
const clipEps = 1e-6

// clip returns grads scaled by min(1, max/(norm+1e-6)), norm being the L2
// norm of all of them together (torch.nn.utils.clip_grad_norm_ with
// optim.clip_grad_norm as max_norm); unchanged when clipping is off. A step
// with frozen layers (frozen epochs, model.trainable_layers) passes the
// trained parameters' gradients only, so its norm is theirs, as torch leaves
// out parameters with requires_grad=False.
func (o *optimizer) clip(params []*model.Variable, grads []*Node) []*Node {
	if o.cfg.ClipGradNorm <= 0 || len(grads) == 0 {
		return grads
	}
	// The norm sums in path order: the store's variable order differs
	// between a fresh and a resumed run, and a resume must give the same
	// floats.
	order := make([]int, len(params))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return params[order[a]].Path() < params[order[b]].Path() })
	sorted := make([]*Node, len(grads))
	for k, i := range order {
		sorted[k] = grads[i]
	}
	scaled := clipGlobalNorm(sorted, o.cfg.ClipGradNorm)
	out := make([]*Node, len(grads))
	for k, i := range order {
		out[i] = scaled[k]
	}
	return out
}

// clipGlobalNorm scales grads by min(1, maxNorm/(norm+1e-6)) where norm² is
// the sum of sum(grads[i]²).
func clipGlobalNorm(grads []*Node, maxNorm float64) []*Node {
	dt := grads[0].DType()
	var sumSq *Node
	for _, gr := range grads {
		sq := ReduceAllSum(Square(ConvertDType(gr, dt)))
		if sumSq == nil {
			sumSq = sq
		} else {
			sumSq = Add(sumSq, sq)
		}
	}
	norm := Sqrt(sumSq)
	scale := MinScalar(Div(Scalar(norm.Graph(), dt, maxNorm), AddScalar(norm, clipEps)), 1.0)
	out := make([]*Node, len(grads))
	for i, gr := range grads {
		out[i] = Mul(gr, ConvertDType(scale, gr.DType()))
	}
	return out
}
