package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/evaluate"
	"github.com/gocls/gocls/internal/backend"
)

// TestCrossEntropyLabelSmoothing compares the graph loss with the formula
// -sum_k q_k log softmax(z)_k, q = (1-e)*onehot + e/K, computed in float64.
func TestCrossEntropyLabelSmoothing(t *testing.T) {
	logits := [][]float64{{1, 2, 3}, {0, 0, 0}, {-4, 5, 0.5}}
	labels := []int32{2, 0, 0}
	be, err := backend.New("go")
	require.NoError(t, err)
	for _, eps := range []float64{0, 0.1, 0.5} {
		t.Run("", func(t *testing.T) {
			var flat []float32
			for _, row := range logits {
				flat = append(flat, f32(row)...)
			}
			got := MustExecOnce(be, func(z, y *Node) *Node { return crossEntropy(z, y, eps) },
				tensors.FromFlatDataAndDimensions(flat, 3, 3), tensors.FromFlatDataAndDimensions(labels, 3))
			losses := tensors.MustCopyFlatData[float32](got)
			for i, row := range logits {
				var sum float64
				for _, v := range row {
					sum += math.Exp(v)
				}
				want := 0.0
				for k, v := range row {
					q := eps / 3
					if k == int(labels[i]) {
						q += 1 - eps
					}
					want -= q * (v - math.Log(sum))
				}
				require.InDelta(t, want, float64(losses[i]), 1e-5, "row %d eps %g", i, eps)
			}
		})
	}
}

// linearForward is a tiny model for step tests: logits = flatten(images) @
// W + b with W, b under /model/fc and one "backbone" scale under
// /model/stem/bn.
func linearForward(scope *model.Scope, images *Node) *Node {
	g := images.Graph()
	n := images.Shape().Dimensions[0]
	x := Reshape(images, n, -1)
	scale := scope.In("stem").In("bn").VariableWithShape("scale", shapes.Make(x.DType(), 1)).NodeValue(g)
	x = Mul(x, Reshape(scale))
	fc := scope.In("fc")
	w := fc.VariableWithShape("weights", shapes.Make(x.DType(), x.Shape().Dimensions[1], 3)).NodeValue(g)
	b := fc.VariableWithShape("biases", shapes.Make(x.DType(), 3)).NodeValue(g)
	return Add(MatMul(x, w), Reshape(b, 1, 3))
}

func linearStore(t *testing.T) *model.Store {
	store := model.NewStore()
	w := make([]float32, 12*3)
	for i := range w {
		w[i] = float32(math.Sin(float64(i))) * 0.3
	}
	for path, v := range map[string]*tensors.Tensor{
		"/model/fc/weights":    tensors.FromFlatDataAndDimensions(w, 12, 3),
		"/model/fc/biases":     tensors.FromFlatDataAndDimensions([]float32{0.1, -0.1, 0}, 3),
		"/model/stem/bn/scale": tensors.FromFlatDataAndDimensions([]float32{1}, 1),
	} {
		_, err := store.CreateVariable(path, v)
		require.NoError(t, err)
	}
	return store
}

// linearBatch returns n images [n, 2, 2, 3] and labels [n] starting at
// example first.
func linearBatch(first, n int) (*tensors.Tensor, *tensors.Tensor) {
	img := make([]float32, n*12)
	lab := make([]int32, n)
	for i := range n {
		for j := range 12 {
			img[i*12+j] = float32(math.Cos(float64((first+i)*13 + j)))
		}
		lab[i] = int32((first + i) % 3)
	}
	return tensors.FromFlatDataAndDimensions(img, n, 2, 2, 3), tensors.FromFlatDataAndDimensions(lab, n)
}

func storeValues(s *model.Store) map[string][]float32 {
	out := map[string][]float32{}
	for v := range s.IterVariables() {
		if v.DType().String() == "Float32" || v.DType().String() == "float32" {
			out[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	return out
}

// TestGradientAccumulation: micro-batches of 2+2 then 3+1 examples give the
// same parameters and momentum as single batches of 4, and the
// accumulation buffers are empty after each step.
func TestGradientAccumulation(t *testing.T) {
	be, err := backend.New("go")
	require.NoError(t, err)
	cfg := OptimConfig{Name: "sgd", Momentum: 0.9, WeightDecay: 1e-3}
	in := stepInputs{LR: 0.1, BackboneLR: 0.05, Examples: 4}

	whole := linearStore(t)
	ws := newSteps(be, whole, stepConfig{forward: linearForward, opt: newOptimizer(cfg), smoothing: 0.1})
	for _, first := range []int{0, 4} {
		images, labels := linearBatch(first, 4)
		_, _, err := ws.train(images, labels, in)
		require.NoError(t, err)
	}

	acc := linearStore(t)
	as := newSteps(be, acc, stepConfig{forward: linearForward, opt: newOptimizer(cfg), smoothing: 0.1, accumulate: true})
	for _, split := range [][2]int{{0, 2}, {4, 3}} { // [first, size of the first micro-batch]
		first, n1 := split[0], split[1]
		images, labels := linearBatch(first, n1)
		_, _, err := as.accumulate(images, labels, false)
		require.NoError(t, err)
		images, labels = linearBatch(first+n1, 4-n1)
		_, _, err = as.train(images, labels, in)
		require.NoError(t, err)
	}

	want, got := storeValues(whole), storeValues(acc)
	checked := 0
	for path, w := range want {
		if path == "/#rngState" {
			continue
		}
		require.InDeltaSlice(t, toF64(w), toF64(got[path]), 1e-6, path)
		checked++
	}
	require.GreaterOrEqual(t, checked, 6) // 3 parameters + 3 momentum buffers
	for path, v := range got {
		if len(path) > len("/optimizer/accum/") && path[:len("/optimizer/accum/")] == "/optimizer/accum/" {
			require.Equal(t, make([]float32, len(v)), v, path)
			checked++
		}
	}
	require.GreaterOrEqual(t, checked, 9)
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestTop1CountNode: the training step's in-graph top-1 count equals
// evaluate.Accumulator's, which validation uses, ties (few score levels)
// included: both rank the first of equal scores first.
func TestTop1CountNode(t *testing.T) {
	be, err := backend.New("go")
	require.NoError(t, err)
	const n, classes = 64, 5
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, n*classes)
	labels := make([]int32, n)
	acc := evaluate.NewAccumulator(classes)
	for i := range n {
		for j := range classes {
			logits[i*classes+j] = float32(rng.IntN(3))
		}
		labels[i] = int32(rng.IntN(classes))
		acc.Add(logits[i*classes:(i+1)*classes], int(labels[i]))
	}
	got := MustExecOnce(be, top1CountNode, tensors.FromFlatDataAndDimensions(logits, n, classes), labels)
	m := acc.Metrics()
	require.Equal(t, int32(math.Round(m.Top1*float64(m.N))), tensors.ToScalar[int32](got))
}
