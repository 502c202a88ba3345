package resnet

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
		Arch        string               `json:"arch"`
		Layout      Layout               `json:"layout"`
		Batch       int                  `json:"batch"`
		Size        int                  `json:"size"`
		Classes     int                  `json:"classes"`
		EvalLogits  []float64            `json:"eval_logits"`
		TrainLogits []float64            `json:"train_logits"`
		Running     map[string][]float64 `json:"running"`
	} `json:"cases"`
}

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
	torchBNLeaf = map[string]string{"running_mean": "mean", "running_var": "variance"}
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

// ourPath maps a torchvision BN statistic key ("layer4.2.bn3.running_var") to our variable path.
func ourPath(key string) string {
	parts := strings.Split(key, ".")
	leaf := torchBNLeaf[parts[len(parts)-1]]
	if parts[0] == "bn1" {
		return "/model/stem/bn/" + leaf
	}
	return fmt.Sprintf("/model/%s/block_%s/%s/%s", parts[0], parts[1], parts[2], leaf)
}

// fillLikeTorchref sets every /model variable to the values torchref.py puts in the matching torch
// tensor, converting layouts (OIHW -> HWIO kernels, [out,in] -> [in,out] fc weights).
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
		require.NoError(t, v.SetValue(tensors.FromFlatDataAndDimensions(data, dims...)))
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

func requireCloseScaled(t *testing.T, want, got []float64, tol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	worst := 0.0
	for i := range want {
		worst = max(worst, math.Abs(want[i]-got[i])/max(scale, 1))
	}
	require.LessOrEqual(t, worst, tol, "%s: worst difference relative to max |value| %.3g", what, worst)
}

// TestMatchesTorchvision runs ResNet18/50 with hash-generated weights on the same input as
// testdata/torchref.py and compares logits (eval and train mode) and updated BN running statistics
// with torchvision's.
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
		t.Run(fmt.Sprintf("%s/%s", tc.Arch, tc.Layout), func(t *testing.T) {
			m, err := New(tc.Arch, tc.Classes, tc.Layout)
			require.NoError(t, err)
			store := model.NewStore()
			build := func(training bool) *model.Exec {
				exec, err := model.NewExec(backend, store, func(scope *model.Scope, images *Node) *Node {
					store.SetTraining(images.Graph(), training)
					return m.Logits(scope.In("model"), images)
				})
				require.NoError(t, err)
				return exec
			}
			// Create the variables, then overwrite them with the reference values.
			_, _ = buildGraph(t, m, tc.Batch, tc.Size, false)
			evalExec, trainExec := build(false), build(true)
			_, err = evalExec.Compile(torchrefInput(tc.Batch, tc.Size).Shape())
			require.NoError(t, err)
			fillLikeTorchref(t, store)

			images := torchrefInput(tc.Batch, tc.Size)
			evalLogits, err := evalExec.Call1(images)
			require.NoError(t, err)
			requireCloseScaled(t, tc.EvalLogits, flat64(t, evalLogits), 2e-5, "eval logits")

			trainLogits, err := trainExec.Call1(images)
			require.NoError(t, err)
			// Train mode chains ~50 batch-statistics normalisations, which amplify float32 rounding: for
			// resnet50 torch's own float32 logits differ from its float64 ones by 5.6e-5 (relative to
			// the largest logit); ours differ from torch's float32 by at most 1.5e-4.
			requireCloseScaled(t, tc.TrainLogits, flat64(t, trainLogits), 5e-4, "train logits")
			for key, want := range tc.Running {
				v := store.GetVariable(ourPath(key))
				require.NotNil(t, v, key)
				got := flat64(t, v.MustValue())
				requireCloseScaled(t, want, got[:len(want)], 5e-5, key)
			}
		})
	}
}
