package train

import (
	"math"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/models/resnet"
)

// optParams is a tiny store: one parameter of each kind the optimizer
// distinguishes (backbone conv kernel, backbone BN scale, head weights, head
// bias).
var optParams = []struct {
	path string
	init []float64
}{
	{"/model/layer1/block_0/conv1/kernel", []float64{1, -2}},
	{"/model/stem/bn/scale", []float64{0.5, 1.5}},
	{"/model/fc/weights", []float64{0.3, -0.7}},
	{"/model/fc/biases", []float64{0.1}},
}

// optStep is one optimizer step of a test: the gradient of every parameter
// and the scalar inputs.
type optStep struct {
	grads      [][]float64
	lr, blr    float64
	backboneOn bool
}

// runOptimizer applies steps with the graph optimizer and returns the final
// parameter values and the store. A step with backboneOn false is a
// frozen-backbone step: the optimizer is given the head's parameters only.
func runOptimizer(t *testing.T, cfg OptimConfig, steps []optStep) ([][]float64, *model.Store) {
	t.Helper()
	be, err := backend.New("go")
	require.NoError(t, err)
	store := model.NewStore()
	vars := make([]*model.Variable, len(optParams))
	var head []int // indices of the head's parameters
	for i, p := range optParams {
		vars[i], err = store.CreateVariable(p.path, tensors.FromFlatDataAndDimensions(f32(p.init), len(p.init)))
		require.NoError(t, err)
		if resnet.IsHead(p.path) {
			head = append(head, i)
		}
	}
	opt := newOptimizer(cfg)
	newExec := func(params []*model.Variable) *model.Exec {
		return model.MustNewExec(be, store, func(_ *model.Scope, inputs []*Node) {
			in := inputs[len(params)]
			h := hyper{LR: Reshape(Slice(in, AxisElem(0))), BackboneLR: Reshape(Slice(in, AxisElem(1)))}
			opt.apply(store, inputs[0].Graph(), params, inputs[:len(params)], h)
		})
	}
	full, frozen := newExec(vars), newExec([]*model.Variable{vars[head[0]], vars[head[1]]})
	for _, s := range steps {
		exec, which := full, []int{0, 1, 2, 3}
		if !s.backboneOn {
			exec, which = frozen, head
		}
		var args []any
		for _, i := range which {
			args = append(args, tensors.FromFlatDataAndDimensions(f32(s.grads[i]), len(optParams[i].init)))
		}
		args = append(args, tensors.FromFlatDataAndDimensions([]float32{float32(s.lr), float32(s.blr)}, 2))
		_, err := exec.Call(args...)
		require.NoError(t, err)
	}
	out := make([][]float64, len(vars))
	for i, v := range vars {
		for _, x := range tensors.MustCopyFlatData[float32](v.MustValue()) {
			out[i] = append(out[i], float64(x))
		}
	}
	return out, store
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// refOptimizer is the slow, obviously correct float64 version of
// torch.optim.SGD (dampening 0) and torch.optim.AdamW, per element, with a
// frozen backbone leaving parameters and state untouched.
func refOptimizer(cfg OptimConfig, steps []optStep) [][]float64 {
	w := make([][]float64, len(optParams))
	buf := make([][]float64, len(optParams))
	m := make([][]float64, len(optParams))
	v := make([][]float64, len(optParams))
	for i, p := range optParams {
		w[i] = append([]float64(nil), p.init...)
		buf[i] = make([]float64, len(p.init))
		m[i] = make([]float64, len(p.init))
		v[i] = make([]float64, len(p.init))
	}
	tHead, tBackbone := 0, 0
	for _, s := range steps {
		tHead++
		if s.backboneOn {
			tBackbone++
		}
		for i, p := range optParams {
			head := resnet.IsHead(p.path)
			if !head && !s.backboneOn {
				continue
			}
			lr, t := s.blr, tBackbone
			if head {
				lr, t = s.lr, tHead
			}
			decay := cfg.WeightDecay
			if cfg.NoDecayBNBias && isBNOrBias(p.path) {
				decay = 0
			}
			for j := range w[i] {
				g := s.grads[i][j]
				switch cfg.Name {
				case "adamw":
					w[i][j] *= 1 - lr*decay
					m[i][j] = cfg.Betas[0]*m[i][j] + (1-cfg.Betas[0])*g
					v[i][j] = cfg.Betas[1]*v[i][j] + (1-cfg.Betas[1])*g*g
					mHat := m[i][j] / (1 - math.Pow(cfg.Betas[0], float64(t)))
					vHat := v[i][j] / (1 - math.Pow(cfg.Betas[1], float64(t)))
					w[i][j] -= lr * mHat / (math.Sqrt(vHat) + cfg.Eps)
				default:
					g += decay * w[i][j]
					step := g
					if cfg.Momentum > 0 {
						buf[i][j] = cfg.Momentum*buf[i][j] + g
						step = buf[i][j]
						if cfg.Nesterov {
							step = g + cfg.Momentum*buf[i][j]
						}
					}
					w[i][j] -= lr * step
				}
			}
		}
	}
	return w
}

// gradSeq returns n steps with varied gradients and the given rates.
func gradSeq(n int, lr, blr float64, on func(step int) bool) []optStep {
	var out []optStep
	for s := range n {
		st := optStep{lr: lr, blr: blr, backboneOn: on(s)}
		for i, p := range optParams {
			g := make([]float64, len(p.init))
			for j := range g {
				g[j] = math.Sin(float64(1+s*7+i*3+j)) * 0.8
			}
			st.grads = append(st.grads, g)
		}
		out = append(out, st)
	}
	return out
}

func always(int) bool { return true }

// TestMomentumHandComputed checks SGD momentum (and Nesterov) with L2 decay
// against values worked out by hand: lr 0.1, momentum 0.9, decay 0.01,
// w0 = 1, gradients 0.5, 0.5, -1.
func TestMomentumHandComputed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nesterov bool
		steps    int
		want     float64
	}{
		// g1 = 0.5+0.01*1 = 0.51, buf = 0.51, w = 1-0.1*0.51 = 0.949
		{"sgd step 1", false, 1, 0.949},
		// g2 = 0.5+0.00949 = 0.50949, buf = 0.9*0.51+0.50949 = 0.96849, w = 0.949-0.096849
		{"sgd step 2", false, 2, 0.852151},
		// g3 = -1+0.00852151, buf = 0.9*0.96849-0.99147849 = -0.11983749, w = 0.852151+0.011983749
		{"sgd step 3", false, 3, 0.864134749},
		// step = g+0.9*buf = 0.51+0.459 = 0.969, w = 1-0.0969
		{"nesterov step 1", true, 1, 0.9031},
		// g2 = 0.509031, buf = 0.459+0.509031 = 0.968031, step = 0.509031+0.8712279, w = 0.9031-0.13802589
		{"nesterov step 2", true, 2, 0.76507411},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := OptimConfig{Name: "sgd", Momentum: 0.9, Nesterov: tc.nesterov, WeightDecay: 0.01}
			grads := []float64{0.5, 0.5, -1}
			var steps []optStep
			for s := range tc.steps {
				st := optStep{lr: 0.1, blr: 0.1, backboneOn: true}
				for _, p := range optParams {
					g := make([]float64, len(p.init))
					g[0] = grads[s]
					st.grads = append(st.grads, g)
				}
				steps = append(steps, st)
			}
			// The first element of the head bias starts at 0.1; use the
			// kernel's first element, which starts at 1.
			got, _ := runOptimizer(t, cfg, steps)
			require.InDelta(t, tc.want, got[0][0], 1e-6)
		})
	}
}

// TestOptimizerMatchesReference compares the graph optimizer with the
// float64 reference over 6 steps for every option.
func TestOptimizerMatchesReference(t *testing.T) {
	sgd := OptimConfig{Name: "sgd", Momentum: 0.9, WeightDecay: 1e-2, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8}
	adamw := OptimConfig{Name: "adamw", WeightDecay: 0.05, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8}
	with := func(c OptimConfig, f func(*OptimConfig)) OptimConfig { f(&c); return c }
	frozenFirst2 := func(s int) bool { return s >= 2 }
	for _, tc := range []struct {
		name  string
		cfg   OptimConfig
		steps []optStep
	}{
		{"sgd momentum L2", sgd, gradSeq(6, 0.1, 0.1, always)},
		{"sgd no momentum", with(sgd, func(c *OptimConfig) { c.Momentum = 0 }), gradSeq(6, 0.1, 0.1, always)},
		{"sgd nesterov", with(sgd, func(c *OptimConfig) { c.Nesterov = true }), gradSeq(6, 0.1, 0.1, always)},
		{"sgd no decay for bn and bias", with(sgd, func(c *OptimConfig) { c.NoDecayBNBias = true; c.WeightDecay = 0.5 }), gradSeq(6, 0.1, 0.1, always)},
		{"sgd backbone lr mult", sgd, gradSeq(6, 0.1, 0.01, always)},
		{"sgd frozen then trained", sgd, gradSeq(6, 0.1, 0.1, frozenFirst2)},
		{"adamw", adamw, gradSeq(6, 0.01, 0.01, always)},
		{"adamw no decay for bn and bias", with(adamw, func(c *OptimConfig) { c.NoDecayBNBias = true }), gradSeq(6, 0.01, 0.01, always)},
		{"adamw frozen then trained", adamw, gradSeq(6, 0.01, 0.005, frozenFirst2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := runOptimizer(t, tc.cfg, tc.steps)
			want := refOptimizer(tc.cfg, tc.steps)
			for i := range want {
				for j := range want[i] {
					require.InDelta(t, want[i][j], got[i][j], 2e-6, "%s[%d]", optParams[i].path, j)
				}
			}
		})
	}
}

// TestFrozenBackboneUntouched: frozen-backbone steps after a full one leave
// the backbone's parameters and optimizer state (momentum, Adam moments and
// step count) bit-identical, while the head's move on.
func TestFrozenBackboneUntouched(t *testing.T) {
	for _, name := range []string{"sgd", "adamw"} {
		t.Run(name, func(t *testing.T) {
			cfg := OptimConfig{Name: name, Momentum: 0.9, WeightDecay: 0.1, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8}
			steps := gradSeq(3, 0.1, 0.1, func(s int) bool { return s == 0 })
			_, before := runOptimizer(t, cfg, steps[:1])
			_, after := runOptimizer(t, cfg, steps)
			want, got := storeValues(before), storeValues(after)
			checked := 0
			for path, w := range want {
				head := resnet.IsHead(path) || strings.Contains(path, "~fc~") || strings.HasSuffix(path, "/head")
				if head {
					require.NotEqual(t, w, got[path], "%s did not train", path)
				} else {
					require.Equal(t, w, got[path], "%s changed while frozen", path)
					checked++
				}
			}
			require.Len(t, got, len(want), "the frozen steps made no new variable")
			require.GreaterOrEqual(t, checked, 4, "2 backbone parameters and their state")
		})
	}
}
