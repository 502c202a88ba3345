package resnet

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// refBatchNorm is the slow, obviously correct textbook batch norm on a channels-last flat tensor with
// C channels: per channel mean and biased variance over all other axes, then
// y = (x-mean)/sqrt(var+eps)*scale + offset. It returns y, the batch mean and the biased batch variance.
func refBatchNorm(x []float64, c int, scale, offset []float64, eps float64) (y, mean, variance []float64) {
	n := len(x) / c
	mean = make([]float64, c)
	variance = make([]float64, c)
	for i, v := range x {
		mean[i%c] += v
	}
	for ch := range mean {
		mean[ch] /= float64(n)
	}
	for i, v := range x {
		d := v - mean[i%c]
		variance[i%c] += d * d
	}
	for ch := range variance {
		variance[ch] /= float64(n)
	}
	y = make([]float64, len(x))
	for i, v := range x {
		ch := i % c
		y[i] = (v-mean[ch])/math.Sqrt(variance[ch]+eps)*scale[ch] + offset[ch]
	}
	return y, mean, variance
}

// refEvalBatchNorm normalises with given (running) statistics.
func refEvalBatchNorm(x []float64, c int, scale, offset, mean, variance []float64, eps float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		ch := i % c
		y[i] = (v-mean[ch])/math.Sqrt(variance[ch]+eps)*scale[ch] + offset[ch]
	}
	return y
}

// pseudoRandom returns n deterministic values in [lo, hi).
func pseudoRandom(n int, seed uint32, lo, hi float64) []float64 {
	out := make([]float64, n)
	state := seed*2654435761 + 12345
	for i := range out {
		state = state*1664525 + 1013904223
		out[i] = lo + (hi-lo)*float64(state>>8)/float64(1<<24)
	}
	return out
}

func toFloat32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// bnFixture holds the inputs of a batch-norm test: x [dims...], per-channel scale and offset.
type bnFixture struct {
	dims          []int
	x             []float64
	scale, offset []float64
	eps           float64
}

func newBNFixture(dims []int, eps float64) bnFixture {
	size := 1
	for _, d := range dims {
		size *= d
	}
	c := dims[len(dims)-1]
	x := pseudoRandom(size, 1, -2, 3)
	// Give channels different means and spreads.
	for i := range x {
		x[i] = x[i]*float64(1+i%c) + float64(i%c)
	}
	return bnFixture{dims: dims, x: x, scale: pseudoRandom(c, 2, 0.5, 1.5), offset: pseudoRandom(c, 3, -1, 1), eps: eps}
}

// newBNStore returns a store whose /bn/{scale,offset} hold the fixture's values in dtype.
func (f bnFixture) newBNStore(t *testing.T, dtype dtypes.DType) *model.Store {
	store := model.NewStore()
	scope := store.RootScope().In("bn")
	c := f.dims[len(f.dims)-1]
	for name, values := range map[string][]float64{"scale": f.scale, "offset": f.offset} {
		var tensor *tensors.Tensor
		if dtype == dtypes.Float64 {
			tensor = tensors.FromFlatDataAndDimensions(values, c)
		} else {
			tensor = tensors.FromFlatDataAndDimensions(toFloat32(values), c)
		}
		_, err := scope.CreateVariable(name, tensor)
		require.NoError(t, err)
	}
	return store
}

func (f bnFixture) xTensor(dtype dtypes.DType) *tensors.Tensor {
	if dtype == dtypes.Float64 {
		return tensors.FromFlatDataAndDimensions(f.x, f.dims...)
	}
	return tensors.FromFlatDataAndDimensions(toFloat32(f.x), f.dims...)
}

func flat64(t *testing.T, tensor *tensors.Tensor) []float64 {
	t.Helper()
	switch tensor.DType() {
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](tensor)
	case dtypes.Float32:
		f32 := tensors.MustCopyFlatData[float32](tensor)
		out := make([]float64, len(f32))
		for i, v := range f32 {
			out[i] = float64(v)
		}
		return out
	}
	t.Fatalf("unexpected dtype %s", tensor.DType())
	return nil
}

func requireClose(t *testing.T, want, got []float64, tol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if diff := math.Abs(want[i] - got[i]); diff > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d]: want %.10g, got %.10g (diff %.3g, tol %.3g)", what, i, want[i], got[i], diff, tol)
		}
	}
}

func TestBatchNormTrainingForwardAndRunningStats(t *testing.T) {
	backend := testBackend(t)
	tests := []struct {
		dtype dtypes.DType
		dims  []int
		tol   float64
	}{
		{dtypes.Float64, []int{2, 3, 3, 4}, 1e-12},
		{dtypes.Float32, []int{2, 3, 3, 4}, 1e-5},
		{dtypes.Float32, []int{4, 5, 2, 3}, 1e-5},
		{dtypes.Float64, []int{6, 5}, 1e-12}, // [batch, features] works too.
	}
	const momentum = 0.1
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%v", tc.dtype, tc.dims), func(t *testing.T) {
			f := newBNFixture(tc.dims, 1e-5)
			c := tc.dims[len(tc.dims)-1]
			store := f.newBNStore(t, tc.dtype)
			exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
				store.SetTraining(x.Graph(), true)
				return BatchNorm(scope.In("bn"), x, f.eps, momentum, false)
			})
			require.NoError(t, err)
			wantY, batchMean, batchVar := refBatchNorm(f.x, c, f.scale, f.offset, f.eps)
			n := float64(len(f.x) / c)

			runningMean := make([]float64, c)
			runningVar := make([]float64, c)
			for ch := range runningVar {
				runningVar[ch] = 1
			}
			for step := range 2 {
				y, err := exec.Call1(f.xTensor(tc.dtype))
				require.NoError(t, err)
				requireClose(t, wantY, flat64(t, y), tc.tol, "y")
				for ch := range c {
					runningMean[ch] = (1-momentum)*runningMean[ch] + momentum*batchMean[ch]
					runningVar[ch] = (1-momentum)*runningVar[ch] + momentum*batchVar[ch]*n/(n-1)
				}
				requireClose(t, runningMean, flat64(t, store.GetVariable("/bn/mean").MustValue()), tc.tol,
					fmt.Sprintf("running mean after step %d", step))
				requireClose(t, runningVar, flat64(t, store.GetVariable("/bn/variance").MustValue()), tc.tol,
					fmt.Sprintf("running variance after step %d", step))
			}
			require.False(t, store.GetVariable("/bn/mean").Trainable)
			require.False(t, store.GetVariable("/bn/variance").Trainable)
			require.True(t, store.GetVariable("/bn/scale").Trainable)
			require.True(t, store.GetVariable("/bn/offset").Trainable)
		})
	}
}

func TestBatchNormEval(t *testing.T) {
	backend := testBackend(t)
	for _, dtype := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
		t.Run(dtype.String(), func(t *testing.T) {
			f := newBNFixture([]int{2, 3, 3, 4}, 1e-3)
			store := f.newBNStore(t, dtype)
			mean := []float64{0.5, -1, 2, 0}
			variance := []float64{0.25, 4, 1, 0.01}
			for name, values := range map[string][]float64{"mean": mean, "variance": variance} {
				tensor := tensors.FromFlatDataAndDimensions(values, 4)
				if dtype == dtypes.Float32 {
					tensor = tensors.FromFlatDataAndDimensions(toFloat32(values), 4)
				}
				_, err := store.RootScope().At("bn").CreateVariable(name, tensor)
				require.NoError(t, err)
			}
			exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
				return BatchNorm(scope.In("bn"), x, f.eps, 0.1, false)
			})
			require.NoError(t, err)
			y, err := exec.Call1(f.xTensor(dtype))
			require.NoError(t, err)
			tol := 1e-12
			if dtype == dtypes.Float32 {
				tol = 1e-5
			}
			requireClose(t, refEvalBatchNorm(f.x, 4, f.scale, f.offset, mean, variance, f.eps), flat64(t, y), tol, "y")
			// Eval mode leaves the running statistics alone.
			requireClose(t, mean, flat64(t, store.GetVariable("/bn/mean").MustValue()), 0, "mean")
		})
	}
}

func TestBatchNormZeroScale(t *testing.T) {
	backend := testBackend(t)
	store := model.NewStore()
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
		store.SetTraining(x.Graph(), true)
		return BatchNorm(scope.In("bn"), x, 1e-5, 0.1, true)
	})
	require.NoError(t, err)
	f := newBNFixture([]int{2, 2, 2, 3}, 1e-5)
	y, err := exec.Call1(f.xTensor(dtypes.Float32))
	require.NoError(t, err)
	for _, v := range flat64(t, y) {
		require.Zero(t, v)
	}
}

// TestBatchNormGradient checks the training-mode gradient of sum(BatchNorm(x)*w) with respect to x,
// scale and offset against central finite differences of the slow reference. The gradient must flow
// through the batch mean and variance: a version that stops it there fails this test.
func TestBatchNormGradient(t *testing.T) {
	backend := testBackend(t)
	tests := []struct {
		name string
		dims []int
		eps  float64
	}{
		{"nhwc", []int{2, 3, 3, 4}, 1e-5},
		{"keras eps", []int{3, 2, 2, 2}, 1e-3},
		{"batch 1", []int{1, 2, 3, 3}, 1e-5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newBNFixture(tc.dims, tc.eps)
			c := tc.dims[len(tc.dims)-1]
			w := pseudoRandom(len(f.x), 7, -1, 1)
			loss := func(x, scale, offset []float64) float64 {
				y, _, _ := refBatchNorm(x, c, scale, offset, f.eps)
				total := 0.0
				for i := range y {
					total += y[i] * w[i]
				}
				return total
			}

			store := f.newBNStore(t, dtypes.Float64)
			exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, wNode *Node) []*Node {
				g := x.Graph()
				store.SetTraining(g, true)
				bnScope := scope.In("bn")
				y := BatchNorm(bnScope, x, f.eps, 0.1, false)
				l := ReduceAllSum(Mul(y, wNode))
				grads := Gradient(l, x, bnScope.GetVariable("scale").NodeValue(g), bnScope.GetVariable("offset").NodeValue(g))
				return append([]*Node{l}, grads...)
			})
			require.NoError(t, err)
			out, err := exec.Call(f.xTensor(dtypes.Float64), tensors.FromFlatDataAndDimensions(w, tc.dims...))
			require.NoError(t, err)
			require.InDelta(t, loss(f.x, f.scale, f.offset), flat64(t, out[0])[0], 1e-9)

			const h = 1e-6
			numeric := func(values []float64, eval func() float64) []float64 {
				grad := make([]float64, len(values))
				for i := range values {
					orig := values[i]
					values[i] = orig + h
					plus := eval()
					values[i] = orig - h
					minus := eval()
					values[i] = orig
					grad[i] = (plus - minus) / (2 * h)
				}
				return grad
			}
			eval := func() float64 { return loss(f.x, f.scale, f.offset) }
			x := append([]float64(nil), f.x...)
			f.x = x
			requireClose(t, numeric(f.x, eval), flat64(t, out[1]), 1e-6, "dL/dx")
			requireClose(t, numeric(f.scale, eval), flat64(t, out[2]), 1e-6, "dL/dscale")
			requireClose(t, numeric(f.offset, eval), flat64(t, out[3]), 1e-6, "dL/doffset")

			// Property of the textbook gradient: per channel, dL/dx sums to zero (mean subtraction).
			gx := flat64(t, out[1])
			sums := make([]float64, c)
			for i, v := range gx {
				sums[i%c] += v
			}
			for ch, s := range sums {
				require.InDelta(t, 0, s, 1e-9, "channel %d", ch)
			}
		})
	}
}

// TestBatchNormTrainingMatchesAutodiff checks the hand-written training-mode gradients against GoMLX's
// autodiff of the plain formula, for gradients requested with respect to all inputs or a subset, and
// for two differentiations of the same graph.
func TestBatchNormTrainingMatchesAutodiff(t *testing.T) {
	backend := testBackend(t)
	tests := []struct {
		name  string
		dtype dtypes.DType
		dims  []int
		wrt   []int // 0: x, 1: scale, 2: offset
		tol   float64
	}{
		{"nhwc float64", dtypes.Float64, []int{2, 3, 3, 4}, []int{0, 1, 2}, 1e-12},
		{"nhwc float32", dtypes.Float32, []int{4, 5, 5, 8}, []int{0, 1, 2}, 1e-5},
		{"rank 2", dtypes.Float64, []int{7, 3}, []int{0, 1, 2}, 1e-12},
		{"scale only", dtypes.Float64, []int{2, 2, 3, 5}, []int{1}, 1e-12},
		{"offset and x", dtypes.Float64, []int{2, 2, 3, 5}, []int{2, 0}, 1e-12},
	}
	type bnFn = func(x, scale, offset *Node, epsilon float64) (y, mean, variance *Node)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newBNFixture(tc.dims, 1e-5)
			c := tc.dims[len(tc.dims)-1]
			w1 := pseudoRandom(len(f.x), 11, -1, 1)
			w2 := pseudoRandom(len(f.x), 12, -1, 1)
			toTensor := func(v []float64, dims ...int) *tensors.Tensor {
				if tc.dtype == dtypes.Float64 {
					return tensors.FromFlatDataAndDimensions(v, dims...)
				}
				return tensors.FromFlatDataAndDimensions(toFloat32(v), dims...)
			}
			run := func(fn bnFn) [][]float64 {
				exec, err := NewExec(backend, func(x, scale, offset, w1, w2 *Node) []*Node {
					y, mean, variance := fn(x, scale, offset, f.eps)
					inputs := []*Node{x, scale, offset}
					var wrt []*Node
					for _, i := range tc.wrt {
						wrt = append(wrt, inputs[i])
					}
					out := []*Node{y, mean, variance}
					out = append(out, Gradient(ReduceAllSum(Mul(y, w1)), wrt...)...)
					// A second, different loss on the same graph.
					return append(out, Gradient(ReduceAllSum(Mul(Square(y), w2)), wrt...)...)
				})
				require.NoError(t, err)
				out, err := exec.Exec(toTensor(f.x, tc.dims...), toTensor(f.scale, c), toTensor(f.offset, c),
					toTensor(w1, tc.dims...), toTensor(w2, tc.dims...))
				require.NoError(t, err)
				var flats [][]float64
				for _, o := range out {
					flats = append(flats, flat64(t, o))
				}
				return flats
			}
			want, got := run(batchNormTrainingAutodiff), run(batchNormTraining)
			require.Len(t, got, 3+2*len(tc.wrt))
			for i := range want {
				requireClose(t, want[i], got[i], tc.tol, fmt.Sprintf("output %d", i))
			}
		})
	}
}

// TestBatchNormFusedMatchesElementary checks, in float32 on the pure-Go backend, the fused batch norm
// (the backend's BatchNormForTraining and BatchNormGradient in training, BatchNormForInference with
// hand-written gradients in eval mode) against the elementary-op version: output, running statistics
// and the gradients with respect to x, scale and offset.
func TestBatchNormFusedMatchesElementary(t *testing.T) {
	backend := testBackend(t)
	for _, tc := range []struct {
		dims     []int
		training bool
	}{{[]int{2, 5, 4, 6}, true}, {[]int{3, 1, 1, 64}, true}, {[]int{7, 3}, true}, {[]int{2, 5, 4, 6}, false}, {[]int{7, 3}, false}} {
		dims := tc.dims
		t.Run(fmt.Sprint(dims, tc.training), func(t *testing.T) {
			f := newBNFixture(dims, 1e-5)
			w := toFloat32(pseudoRandom(len(f.x), 5, -1, 1))
			run := func(fused bool) [][]float64 {
				saved := fusedBatchNormEnabled
				fusedBatchNormEnabled = fused
				defer func() { fusedBatchNormEnabled = saved }()
				store := f.newBNStore(t, dtypes.Float32)
				if !tc.training {
					setRunningStats(t, store, dims[len(dims)-1], 8)
				}
				exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, wNode *Node) []*Node {
					g := x.Graph()
					store.SetTraining(g, tc.training)
					if backend.String() == goBackendName {
						require.Equal(t, fused, fusedBatchNorm(x))
					}
					bnScope := scope.In("bn")
					y := BatchNorm(bnScope, x, f.eps, 0.1, false)
					grads := Gradient(ReduceAllSum(Mul(y, wNode)), x, bnScope.GetVariable("scale").NodeValue(g),
						bnScope.GetVariable("offset").NodeValue(g))
					return append([]*Node{y}, grads...)
				})
				require.NoError(t, err)
				return callWithRunningStats(t, exec, store, f.xTensor(dtypes.Float32), tensors.FromFlatDataAndDimensions(w, dims...))
			}
			want, got := run(false), run(true)
			for i, what := range []string{"y", "dL/dx", "dL/dscale", "dL/doffset", "running mean", "running variance"} {
				requireClose(t, want[i], got[i], 1e-4, what)
			}
		})
	}
}

// TestBatchNormForInferenceVJP checks the gradient registered for GoMLX's BatchNormForInference against
// autodiff of the same formula in elementary ops, with respect to all five inputs.
func TestBatchNormForInferenceVJP(t *testing.T) {
	backend := testBackend(t)
	if backend.String() != goBackendName {
		t.Skip("the fused op is exercised on the pure-Go backend")
	}
	const eps = 1e-3
	dims := []int{3, 4, 2, 5}
	c := dims[len(dims)-1]
	x := toFloat32(pseudoRandom(3*4*2*5, 21, -2, 3))
	w := toFloat32(pseudoRandom(len(x), 22, -1, 1))
	vecs := [][]float32{toFloat32(pseudoRandom(c, 23, 0.5, 1.5)), toFloat32(pseudoRandom(c, 24, -1, 1)),
		toFloat32(pseudoRandom(c, 25, -1, 1)), toFloat32(pseudoRandom(c, 26, 0.2, 2))}
	run := func(fused bool) [][]float64 {
		e, err := NewExec(backend, func(x, w, scale, offset, mean, variance *Node) []*Node {
			var y *Node
			if fused {
				y = InternalBatchNormForInference(x, scale, offset, mean, variance, eps, x.Rank()-1)
			} else {
				ex := func(v *Node) *Node { return Reshape(v, 1, 1, 1, c) }
				y = Add(Mul(Sub(x, ex(mean)), ex(Mul(scale, Reciprocal(Sqrt(AddScalar(variance, eps)))))), ex(offset))
			}
			return Gradient(ReduceAllSum(Mul(y, w)), x, scale, offset, mean, variance)
		})
		require.NoError(t, err)
		args := []any{tensors.FromFlatDataAndDimensions(x, dims...), tensors.FromFlatDataAndDimensions(w, dims...)}
		for _, v := range vecs {
			args = append(args, tensors.FromFlatDataAndDimensions(v, c))
		}
		out, err := e.Call(args...)
		require.NoError(t, err)
		res := make([][]float64, len(out))
		for i, o := range out {
			res[i] = flat64(t, o)
		}
		return res
	}
	want, got := run(false), run(true)
	for i, what := range []string{"dx", "dscale", "doffset", "dmean", "dvariance"} {
		requireClose(t, want[i], got[i], 1e-4, what)
	}
}

// TestBatchNormWithBias checks BatchNormWithBias(x, b) against BatchNorm(x + b) in training and eval mode,
// on the fused and the elementary path: output, running statistics and the gradients with respect to x,
// scale, offset and b (zero in training, where b cancels out).
func TestBatchNormWithBias(t *testing.T) {
	backend := testBackend(t)
	dims := []int{2, 3, 4, 6}
	c := dims[len(dims)-1]
	f := newBNFixture(dims, 1e-3)
	w := toFloat32(pseudoRandom(len(f.x), 31, -1, 1))
	biasVals := toFloat32(pseudoRandom(c, 32, -2, 2))
	for _, training := range []bool{true, false} {
		for _, fused := range []bool{true, false} {
			t.Run(fmt.Sprintf("training=%v/fused=%v", training, fused), func(t *testing.T) {
				saved := fusedBatchNormEnabled
				fusedBatchNormEnabled = fused
				defer func() { fusedBatchNormEnabled = saved }()
				run := func(folded bool) [][]float64 {
					store := f.newBNStore(t, dtypes.Float32)
					_, err := store.RootScope().In("conv").CreateVariable("bias", tensors.FromFlatDataAndDimensions(biasVals, c))
					require.NoError(t, err)
					if !training {
						setRunningStats(t, store, c, 33)
					}
					exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, wNode *Node) []*Node {
						g := x.Graph()
						store.SetTraining(g, training)
						bias := scope.In("conv").GetVariable("bias").NodeValue(g)
						bnScope := scope.In("bn")
						var y *Node
						if folded {
							y = BatchNormWithBias(bnScope, x, bias, f.eps, 0.1, false)
						} else {
							y = BatchNorm(bnScope, Add(x, Reshape(bias, 1, 1, 1, c)), f.eps, 0.1, false)
						}
						grads := Gradient(ReduceAllSum(Mul(y, wNode)), x, bnScope.GetVariable("scale").NodeValue(g),
							bnScope.GetVariable("offset").NodeValue(g), bias)
						return append([]*Node{y}, grads...)
					})
					require.NoError(t, err)
					return callWithRunningStats(t, exec, store, f.xTensor(dtypes.Float32), tensors.FromFlatDataAndDimensions(w, dims...))
				}
				want, got := run(false), run(true)
				for i, what := range []string{"y", "dL/dx", "dL/dscale", "dL/doffset", "dL/dbias", "running mean", "running variance"} {
					requireClose(t, want[i], got[i], 2e-4, what)
				}
			})
		}
	}
}

// callWithRunningStats calls exec and returns its outputs followed by the store's /bn/mean and
// /bn/variance after the call, all as float64.
func callWithRunningStats(t *testing.T, exec *model.Exec, store *model.Store, args ...any) [][]float64 {
	t.Helper()
	out, err := exec.Call(args...)
	require.NoError(t, err)
	res := make([][]float64, 0, len(out)+2)
	for _, o := range out {
		res = append(res, flat64(t, o))
	}
	for _, v := range []string{"/bn/mean", "/bn/variance"} {
		res = append(res, flat64(t, store.GetVariable(v).MustValue()))
	}
	return res
}

// setRunningStats gives /bn/mean and /bn/variance [c] non-trivial values (pseudo-random with seeds seed
// and seed+1; variance in [0.5, 3]), as non-trainable variables.
func setRunningStats(t *testing.T, store *model.Store, c int, seed uint32) {
	t.Helper()
	for i, name := range []string{"mean", "variance"} {
		lo, hi := -1.0, 2.0
		if name == "variance" {
			lo, hi = 0.5, 3
		}
		v := toFloat32(pseudoRandom(c, seed+uint32(i), lo, hi))
		vr, err := store.RootScope().In("bn").CreateVariable(name, tensors.FromFlatDataAndDimensions(v, c))
		require.NoError(t, err)
		vr.SetTrainable(false)
	}
}
