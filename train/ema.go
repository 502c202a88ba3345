package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/models/resnet"
)

// emaScope holds the exponential moving average of every variable under
// resnet.RootScope, at the same relative path, so that the network's forward
// function runs on it unchanged and checkpoints carry it.
const emaScope = "/ema"

// emaDecay is timm's ModelEmaV3.get_decay(t) (update_after_step 0,
// min_decay 0, warmup_gamma 1, warmup_power 2/3) for the update after
// optimizer step t (1-based): the first update copies the weights.
func emaDecay(decay float64, warmup bool, t int) float64 {
	s := t - 1
	if s <= 0 {
		return 0
	}
	if warmup {
		return math.Max(math.Min(1-math.Pow(1+float64(s), -2.0/3), decay), 0)
	}
	return decay
}

// ema keeps the moving average of the network (optim.ema_decay) and runs
// inference on it.
type ema struct {
	store      *model.Store
	decay      float64
	warmup     bool
	updateExec *model.Exec // weight (1-decay) -> weight
	eval       *steps      // inference on the averaged variables
}

func newEMA(be compute.Backend, store *model.Store, forward forwardFn, cfg OptimConfig) *ema {
	e := &ema{store: store, decay: cfg.EMADecay, warmup: cfg.EMAWarmup}
	e.updateExec = model.MustNewExec(be, store, func(_ *model.Scope, weight *Node) *Node {
		g := weight.Graph()
		for v := range store.Scope(resnet.RootScope).IterVariables() {
			ev := store.GetVariable(emaPath(v.Path()))
			w := v.NodeValue(g)
			if !w.DType().IsFloat() {
				ev.SetNodeValue(w) // as timm: non-float state is copied
				continue
			}
			ev.SetNodeValue(lerp(ev.NodeValue(g), w, ConvertDType(weight, w.DType())))
		}
		return AddScalar(weight, 0)
	})
	e.eval = &steps{be: be, store: store, evalExec: model.MustNewExec(be, store, func(_ *model.Scope, images *Node) *Node {
		store.SetTraining(images.Graph(), false)
		return forward(store.Scope(emaScope), images)
	})}
	return e
}

// lerp is torch.lerp(start, end, weight) as torch computes it for floats:
// start + weight*(end-start) for |weight| < 0.5, else end -
// (end-start)*(1-weight), so that weight 1 gives end exactly.
func lerp(start, end, weight *Node) *Node {
	diff := Sub(end, start)
	low := Add(start, Mul(weight, diff))
	high := Sub(end, Mul(diff, OneMinus(weight)))
	small := LessThan(Abs(weight), Scalar(weight.Graph(), weight.DType(), 0.5))
	return Where(BroadcastToShape(small, low.Shape()), low, high)
}

func emaPath(modelPath string) string {
	return emaScope + strings.TrimPrefix(modelPath, resnet.RootScope)
}

// ensure gives every network variable that has none an average equal to its
// current value (a fresh run, or one resumed from a checkpoint without EMA),
// as timm's ModelEmaV3 starts from a copy of the model.
func (e *ema) ensure() error {
	for v := range e.store.Scope(resnet.RootScope).IterVariables() {
		if e.store.GetVariable(emaPath(v.Path())) != nil {
			continue
		}
		value, err := v.Value()
		if err != nil {
			return err
		}
		c, err := value.LocalClone()
		if err != nil {
			return err
		}
		ev, err := e.store.CreateVariable(emaPath(v.Path()), c)
		if err != nil {
			return err
		}
		ev.SetTrainable(false)
	}
	return nil
}

// update moves the average towards the network after optimizer step t.
func (e *ema) update(t int) (err error) {
	defer recoverErr(&err)
	if err := e.ensure(); err != nil {
		return fmt.Errorf("ema: %w", err)
	}
	e.updateExec.MustCall(float32(1 - emaDecay(e.decay, e.warmup, t)))
	return nil
}
