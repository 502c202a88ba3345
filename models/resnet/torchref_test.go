package resnet

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// torchGolden is testdata/torchvision_golden.json, written by testdata/torchref.py.
type torchGolden struct {
	Torch       string `json:"torch"`
	Torchvision string `json:"torchvision"`
	Cases       []struct {
		Arch    string `json:"arch"`
		Layout  Layout `json:"layout"`
		Batch   int    `json:"batch"`
		Size    int    `json:"size"`
		Classes int    `json:"classes"`
		// Refs holds "eval_logits", "train_logits", "running:<torch BN>.running_{mean,var}" and
		// "grad:<torch parameter>" (first 64 values in torch's layout), computed by torch in float64.
		Refs map[string]torchRef `json:"refs"`
	} `json:"cases"`
}

// torchRef is one reference quantity and the error of torch's own float32 computation of it,
// relative to max(max |value|, 1).
type torchRef struct {
	Values []float64 `json:"values"`
	Err32  float64   `json:"err32"`
}

// check compares got, computed in dt, with the reference.
//
// Float64 is the tight check: the reference is torch's float64 computation, so the allowed error is
// tol64 relative to the tensor's own scale, max |value| (floored at 1e-4 for the gradients of conv
// biases that a batch norm cancels, exactly 0 up to rounding): what remains is the reference's
// rounding to 9 digits and float64 rounding, amplified by the network's conditioning.
//
// Float32 is the production path (fast kernels, fused batch norm). Deep train-mode networks amplify
// float32 rounding (for resnet50, torch's own float32 gradients of the first layers are off by ~1.5%
// of the largest), so no float32 check can be tighter than that: the allowed error, relative to
// max(max |value|, 1), is 8x torch's own float32 error, at least 3e-5. 8x rather than 5x because the
// pure-Go backend runs 3x3 stride-1 convolutions and their gradients by Winograd F(4x4, 3x3), whose
// transforms add rounding error (up to 1.1e-5 of the largest value per convolution in the fork's
// tests): with it, resnet18 v1's first batch-norm gradient is off by 5.7x torch's error
// (1.9x with GOMLX_WINOGRAD=false).
func (r torchRef) check(t *testing.T, got []float64, what string, dt dtypes.DType) {
	t.Helper()
	tol, floor := max(8*r.Err32, 3e-5), 1.0
	if dt == dtypes.Float64 {
		tol, floor = tol64, 1e-4
	}
	worst := requireCloseScaled(t, r.Values, got[:len(r.Values)], tol, floor, what)
	if testing.Verbose() {
		t.Logf("%-40s error %.2g (torch float32 %.2g, allowed %.2g)", what, worst, r.Err32, tol)
	}
}

// tol64 is the error allowed in float64, relative to each tensor's own scale.
const tol64 = 2e-8

// nameSeed and hashUnit mirror torchref.py: deterministic values in [-1, 1) from (name, flat index).
func nameSeed(name string) uint32 {
	var s uint32
	for j := 0; j < len(name); j++ {
		s += uint32(j+1) * uint32(name[j])
	}
	return s
}

func hashUnit(flat int, seed uint32) float64 {
	x := uint32(flat) + seed*0x9E3779B9
	x ^= x >> 16
	x *= 0x7FEB352D
	x ^= x >> 15
	x *= 0x846CA68B
	x ^= x >> 16
	return float64(x)/(1<<31) - 1
}

var (
	blockPathRe = regexp.MustCompile(`^layer(\d)/block_(\d+)/(.*)$`)
	bnLeaf      = map[string]string{"scale": "weight", "offset": "bias", "mean": "running_mean", "variance": "running_var"}
)

// torchName maps a variable path relative to the model scope to torchvision's state_dict key: the
// mapping a torchvision checkpoint loader uses.
func torchName(path string) string {
	dir, leaf := filepath.Split(path)
	dir = strings.TrimSuffix(dir, "/")
	var module string
	switch {
	case dir == "stem/conv":
		module = "conv1"
	case dir == "stem/bn":
		module = "bn1"
	case dir == "fc":
		return map[string]string{"weights": "fc.weight", "biases": "fc.bias"}[leaf]
	default:
		m := blockPathRe.FindStringSubmatch(dir)
		if m == nil {
			panic("unexpected variable " + path)
		}
		sub := strings.NewReplacer("downsample/conv", "downsample.0", "downsample/bn", "downsample.1").Replace(m[3])
		module = fmt.Sprintf("layer%s.%s.%s", m[1], m[2], sub)
	}
	switch leaf {
	case "kernel":
		return module + ".weight"
	case "bias":
		return module + ".bias"
	}
	return module + "." + bnLeaf[leaf]
}

// torchPaths maps torchvision state_dict keys to our variable paths, for the variables in store.
func torchPaths(store *model.Store) map[string]string {
	paths := make(map[string]string)
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), "/model/") {
			paths[torchName(strings.TrimPrefix(v.Path(), "/model/"))] = v.Path()
		}
	}
	return paths
}

// torchOrder returns a copy of values (our layout, shape dims) in torch's layout: HWIO kernels as
// OIHW, [in, out] dense weights as [out, in]; vectors unchanged.
func torchOrder(values []float64, dims []int) []float64 {
	out := make([]float64, len(values))
	switch len(dims) {
	case 4:
		kh, kw, in, o := dims[0], dims[1], dims[2], dims[3]
		for i, v := range values {
			oc := i % o
			ic := (i / o) % in
			w := (i / (o * in)) % kw
			h := i / (o * in * kw)
			out[((oc*in+ic)*kh+h)*kw+w] = v
		}
	case 2:
		in, o := dims[0], dims[1]
		for i, v := range values {
			out[(i%o)*in+i/o] = v
		}
	default:
		copy(out, values)
	}
	return out
}

// fillLikeTorchref sets every /model variable (float32 or float64) to the float32 values torchref.py
// puts in the matching torch tensor, converting layouts (OIHW -> HWIO kernels, [out,in] -> [in,out] fc weights).
func fillLikeTorchref(t *testing.T, store *model.Store) {
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), "/model/") {
			continue
		}
		name := torchName(strings.TrimPrefix(v.Path(), "/model/"))
		seed := nameSeed(name)
		dims := v.Shape().Dimensions
		data := make([]float32, v.Shape().Size())
		leaf := name[strings.LastIndex(name, ".")+1:]
		switch {
		case len(dims) == 4: // [kh, kw, I, O] from torch [O, I, kh, kw].
			kh, kw, in, out := dims[0], dims[1], dims[2], dims[3]
			scale := math.Sqrt(6 / float64(in*kh*kw))
			i := 0
			for h := range kh {
				for w := range kw {
					for c := range in {
						for o := range out {
							data[i] = float32(scale * hashUnit(((o*in+c)*kh+h)*kw+w, seed))
							i++
						}
					}
				}
			}
		case len(dims) == 2: // [in, out] from torch [out, in].
			in, out := dims[0], dims[1]
			scale := 1 / math.Sqrt(float64(in))
			for c := range in {
				for o := range out {
					data[c*out+o] = float32(scale * hashUnit(o*in+c, seed))
				}
			}
		default:
			scale, shift := 0.1, 0.0
			if leaf == "weight" {
				scale, shift = 0.2, 1
			} else if leaf == "running_var" {
				scale, shift = 0.25, 1
			}
			for i := range data {
				data[i] = float32(shift + scale*hashUnit(i, seed))
			}
		}
		require.NoError(t, v.SetValue(convertTensor(tensors.FromFlatDataAndDimensions(data, dims...), v.DType())))
	}
}

// torchrefInput is torchref.py's input, NCHW values laid out as NHWC.
func torchrefInput(batch, size int) *tensors.Tensor {
	seed := nameSeed("input")
	data := make([]float32, batch*size*size*3)
	i := 0
	for n := range batch {
		for h := range size {
			for w := range size {
				for c := range 3 {
					data[i] = float32(hashUnit(((n*3+c)*size+h)*size+w, seed))
					i++
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(data, batch, size, size, 3)
}

// requireCloseScaled requires |want-got| <= tol*max(max |want|, floor) elementwise and returns the
// worst error relative to that scale.
func requireCloseScaled(t *testing.T, want, got []float64, tol, floor float64, what string) float64 {
	t.Helper()
	require.Len(t, got, len(want), what)
	scale := floor
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	worst := 0.0
	for i := range want {
		worst = max(worst, math.Abs(want[i]-got[i])/scale)
	}
	require.LessOrEqual(t, worst, tol, "%s: worst difference relative to max |value| %.3g", what, worst)
	return worst
}

// TestMatchesTorchvision runs ResNet18/50 with hash-generated weights on the same input as
// testdata/torchref.py and compares with torchvision: eval-mode logits, train-mode logits, BN running
// statistics after the train-mode forward, and parameter gradients of sum(train_logits * w); in
// float32 (the production path) and in float64 (tightly, see torchRef.check).
func TestMatchesTorchvision(t *testing.T) {
	goldenPath := filepath.Join("testdata", "torchvision_golden.json")
	if p := os.Getenv("RESNET_TORCH_GOLDEN"); p != "" {
		goldenPath = p
	}
	raw, err := os.ReadFile(goldenPath)
	require.NoError(t, err)
	var golden torchGolden
	require.NoError(t, json.Unmarshal(raw, &golden))
	require.NotEmpty(t, golden.Cases)
	backend := testBackend(t)

	for _, tc := range golden.Cases {
		for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
			t.Run(fmt.Sprintf("%s/%s/%s", tc.Arch, tc.Layout, dt), func(t *testing.T) {
				m, err := New(tc.Arch, tc.Classes, tc.Layout)
				require.NoError(t, err)
				store := model.NewStore()
				// Create the variables, then overwrite them with the reference values.
				buildGraphDType(t, store, m, tc.Batch, tc.Size, dt)
				fillLikeTorchref(t, store)
				paths := torchPaths(store)
				images := convertTensor(torchrefInput(tc.Batch, tc.Size), dt)

				evalExec, err := model.NewExec(backend, store, func(scope *model.Scope, images *Node) *Node {
					return m.Logits(scope.In("model"), images)
				})
				require.NoError(t, err)
				evalLogits, err := evalExec.Call1(images)
				require.NoError(t, err)
				refs := tc.Refs
				refs["eval_logits"].check(t, flat64(t, evalLogits), "eval logits", dt)

				var gradNames []string
				for key := range refs {
					if name, ok := strings.CutPrefix(key, "grad:"); ok {
						gradNames = append(gradNames, name)
					}
				}
				slices.Sort(gradNames)
				require.NotEmpty(t, gradNames)
				trainExec, err := model.NewExec(backend, store, func(scope *model.Scope, images, w *Node) []*Node {
					g := images.Graph()
					store.SetTraining(g, true)
					logits := m.Logits(scope.In("model"), images)
					var wrt []*Node
					for _, name := range gradNames {
						wrt = append(wrt, store.GetVariable(paths[name]).NodeValue(g))
					}
					return append([]*Node{logits}, Gradient(ReduceAllSum(Mul(logits, w)), wrt...)...)
				})
				require.NoError(t, err)
				w := make([]float32, tc.Batch*tc.Classes)
				for i := range w {
					w[i] = float32(hashUnit(i, nameSeed("loss_weights")))
				}
				out, err := trainExec.Call(images, convertTensor(tensors.FromFlatDataAndDimensions(w, tc.Batch, tc.Classes), dt))
				require.NoError(t, err)
				refs["train_logits"].check(t, flat64(t, out[0]), "train logits", dt)
				for i, name := range gradNames {
					v := store.GetVariable(paths[name])
					refs["grad:"+name].check(t, torchOrder(flat64(t, out[i+1]), v.Shape().Dimensions), "gradient of "+name, dt)
				}
				numRunning := 0
				for key, ref := range refs {
					if name, ok := strings.CutPrefix(key, "running:"); ok {
						v := store.GetVariable(paths[name])
						require.NotNil(t, v, key)
						ref.check(t, flat64(t, v.MustValue()), key, dt)
						numRunning++
					}
				}
				require.Equal(t, 4, numRunning)
			})
		}
	}
}

// buildGraphDType builds m.Logits on a [batch, size, size, 3] parameter of dtype dt, creating the
// variables in store (float64 ones for float64 images).
func buildGraphDType(t testing.TB, store *model.Store, m *Model, batch, size int, dt dtypes.DType) {
	t.Helper()
	g := NewGraph(testBackend(t), "resnet_shapes")
	model.SetStore(g, store)
	m.Logits(store.RootScope().In("model"), Parameter(g, "images", shapes.Make(dt, batch, size, size, 3)))
}

// convertTensor returns a float32 tensor as dt, exactly (torchref.py also rounds its inputs and weights
// to float32 before its float64 run).
func convertTensor(x *tensors.Tensor, dt dtypes.DType) *tensors.Tensor {
	if dt == dtypes.Float32 {
		return x
	}
	f32 := tensors.MustCopyFlatData[float32](x)
	f64 := make([]float64, len(f32))
	for i, v := range f32 {
		f64[i] = float64(v)
	}
	return tensors.FromFlatDataAndDimensions(f64, x.Shape().Dimensions...)
}
