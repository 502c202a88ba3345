package resnet

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	_ "github.com/gomlx/gomlx/backends/default"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testBackend returns the backend selected by $GOMLX_BACKEND, or the pure-Go backend when it is unset
// (compute's own default would be XLA).
func testBackend(t testing.TB) compute.Backend {
	t.Helper()
	config, found := os.LookupEnv(compute.ConfigEnvVar)
	if !found {
		config = "go"
	}
	backend, err := compute.NewWithConfig(config)
	require.NoError(t, err)
	return backend
}

// buildGraph builds m.Logits on a [batch, size, size, 3] parameter in a fresh graph and store, without
// initialising or running anything. It returns the store, the logits node and the scope used.
func buildGraph(t testing.TB, m *Model, batch, size int, training bool) (*model.Store, *Node) {
	t.Helper()
	store := model.NewStore()
	return store, buildGraphIn(t, store, m, batch, size, training)
}

// buildGraphIn is buildGraph with the given store: it creates the model's variables in it (without
// values) and returns the logits node.
func buildGraphIn(t testing.TB, store *model.Store, m *Model, batch, size int, training bool) *Node {
	t.Helper()
	backend := testBackend(t)
	g := NewGraph(backend, "resnet_shapes")
	store.SetTraining(g, training)
	model.SetStore(g, store)
	images := Parameter(g, "images", shapes.Make(dtypes.Float32, batch, size, size, 3))
	return m.Logits(store.RootScope().In("model"), images)
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name       string
		model      string
		classes    int
		layout     Layout
		wantSubstr []string
	}{
		{"unknown name", "resnet20", 10, LayoutTorchvision, []string{`"resnet20"`, "resnet18, resnet34, resnet50, resnet101, resnet152"}},
		{"empty name", "", 10, LayoutTorchvision, []string{"resnet: unknown model", "resnet152"}},
		{"zero classes", "resnet18", 0, LayoutTorchvision, []string{"resnet18", "classes", "got 0"}},
		{"bad layout", "resnet50", 10, Layout("v2"), []string{`"v2"`, `"v1.5"`, `"v1"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.model, tc.classes, tc.layout)
			require.Error(t, err)
			require.Nil(t, m)
			for _, s := range tc.wantSubstr {
				require.Contains(t, err.Error(), s)
			}
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestNewDefaults(t *testing.T) {
	tests := []struct {
		layout  Layout
		epsilon float64
	}{
		{LayoutTorchvision, 1e-5},
		{LayoutKeras, 1e-3},
	}
	for _, tc := range tests {
		t.Run(string(tc.layout), func(t *testing.T) {
			m, err := New("resnet50", 7, tc.layout)
			require.NoError(t, err)
			require.Equal(t, tc.epsilon, m.Epsilon)
			require.Equal(t, 0.1, m.Momentum)
			require.False(t, m.ZeroInitResidual)
			require.Equal(t, Variants["resnet50"], m.Variant)
		})
	}
	require.Equal(t, []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"}, Names())
}

func TestLogitsShapes(t *testing.T) {
	for _, name := range Names() {
		for _, layout := range []Layout{LayoutTorchvision, LayoutKeras} {
			for _, training := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/training=%v", name, layout, training), func(t *testing.T) {
					m, err := New(name, 12, layout)
					require.NoError(t, err)
					_, logits := buildGraph(t, m, 2, 64, training)
					require.Equal(t, []int{2, 12}, logits.Shape().Dimensions)
					require.Equal(t, dtypes.Float32, logits.DType())
				})
			}
		}
	}
	// Odd input sizes follow torch's floor arithmetic.
	for _, size := range []int{32, 33, 224, 227} {
		t.Run(fmt.Sprintf("resnet18/size=%d", size), func(t *testing.T) {
			m, err := New("resnet18", 3, LayoutTorchvision)
			require.NoError(t, err)
			_, logits := buildGraph(t, m, 1, size, false)
			require.Equal(t, []int{1, 3}, logits.Shape().Dimensions)
		})
	}
}

// countParams returns the number of trainable and non-trainable scalars under /model.
func countParams(store *model.Store) (trainable, frozen int) {
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), "/model/") {
			continue
		}
		if v.Trainable {
			trainable += v.Shape().Size()
		} else {
			frozen += v.Shape().Size()
		}
	}
	return
}

func TestParameterCounts(t *testing.T) {
	tests := []struct {
		name      string
		layout    Layout
		classes   int
		trainable int // torchvision's sum(p.numel() for p in model.parameters()), Keras' trainable params.
		runningBN int // BN running mean + variance.
	}{
		{"resnet18", LayoutTorchvision, 1000, 11_689_512, 9_600},
		{"resnet34", LayoutTorchvision, 1000, 21_797_672, 17_024},
		{"resnet50", LayoutTorchvision, 1000, 25_557_032, 53_120},
		{"resnet101", LayoutTorchvision, 1000, 44_549_160, 105_344},
		{"resnet152", LayoutTorchvision, 1000, 60_192_808, 151_424},
		{"resnet50", LayoutKeras, 1000, 25_583_592, 53_120},
		{"resnet50", LayoutTorchvision, 12, 25_557_032 - 988*2049, 53_120},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s/%d", tc.name, tc.layout, tc.classes), func(t *testing.T) {
			m, err := New(tc.name, tc.classes, tc.layout)
			require.NoError(t, err)
			store, _ := buildGraph(t, m, 1, 64, true)
			trainable, frozen := countParams(store)
			require.Equal(t, tc.trainable, trainable)
			require.Equal(t, tc.runningBN, frozen)
		})
	}
}

// variableTree lists "path shape trainable" for every variable under /model, sorted by path.
func variableTree(store *model.Store) string {
	var lines []string
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), "/model/") {
			continue
		}
		kind := "trainable"
		if !v.Trainable {
			kind = "running"
		}
		lines = append(lines, fmt.Sprintf("%s %v %s", strings.TrimPrefix(v.Path(), "/model/"), v.Shape().Dimensions, kind))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

func TestVariableTreeGolden(t *testing.T) {
	tests := []struct {
		layout Layout
		golden string
	}{
		{LayoutTorchvision, "resnet50_v1.5_variables.golden"},
		{LayoutKeras, "resnet50_v1_variables.golden"},
	}
	for _, tc := range tests {
		t.Run(string(tc.layout), func(t *testing.T) {
			m, err := New("resnet50", 1000, tc.layout)
			require.NoError(t, err)
			store, _ := buildGraph(t, m, 1, 64, true)
			got := variableTree(store)
			path := filepath.Join("testdata", tc.golden)
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestVariableTreeGolden -update to create it")
			require.Equal(t, string(want), got)
		})
	}
}

// Variables must list exactly the variables a built graph creates: paths, shapes, dtype and
// trainability (the weight readers check pretrained tensors against it).
func TestVariablesMatchGraph(t *testing.T) {
	for _, name := range Names() {
		for _, layout := range []Layout{LayoutTorchvision, LayoutKeras} {
			t.Run(fmt.Sprintf("%s/%s", name, layout), func(t *testing.T) {
				m, err := New(name, 7, layout)
				require.NoError(t, err)
				store, _ := buildGraph(t, m, 1, 32, true)
				var built []Var // in creation order
				for v := range store.IterVariables() {
					require.Equal(t, dtypes.Float32, v.Shape().DType, v.Path())
					path := strings.TrimPrefix(v.Path(), "/model/")
					built = append(built, Var{Path: path, Dims: v.Shape().Dimensions, Trainable: v.Trainable})
				}
				listed := m.Variables()
				require.Equal(t, built, listed)
				fc := listed[len(listed)-2]
				require.Equal(t, "fc/weights", fc.Path)
				require.Equal(t, []int{map[BlockKind]int{BasicBlock: 512, Bottleneck: 2048}[m.Variant.Block], 7}, fc.Dims)
			})
		}
	}
}

func TestIsHead(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"fc/weights", true},
		{"fc/biases", true},
		{"/model/fc/weights", true},
		{"/ema/fc/biases", true},
		{"stem/conv/kernel", false},
		{"/model/layer4/block_2/bn3/scale", false},
		{"/optimizer/adam_steps/head", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			require.Equal(t, tc.want, IsHead(tc.path))
		})
	}
	m, err := New("resnet18", 3, LayoutKeras)
	require.NoError(t, err)
	var heads []string
	for _, v := range m.Variables() {
		if IsHead(v.Path) {
			heads = append(heads, v.Path)
		}
	}
	require.Equal(t, []string{"fc/weights", "fc/biases"}, heads)
}

// randomImages returns deterministic pseudo-random images [batch, size, size, 3] in [-1, 1).
func randomImages(batch, size int, seed uint32) *tensors.Tensor {
	data := make([]float32, batch*size*size*3)
	state := seed*2654435761 + 1
	for i := range data {
		state = state*1664525 + 1013904223
		data[i] = float32(state>>8)/float32(1<<24)*2 - 1
	}
	return tensors.FromFlatDataAndDimensions(data, batch, size, size, 3)
}

func TestLogitsRun(t *testing.T) {
	backend := testBackend(t)
	for _, layout := range []Layout{LayoutTorchvision, LayoutKeras} {
		for _, training := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/training=%v", layout, training), func(t *testing.T) {
				m, err := New("resnet18", 5, layout)
				require.NoError(t, err)
				store := model.NewStore()
				store.RootScope().SetParam(model.ParamInitialSeed, int64(42))
				exec, err := model.NewExec(backend, store, func(scope *model.Scope, images *Node) *Node {
					store.SetTraining(images.Graph(), training)
					return m.Logits(scope.In("model"), images)
				})
				require.NoError(t, err)
				out, err := exec.Call1(randomImages(2, 32, 1))
				require.NoError(t, err)
				require.Equal(t, []int{2, 5}, out.Shape().Dimensions)
				for _, v := range tensors.MustCopyFlatData[float32](out) {
					require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), "logit %v", v)
				}
				mean := store.GetVariable("/model/stem/bn/mean")
				require.NotNil(t, mean)
				changed := false
				for _, v := range tensors.MustCopyFlatData[float32](mean.MustValue()) {
					changed = changed || v != 0
				}
				require.Equal(t, training, changed, "running mean updated only in training mode")
			})
		}
	}
}

// TestPartialLogits runs PartialLogits in a training graph for every number of trainable layers: the
// gradient reaches the classifier and the trained layers only (IsTrained), and only the trained
// layers' batch norm updates its running statistics. With every layer trained it is Logits in the
// same graph; with none, the inference-mode Logits (a linear probe's frozen features).
func TestPartialLogits(t *testing.T) {
	backend := testBackend(t)
	m, err := New("resnet18", 5, LayoutTorchvision)
	require.NoError(t, err)
	// One parameter and one running mean of each backbone layer, then the classifier's.
	params := []string{"stem/conv/kernel", "layer1/block_0/bn1/scale", "layer2/block_0/conv1/kernel",
		"layer3/block_1/conv2/kernel", "layer4/block_1/bn2/offset", "fc/weights", "fc/biases"}
	means := []string{"stem/bn/mean", "layer1/block_1/bn2/mean", "layer2/block_0/downsample/bn/mean",
		"layer3/block_0/bn1/mean", "layer4/block_1/bn2/mean"}
	images := randomImages(2, 32, 1)
	for trainable := range BackboneLayers + 1 {
		t.Run(fmt.Sprintf("trainable=%d", trainable), func(t *testing.T) {
			store := model.NewStore()
			store.RootScope().SetParam(model.ParamInitialSeed, int64(42))
			partial := func(scope *model.Scope, images *Node) *Node { return m.PartialLogits(scope, images, trainable) }
			got := callWithGradients(t, backend, store, partial, true, images, params)
			for _, p := range means {
				mean := tensors.MustCopyFlatData[float32](store.GetVariable("/model/" + p).MustValue())
				require.Equal(t, IsTrained(p, trainable), !slices.Equal(make([]float32, len(mean)), mean),
					"%s updated exactly when trained", p)
			}
			for i, p := range params {
				grad := tensors.MustCopyFlatData[float32](got[1+i])
				require.Equal(t, IsTrained(p, trainable), !slices.Equal(make([]float32, len(grad)), grad),
					"%s has a gradient exactly when trained", p)
			}
			want := callWithGradients(t, backend, store, m.Logits, trainable > 0, images, params)
			switch trainable {
			case 0:
				require.Equal(t, tensors.MustCopyFlatData[float32](want[0]), tensors.MustCopyFlatData[float32](got[0]))
			case BackboneLayers:
				for i := range got {
					require.Equal(t, tensors.MustCopyFlatData[float32](want[i]), tensors.MustCopyFlatData[float32](got[i]))
				}
			}
		})
	}
}

// TestPartialLogitsComposes: PartialLogits with 2 trainable layers gives the logits and gradients of
// its parts run apart: the frozen layers in an inference graph, then, on their output fed as the input
// of a training graph, the trained layers and the classifier. A training step of Logits first moves
// every running statistic away from its initial value.
func TestPartialLogitsComposes(t *testing.T) {
	const trainable = 2
	backend := testBackend(t)
	params := []string{"layer3/block_0/conv1/kernel", "layer3/block_0/downsample/bn/scale", "layer4/block_1/conv2/kernel",
		"layer4/block_1/bn2/offset", "fc/weights", "fc/biases"}
	images := randomImages(2, 32, 1)
	for _, layout := range []Layout{LayoutTorchvision, LayoutKeras} {
		t.Run(string(layout), func(t *testing.T) {
			m, err := New("resnet18", 5, layout)
			require.NoError(t, err)
			store := model.NewStore()
			store.RootScope().SetParam(model.ParamInitialSeed, int64(42))
			callWithGradients(t, backend, store, m.Logits, true, randomImages(2, 32, 2), nil)
			partial := func(scope *model.Scope, images *Node) *Node { return m.PartialLogits(scope, images, trainable) }
			got := callWithGradients(t, backend, store, partial, true, images, params)

			front, err := model.NewExec(backend, store, func(scope *model.Scope, images *Node) *Node {
				store.SetTraining(images.Graph(), false)
				scope, x := scope.In("model"), images
				for layer := range BackboneLayers - trainable {
					x = m.layer(scope, layer, x, false)
				}
				return x
			})
			require.NoError(t, err)
			frozenOut, err := front.Call1(images)
			require.NoError(t, err)
			back := func(scope *model.Scope, x *Node) *Node {
				for layer := BackboneLayers - trainable; layer < BackboneLayers; layer++ {
					x = m.layer(scope, layer, x, true)
				}
				return m.fc(scope.In(headScope), ReduceMean(x, 1, 2))
			}
			want := callWithGradients(t, backend, store, back, true, frozenOut, params)
			for i := range want {
				require.Equal(t, tensors.MustCopyFlatData[float32](want[i]), tensors.MustCopyFlatData[float32](got[i]), "output %d", i)
			}
		})
	}
}

// callWithGradients runs logits on images under /model in a graph in training mode or not: it
// returns the logits and the gradients of the sum of their squares with respect to the parameters
// at paths (under /model).
func callWithGradients(t *testing.T, backend compute.Backend, store *model.Store, logits func(*model.Scope, *Node) *Node,
	training bool, images *tensors.Tensor, paths []string) []*tensors.Tensor {
	t.Helper()
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, images *Node) []*Node {
		g := images.Graph()
		store.SetTraining(g, training)
		out := logits(scope.In("model"), images)
		var params []*Node
		for _, p := range paths {
			params = append(params, store.GetVariable("/model/"+p).NodeValue(g))
		}
		return append([]*Node{out}, Gradient(ReduceAllSum(Square(out)), params...)...)
	})
	require.NoError(t, err)
	outs, err := exec.Call(images)
	require.NoError(t, err)
	return outs
}

// TestPartialLogitsRange: a number of trainable layers outside 0 to BackboneLayers is the call's error.
func TestPartialLogitsRange(t *testing.T) {
	backend := testBackend(t)
	m, err := New("resnet18", 5, LayoutTorchvision)
	require.NoError(t, err)
	for _, trainable := range []int{-1, BackboneLayers + 1} {
		t.Run(fmt.Sprint(trainable), func(t *testing.T) {
			exec, err := model.NewExec(backend, model.NewStore(), func(scope *model.Scope, images *Node) *Node {
				return m.PartialLogits(scope.In("model"), images, trainable)
			})
			require.NoError(t, err)
			_, err = exec.Call(randomImages(1, 32, 1))
			require.ErrorContains(t, err, fmt.Sprintf("resnet: %d trainable backbone layers, want 0 to 5", trainable))
		})
	}
}

// TestIsTrained: which variables PartialLogits trains, by path and over a whole ResNet50's list.
func TestIsTrained(t *testing.T) {
	tests := []struct {
		path      string
		trainable int
		want      bool
	}{
		{"fc/weights", 0, true},
		{"/ema/fc/biases", 0, true},
		{"/model/layer4/block_2/bn3/scale", 0, false},
		{"/model/layer4/block_2/bn3/scale", 1, true},
		{"layer3/block_0/downsample/conv/kernel", 1, false},
		{"layer3/block_0/downsample/conv/kernel", 2, true},
		{"/model/layer1/block_0/conv1/kernel", 3, false},
		{"/model/layer1/block_0/conv1/kernel", 4, true},
		{"stem/bn/variance", 4, false},
		{"stem/conv/kernel", 5, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.path, tc.trainable), func(t *testing.T) {
			require.Equal(t, tc.want, IsTrained(tc.path, tc.trainable))
		})
	}
	m, err := New("resnet50", 3, LayoutTorchvision)
	require.NoError(t, err)
	// Variables of fc, layer4, ..., layer1, stem: 5 per conv and its batch norm; a stage of n
	// bottlenecks has 3n convolutions and a projection shortcut.
	want := []int{2, (3*3 + 1) * 5, (6*3 + 1) * 5, (4*3 + 1) * 5, (3*3 + 1) * 5, 5}
	for trainable := range BackboneLayers + 1 {
		count := 0
		for _, v := range m.Variables() {
			if IsTrained(v.Path, trainable) {
				count++
			}
		}
		sum := 0
		for _, n := range want[:trainable+1] {
			sum += n
		}
		require.Equal(t, sum, count, "variables trained with %d layers", trainable)
	}
}
