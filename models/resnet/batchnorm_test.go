package resnet

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute"
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

// batchNorm is BatchNormWithBias without a bias, in the graph's mode.
func batchNorm(scope *model.Scope, x *Node, epsilon, momentum float64, zeroScale bool) *Node {
	return BatchNormWithBias(scope, x, nil, epsilon, momentum, zeroScale, scope.IsTraining(x.Graph()))
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
				return batchNorm(scope.In("bn"), x, f.eps, momentum, false)
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
				return batchNorm(scope.In("bn"), x, f.eps, 0.1, false)
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
		return batchNorm(scope.In("bn"), x, 1e-5, 0.1, true)
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
				y := batchNorm(bnScope, x, f.eps, 0.1, false)
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

// TestBatchNormBackendOpsMatchElementary checks batchNormTraining and batchNormInference, which use the
// backend's batch-norm ops where it has them, against the same formulas in elementary ops: outputs and
// gradients (requested with respect to all inputs or a subset, twice on the same graph). On a backend
// declaring the ops (the pure-Go one, XLA), float32 must take the backend's op; float64 on the pure-Go
// backend takes the elementary one (checked against finite differences in TestBatchNormGradient).
func TestBatchNormBackendOpsMatchElementary(t *testing.T) {
	backend := testBackend(t)
	tests := []struct {
		name     string
		dtype    dtypes.DType
		dims     []int
		training bool
		wrt      []int // 0: x, 1: scale, 2: offset (and in inference 3: mean, 4: variance)
		tol      float64
	}{
		{"train nhwc", dtypes.Float32, []int{2, 5, 4, 6}, true, []int{0, 1, 2}, 1e-4},
		{"train 1x1 pixels", dtypes.Float32, []int{3, 1, 1, 64}, true, []int{0, 1, 2}, 1e-4},
		{"train rank 2", dtypes.Float32, []int{7, 3}, true, []int{0, 1, 2}, 1e-4},
		{"train scale only", dtypes.Float32, []int{2, 2, 3, 5}, true, []int{1}, 1e-4},
		{"train offset and x", dtypes.Float32, []int{2, 2, 3, 5}, true, []int{2, 0}, 1e-4},
		{"train float64", dtypes.Float64, []int{2, 3, 3, 4}, true, []int{0, 1, 2}, 1e-12},
		{"eval nhwc", dtypes.Float32, []int{2, 5, 4, 6}, false, []int{0, 1, 2, 3, 4}, 1e-4},
		{"eval rank 2", dtypes.Float32, []int{7, 3}, false, []int{0, 1, 2, 3, 4}, 1e-4},
		{"eval x only", dtypes.Float32, []int{3, 4, 2, 5}, false, []int{0}, 1e-4},
		{"eval float64", dtypes.Float64, []int{3, 4, 2, 5}, false, []int{4, 0}, 1e-12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newBNFixture(tc.dims, 1e-3)
			c := tc.dims[len(tc.dims)-1]
			toTensor := func(v []float64, dims ...int) *tensors.Tensor {
				if tc.dtype == dtypes.Float64 {
					return tensors.FromFlatDataAndDimensions(v, dims...)
				}
				return tensors.FromFlatDataAndDimensions(toFloat32(v), dims...)
			}
			args := []any{toTensor(pseudoRandom(len(f.x), 11, -1, 1), tc.dims...), toTensor(pseudoRandom(len(f.x), 12, -1, 1), tc.dims...),
				toTensor(f.x, tc.dims...), toTensor(f.scale, c), toTensor(f.offset, c),
				toTensor(pseudoRandom(c, 13, -1, 2), c), toTensor(pseudoRandom(c, 14, 0.5, 3), c)}
			run := func(backendOps bool) [][]float64 {
				exec, err := NewExec(backend, func(in []*Node) []*Node {
					w1, w2, inputs := in[0], in[1], in[2:]
					x, scale, offset, mean, variance := inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]
					var out []*Node
					switch {
					case tc.training && backendOps:
						y, mean, variance := batchNormTraining(x, scale, offset, f.eps)
						requireBackendOp(t, backend, y, NodeTypeBatchNormForTraining)
						out = []*Node{y, mean, variance}
					case tc.training:
						y, mean, variance := batchNormTrainingElementary(x, scale, offset, f.eps)
						out = []*Node{y, mean, variance}
					case backendOps:
						y := batchNormInference(x, scale, offset, mean, variance, f.eps)
						requireBackendOp(t, backend, y, NodeTypeBatchNormForInference)
						out = []*Node{y}
					default:
						out = []*Node{normalize(x, scale, offset, mean, variance, f.eps)}
					}
					var wrt []*Node
					for _, i := range tc.wrt {
						wrt = append(wrt, inputs[i])
					}
					y := out[0]
					out = append(out, Gradient(ReduceAllSum(Mul(y, w1)), wrt...)...)
					// A second, different loss on the same graph.
					return append(out, Gradient(ReduceAllSum(Mul(Square(y), w2)), wrt...)...)
				})
				require.NoError(t, err)
				out, err := exec.Exec(args...)
				require.NoError(t, err)
				var flats [][]float64
				for _, o := range out {
					flats = append(flats, flat64(t, o))
				}
				return flats
			}
			want, got := run(false), run(true)
			require.Len(t, got, len(want))
			for i := range want {
				requireClose(t, want[i], got[i], tc.tol, fmt.Sprintf("output %d", i))
			}
		})
	}
}

// requireBackendOp checks that y comes from the backend's batch-norm op opType when the backend declares
// that op and y is float32 (the dtype every backend that has the op covers).
func requireBackendOp(t *testing.T, backend compute.Backend, y *Node, opType NodeType) {
	t.Helper()
	want := opType == NodeTypeBatchNormForTraining && backend.Capabilities().Operations[compute.OpTypeBatchNormForTraining] ||
		opType == NodeTypeBatchNormForInference && backend.Capabilities().Operations[compute.OpTypeBatchNormForInference]
	if !want || y.DType() != dtypes.Float32 {
		return
	}
	got := y.Type()
	if got == NodeTypeSplitNode {
		got = y.Inputs()[0].Type()
	}
	require.Equal(t, opType, got, "the backend's batch-norm op was not used")
}

// TestBatchNormWithBias checks BatchNormWithBias(x, b) against BatchNormWithBias(x + b, nil) in training
// and eval mode, in float32 (the backend's batch-norm ops on the pure-Go backend) and float64 (elementary
// ops there): output, running statistics and the gradients with respect to x, scale, offset and b (zero
// in training, where b cancels out).
func TestBatchNormWithBias(t *testing.T) {
	backend := testBackend(t)
	dims := []int{2, 3, 4, 6}
	c := dims[len(dims)-1]
	f := newBNFixture(dims, 1e-3)
	w := pseudoRandom(len(f.x), 31, -1, 1)
	biasVals := pseudoRandom(c, 32, -2, 2)
	for _, training := range []bool{true, false} {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
			t.Run(fmt.Sprintf("training=%v/%s", training, dtype), func(t *testing.T) {
				run := func(folded bool) [][]float64 {
					store := f.newBNStore(t, dtype)
					_, err := store.RootScope().In("conv").CreateVariable("bias", tensorOf(dtype, biasVals, c))
					require.NoError(t, err)
					if !training {
						setRunningStats(t, store, dtype, c, 33)
					}
					exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, wNode *Node) []*Node {
						g := x.Graph()
						store.SetTraining(g, training)
						bias := scope.In("conv").GetVariable("bias").NodeValue(g)
						bnScope := scope.In("bn")
						var y *Node
						if folded {
							y = BatchNormWithBias(bnScope, x, bias, f.eps, 0.1, false, training)
						} else {
							y = batchNorm(bnScope, Add(x, Reshape(bias, 1, 1, 1, c)), f.eps, 0.1, false)
						}
						grads := Gradient(ReduceAllSum(Mul(y, wNode)), x, bnScope.GetVariable("scale").NodeValue(g),
							bnScope.GetVariable("offset").NodeValue(g), bias)
						return append([]*Node{y}, grads...)
					})
					require.NoError(t, err)
					return callWithRunningStats(t, exec, store, f.xTensor(dtype), tensorOf(dtype, w, dims...))
				}
				want, got := run(false), run(true)
				for i, what := range []string{"y", "dL/dx", "dL/dscale", "dL/doffset", "dL/dbias", "running mean", "running variance"} {
					requireClose(t, want[i], got[i], 2e-4, what)
				}
			})
		}
	}
}

// tensorOf returns values as a tensor of dtype (float32 or float64) and the given dimensions.
func tensorOf(dtype dtypes.DType, values []float64, dims ...int) *tensors.Tensor {
	if dtype == dtypes.Float64 {
		return tensors.FromFlatDataAndDimensions(values, dims...)
	}
	return tensors.FromFlatDataAndDimensions(toFloat32(values), dims...)
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
func setRunningStats(t *testing.T, store *model.Store, dtype dtypes.DType, c int, seed uint32) {
	t.Helper()
	for i, name := range []string{"mean", "variance"} {
		lo, hi := -1.0, 2.0
		if name == "variance" {
			lo, hi = 0.5, 3
		}
		v := pseudoRandom(c, seed+uint32(i), lo, hi)
		vr, err := store.RootScope().In("bn").CreateVariable(name, tensorOf(dtype, v, c))
		require.NoError(t, err)
		vr.SetTrainable(false)
	}
}
