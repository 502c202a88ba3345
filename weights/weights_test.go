package weights

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gocls/gocls/internal/safetensors"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	_ "github.com/gomlx/gomlx/backends/default"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

func goBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := compute.NewWithConfig("go")
	require.NoError(t, err)
	return b
}

// Every architecture is recognised in both layouts from its tensor names, and a damaged set is
// reported tensor by tensor against the closest one.
func TestDetectArch(t *testing.T) {
	for _, arch := range resnet.Names() {
		for _, layout := range []resnet.Layout{resnet.LayoutTorchvision, resnet.LayoutKeras} {
			t.Run(fmt.Sprintf("%s/%s", arch, layout), func(t *testing.T) {
				s, err := newSet("synthetic", shapesOnly(t, arch, layout, 3), layout, preprocess.TorchvisionImageNet)
				require.NoError(t, err)
				require.Equal(t, arch, s.Arch)
				require.Equal(t, 3, s.NumClasses)
			})
		}
	}
	t.Run("damaged", func(t *testing.T) {
		ts := shapesOnly(t, "resnet50", resnet.LayoutTorchvision, 3)
		delete(ts, "layer3/block_5/conv2/kernel")
		ts["layer3/block_5/conv4/kernel"] = ts["layer3/block_5/conv3/kernel"]
		_, err := newSet("synthetic", ts, resnet.LayoutTorchvision, preprocess.TorchvisionImageNet)
		require.ErrorContains(t, err, `weights: synthetic: as a resnet50 in layout "v1.5": 2 problems: `)
		require.ErrorContains(t, err, "unexpected tensor layer3/block_5/conv4/kernel [1 1 256 1024]")
		require.ErrorContains(t, err, "missing tensor layer3/block_5/conv2/kernel [3 3 256 256]")
	})
	t.Run("unknown layout", func(t *testing.T) {
		_, err := newSet("synthetic", shapesOnly(t, "resnet18", resnet.LayoutKeras, 3), "v2", preprocess.TorchvisionImageNet)
		require.ErrorContains(t, err, `weights: synthetic: resnet: resnet18: unknown layout "v2"`)
	})
}

func TestKerasNames(t *testing.T) {
	tests := []struct{ in, want string }{
		{"conv1/kernel", "stem/conv/kernel"},
		{"conv1/bias", "stem/conv/bias"},
		{"bn_conv1/gamma", "stem/bn/scale"},
		{"bn_conv1/moving_variance", "stem/bn/variance"},
		{"res2a_branch2a/kernel", "layer1/block_0/conv1/kernel"},
		{"bn2a_branch2c/beta", "layer1/block_0/bn3/offset"},
		{"res3a_branch1/bias", "layer2/block_0/downsample/conv/bias"},
		{"bn4f_branch1/moving_mean", "layer3/block_5/downsample/bn/mean"},
		{"res5c_branch2b/kernel", "layer4/block_2/conv2/kernel"},
		{"fc1000/kernel", "fc/weights"},
		{"fc1000/bias", "fc/biases"},
		{"conv2_block1_0_conv/kernel", "layer1/block_0/downsample/conv/kernel"},
		{"conv4_block6_3_bn/gamma", "layer3/block_5/bn3/scale"},
		{"conv1_conv/bias", "stem/conv/bias"},
		{"predictions/kernel", "fc/weights"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := kerasName(tc.in)
			require.True(t, ok)
			require.Equal(t, tc.want, got)
		})
	}
	for _, bad := range []string{"res2a_branch2a/gamma", "bn2a_branch2a/kernel", "res6a_branch2a/kernel", "dense/kernel", "conv2_block0_1_conv/kernel"} {
		_, ok := kerasName(bad)
		require.False(t, ok, bad)
	}
}

func TestTorchNames(t *testing.T) {
	tests := []struct {
		in, want string
		tr       torchTransform
	}{
		{"conv1.weight", "stem/conv/kernel", oihwToHWIO},
		{"bn1.running_var", "stem/bn/variance", asIs},
		{"layer1.0.conv3.weight", "layer1/block_0/conv3/kernel", oihwToHWIO},
		{"layer2.1.bn2.bias", "layer2/block_1/bn2/offset", asIs},
		{"layer3.0.downsample.0.weight", "layer3/block_0/downsample/conv/kernel", oihwToHWIO},
		{"layer3.0.downsample.1.weight", "layer3/block_0/downsample/bn/scale", asIs},
		{"module.fc.weight", "fc/weights", transpose2},
		{"fc.bias", "fc/biases", asIs},
		{"resnet.embedder.embedder.convolution.weight", "stem/conv/kernel", oihwToHWIO},
		{"resnet.encoder.stages.1.layers.0.shortcut.normalization.running_mean", "layer2/block_0/downsample/bn/mean", asIs},
		{"resnet.encoder.stages.3.layers.2.layer.2.convolution.weight", "layer4/block_2/conv3/kernel", oihwToHWIO},
		{"classifier.1.weight", "fc/weights", transpose2},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, tr, skip, ok := torchName(tc.in)
			require.True(t, ok)
			require.False(t, skip)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.tr, tr)
		})
	}
	_, _, skip, ok := torchName("layer1.0.bn1.num_batches_tracked")
	require.True(t, skip && ok)
	for _, bad := range []string{"layer1.0.conv1.bias", "layer5.0.conv1.weight", "head.weight", "layer1.0.downsample.2.weight"} {
		_, _, _, ok := torchName(bad)
		require.False(t, ok, bad)
	}
}

// transformSlow is the obviously correct index-by-index definition.
func TestTransform(t *testing.T) {
	k := safetensors.Tensor{Shape: []int{4, 3, 2, 5}, Data: make([]float32, 120)}
	for i := range k.Data {
		k.Data[i] = float32(i)
	}
	got, err := transform(k, oihwToHWIO)
	require.NoError(t, err)
	require.Equal(t, []int{2, 5, 3, 4}, got.Shape)
	for o := range 4 {
		for i := range 3 {
			for y := range 2 {
				for x := range 5 {
					require.Equal(t, k.Data[o*30+i*10+y*5+x], got.Data[y*60+x*12+i*4+o])
				}
			}
		}
	}
	d := safetensors.Tensor{Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}
	got, err = transform(d, transpose2)
	require.NoError(t, err)
	require.Equal(t, safetensors.Tensor{Shape: []int{3, 2}, Data: []float32{1, 4, 2, 5, 3, 6}}, got)
	_, err = transform(d, oihwToHWIO)
	require.ErrorContains(t, err, "rank 4")
	_, err = transform(k, transpose2)
	require.ErrorContains(t, err, "rank 2")
}

func TestReadPthTiny(t *testing.T) {
	ts, err := ReadPth("testdata/tiny.pth")
	require.NoError(t, err)
	want := map[string]safetensors.Tensor{
		"conv1.weight":                     {Shape: []int{2, 3, 1, 1}, Data: []float32{0, 1, 2, 3, 4, 5}},
		"layer1.0.bn1.running_var":         {Shape: []int{2}, Data: []float32{0.5, 2}},
		"layer1.0.bn1.num_batches_tracked": {Shape: []int{}, Data: []float32{7}},
		"fc.weight":                        {Shape: []int{2, 3}, Data: []float32{0, 2, 4, 1, 3, 5}}, // strided view
		"head.weight":                      {Shape: []int{2}, Data: []float32{1.5, -2}},             // float16
		"layer1.0.conv1.bias":              {Shape: []int{2}, Data: []float32{0, 0}},
	}
	require.Equal(t, want, ts)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	tests := []struct {
		name string
		spec string
		want []string
	}{
		{"pth unknown names", "testdata/tiny.pth", []string{"weights: testdata/tiny.pth", `unknown tensor "head.weight"`, `unknown tensor "layer1.0.conv1.bias"`, "2 problems"}},
		{"safetensors unknown names", "testdata/tiny.safetensors", []string{"weights: testdata/tiny.safetensors", `unknown tensor "head.weight"`, `"layer1.0.conv1.bias"`}},
		{"missing file", filepath.Join(dir, "none.pth"), []string{"weights:", "none.pth"}},
		{"unknown extension", write("w.onnx", "x"), []string{"weights:", "w.onnx", "unknown weights format"}},
		{"not a pth", write("bad.pth", "hello"), []string{"weights:", "bad.pth"}},
		{"bad safetensors", write("bad.safetensors", "\x01\x00\x00\x00\x00\x00\x00\x00{"), []string{"safetensors:", "bad.safetensors"}},
		{"bad model.json", write("model.json", `{"weightsManifest": 3}`), []string{"weights:", "model.json", "bad model.json"}},
		{"empty spec", "", []string{"weights: empty weights spec"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.spec, dir)
			require.Error(t, err)
			require.Nil(t, s)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

// kerasV1Names inverts kerasName for a tree of ours (v1 naming, blocks a..z).
func kerasV1Names(ours string) string {
	switch ours {
	case "fc/weights":
		return "fc1000/kernel"
	case "fc/biases":
		return "fc1000/bias"
	}
	param := map[string]string{"kernel": "kernel", "bias": "bias", "scale": "gamma", "offset": "beta", "mean": "moving_mean", "variance": "moving_variance"}
	parts := strings.Split(ours, "/")
	p := param[parts[len(parts)-1]]
	if parts[0] == "stem" {
		if parts[1] == "conv" {
			return "conv1/" + p
		}
		return "bn_conv1/" + p
	}
	var stage, block int
	fmt.Sscanf(parts[0]+"/"+parts[1], "layer%d/block_%d", &stage, &block)
	branch := map[string]string{"conv1": "2a", "conv2": "2b", "conv3": "2c", "bn1": "2a", "bn2": "2b", "bn3": "2c"}
	kind, prefix, br := parts[2], "res", ""
	if kind == "downsample" {
		br = "1"
		kind = parts[3]
	} else {
		br = branch[kind]
	}
	if strings.HasPrefix(kind, "bn") {
		prefix = "bn"
	}
	return fmt.Sprintf("%s%d%c_branch%s/%s", prefix, stage+1, 'a'+block, br, p)
}

// shapesOnly returns tensors of the tree of arch/layout without data: enough for the checks of
// names and shapes.
func shapesOnly(t *testing.T, arch string, layout resnet.Layout, classes int) map[string]safetensors.Tensor {
	t.Helper()
	out := map[string]safetensors.Tensor{}
	for name, dims := range mustShapes(t, arch, layout, classes) {
		out[name] = safetensors.Tensor{Shape: dims}
	}
	return out
}

// syntheticSet returns deterministic tensors for the tree of arch/layout.
func syntheticSet(t *testing.T, arch string, layout resnet.Layout, classes int) map[string]safetensors.Tensor {
	t.Helper()
	want := mustShapes(t, arch, layout, classes)
	out := map[string]safetensors.Tensor{}
	seed := uint32(1)
	for _, name := range sortedKeys(want) {
		n := 1
		for _, d := range want[name] {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			seed = seed*1664525 + 1013904223
			data[i] = float32(seed>>8)/float32(1<<24)*0.2 - 0.1
			if strings.HasSuffix(name, "/variance") || strings.HasSuffix(name, "/scale") {
				data[i] += 1
			}
		}
		out[name] = safetensors.Tensor{Shape: want[name], Data: data}
	}
	return out
}

// writeTFJS writes tensors (Keras names) as a TF.js layers model whose one
// group is split into shards of shardBytes.
func writeTFJS(t testing.TB, dir string, ts map[string]safetensors.Tensor, shardBytes int) {
	t.Helper()
	type w struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
		DType string `json:"dtype"`
	}
	var list []w
	var buf []byte
	for _, n := range sortedKeys(ts) {
		list = append(list, w{n, ts[n].Shape, "float32"})
		for _, v := range ts[n].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	var paths []string
	for i := 0; i*shardBytes < len(buf) || i == 0; i++ {
		name := fmt.Sprintf("group1-shard%d.bin", i+1)
		paths = append(paths, name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), buf[i*shardBytes:min(len(buf), (i+1)*shardBytes)], 0o644))
	}
	m := map[string]any{"format": "layers-model", "weightsManifest": []any{map[string]any{"paths": paths, "weights": list}}}
	data, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.json"), data, 0o644))
}

func TestTFJSRoundTrip(t *testing.T) {
	ours := syntheticSet(t, "resnet18", resnet.LayoutKeras, 6)
	keras := map[string]safetensors.Tensor{}
	for n, v := range ours {
		keras[kerasV1Names(n)] = v
	}
	require.Len(t, keras, len(ours))
	dir := t.TempDir()
	writeTFJS(t, dir, keras, 1<<20)
	labels := `{"0":"a","1":"b","2":"c","3":"d","4":"e","5":"f"}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "labels.json"), []byte(labels), 0o644))
	for _, spec := range []string{dir, filepath.Join(dir, "model.json")} {
		s, err := Open(spec, "")
		require.NoError(t, err)
		require.Equal(t, "resnet18", s.Arch)
		require.Equal(t, resnet.LayoutKeras, s.Layout)
		require.Equal(t, 6, s.NumClasses)
		require.Equal(t, preprocess.KerasCaffeImageNet, s.Preprocessing)
		require.Equal(t, []string{"a", "b", "c", "d", "e", "f"}, s.Labels)
		require.Equal(t, ours, s.Tensors)
	}

	// Unknown and missing tensors are listed together.
	keras["extra/kernel"] = safetensors.Tensor{Shape: []int{1}, Data: []float32{1}}
	delete(keras, "res2a_branch2a/kernel")
	dir2 := t.TempDir()
	writeTFJS(t, dir2, keras, 1<<20)
	_, err := Open(dir2, "")
	require.ErrorContains(t, err, `unknown tensor "extra/kernel"`)
	delete(keras, "extra/kernel")
	k := keras["fc1000/bias"]
	k.Shape, k.Data = []int{5}, k.Data[:5]
	keras["fc1000/bias"] = k
	writeTFJS(t, dir2, keras, 1<<20)
	_, err = Open(dir2, "")
	require.ErrorContains(t, err, "missing tensor layer1/block_0/conv1/kernel [3 3 64 64]")
	require.ErrorContains(t, err, "tensor fc/weights has shape [512 6], want [512 5]")
}

func TestParseTFJSErrors(t *testing.T) {
	shard := make([]byte, 16)
	read := func(string) ([]byte, error) { return shard, nil }
	tests := []struct{ name, json, want string }{
		{"no manifest", `{}`, "no weightsManifest"},
		{"dtype", `{"weightsManifest":[{"paths":["a"],"weights":[{"name":"x","shape":[4],"dtype":"string"}]}]}`, "unsupported dtype"},
		{"quantized", `{"weightsManifest":[{"paths":["a"],"weights":[{"name":"x","shape":[4],"dtype":"float32","quantization":{"dtype":"uint8"}}]}]}`, "quantized"},
		{"size", `{"weightsManifest":[{"paths":["a"],"weights":[{"name":"x","shape":[5],"dtype":"float32"}]}]}`, "shards hold 16 bytes, manifest needs 20"},
		{"negative", `{"weightsManifest":[{"paths":["a"],"weights":[{"name":"x","shape":[-4],"dtype":"float32"}]}]}`, "bad shape"},
		{"huge", `{"weightsManifest":[{"paths":["a"],"weights":[{"name":"x","shape":[65536,65536,65536],"dtype":"float32"}]}]}`, "bad shape"},
		{"duplicate", `{"weightsManifest":[{"paths":["a"],"weights":[{"name":"x","shape":[2],"dtype":"float32"},{"name":"x","shape":[2],"dtype":"float32"}]}]}`, "listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTFJS([]byte(tc.json), read)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := ReadTFJS(writeModelJSON(t, `{"weightsManifest":[{"paths":["../../etc/passwd"],"weights":[]}]}`))
	require.ErrorContains(t, err, "leaves the model directory")
}

func writeModelJSON(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "model.json")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestParseLabels(t *testing.T) {
	l, err := parseLabels([]byte(`["x","y"]`))
	require.NoError(t, err)
	require.Equal(t, []string{"x", "y"}, l)
	l, err = parseLabels([]byte(`{"1":"y","0":"x"}`))
	require.NoError(t, err)
	require.Equal(t, []string{"x", "y"}, l)
	_, err = parseLabels([]byte(`{"0":"x","2":"z"}`))
	require.ErrorContains(t, err, "index 1 missing")
	_, err = parseLabels([]byte(`3`))
	require.ErrorContains(t, err, "labels")
}

func TestSafetensorsOurNames(t *testing.T) {
	ours := syntheticSet(t, "resnet18", resnet.LayoutTorchvision, 4)
	p := filepath.Join(t.TempDir(), "ours.safetensors")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, safetensors.Write(f, ours, nil))
	require.NoError(t, f.Close())
	s, err := Open(p, "")
	require.NoError(t, err)
	require.Equal(t, "resnet18", s.Arch)
	require.Equal(t, resnet.LayoutTorchvision, s.Layout)
	require.Equal(t, preprocess.TorchvisionImageNet, s.Preprocessing)
	require.Equal(t, ours, s.Tensors)
}

func TestAssign(t *testing.T) {
	ours := syntheticSet(t, "resnet18", resnet.LayoutKeras, 5)
	s := &Set{Arch: "resnet18", Layout: resnet.LayoutKeras, NumClasses: 5, Tensors: ours, Source: "synthetic"}

	t.Run("empty store, then the model runs on the assigned values", func(t *testing.T) {
		// Two stores with different initializer seeds: every variable is assigned, so the logits of
		// the same images must be identical, and the pretrained values must survive the first run.
		var logits [][]float32
		for _, seed := range []int64{1, 2} {
			store := model.NewStore()
			require.NoError(t, store.SetRNGStateFromSeed(seed))
			require.NoError(t, s.Assign(store.RootScope().In("model"), false))
			v := store.GetVariable("/model/layer2/block_0/downsample/conv/bias")
			require.NotNil(t, v)
			require.Equal(t, ours["layer2/block_0/downsample/conv/bias"].Data, tensors.MustCopyFlatData[float32](v.MustValue()))
			require.False(t, store.GetVariable("/model/stem/bn/mean").Trainable)
			require.True(t, store.GetVariable("/model/stem/bn/scale").Trainable)

			m, err := resnet.New("resnet18", 5, resnet.LayoutKeras)
			require.NoError(t, err)
			exec, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, images *graph.Node) *graph.Node {
				return m.Logits(scope.In("model"), images)
			})
			require.NoError(t, err)
			images := make([]float32, 2*32*32*3)
			for i := range images {
				images[i] = float32(math.Sin(float64(i) * 0.1))
			}
			out, err := exec.Call1(tensors.FromFlatDataAndDimensions(images, 2, 32, 32, 3))
			require.NoError(t, err)
			require.Equal(t, []int{2, 5}, out.Shape().Dimensions)
			// Initializers must not have overwritten the pretrained values.
			for _, name := range []string{"stem/conv/kernel", "fc/weights", "layer4/block_1/bn2/variance"} {
				got := tensors.MustCopyFlatData[float32](store.GetVariable("/model/" + name).MustValue())
				require.Equal(t, ours[name].Data, got, name)
			}
			logits = append(logits, tensors.MustCopyFlatData[float32](out))
		}
		require.Equal(t, logits[0], logits[1], "the logits depend on the initializer seed")
	})

	t.Run("existing model with a new head", func(t *testing.T) {
		store := model.NewStore()
		scope := store.RootScope().In("model")
		for name, shape := range mustShapes(t, "resnet18", resnet.LayoutKeras, 12) {
			_, err := store.CreateVariable("/model/"+name, tensors.FromShape(shapes.Make(dtypes.Float32, shape...)))
			require.NoError(t, err)
		}
		err := s.Assign(scope, false)
		require.ErrorContains(t, err, "variable /model/fc/weights has shape [512 12], tensor [512 5]")
		require.ErrorContains(t, err, "variable /model/fc/biases has shape [12], tensor [5]")
		// Nothing was assigned.
		require.Equal(t, float32(0), tensors.MustCopyFlatData[float32](store.GetVariable("/model/stem/conv/kernel").MustValue())[0])

		require.NoError(t, s.Assign(scope, true))
		require.Equal(t, ours["stem/conv/kernel"].Data, tensors.MustCopyFlatData[float32](store.GetVariable("/model/stem/conv/kernel").MustValue()))
		require.Equal(t, []int{12}, store.GetVariable("/model/fc/biases").Shape().Dimensions)
	})

	t.Run("layout mismatch lists variables", func(t *testing.T) {
		store := model.NewStore()
		for name, shape := range mustShapes(t, "resnet18", resnet.LayoutTorchvision, 5) {
			_, err := store.CreateVariable("/model/"+name, tensors.FromShape(shapes.Make(dtypes.Float32, shape...)))
			require.NoError(t, err)
		}
		err := s.Assign(store.RootScope().In("model"), false)
		require.ErrorContains(t, err, "tensor stem/conv/bias has no variable under /model")
		require.NotContains(t, err.Error(), "\n")
	})

	t.Run("incomplete set", func(t *testing.T) {
		partial := &Set{Arch: "resnet18", Layout: resnet.LayoutKeras, NumClasses: 5, Tensors: map[string]safetensors.Tensor{}, Source: "partial"}
		for k, v := range ours {
			if !strings.HasPrefix(k, "layer3/") {
				partial.Tensors[k] = v
			}
		}
		err := partial.Assign(model.NewStore().RootScope().In("model"), false)
		require.ErrorContains(t, err, "weights: partial:")
		require.ErrorContains(t, err, "missing tensor layer3/block_0/conv1/kernel")
	})
}

// mustShapes returns the variable shapes of the model, by path relative to its scope.
func mustShapes(t *testing.T, arch string, layout resnet.Layout, classes int) map[string][]int {
	t.Helper()
	m, err := resnet.New(arch, classes, layout)
	require.NoError(t, err)
	dims := map[string][]int{}
	for _, v := range m.Variables() {
		dims[v.Path] = v.Dims
	}
	return dims
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("GOCLS_CACHE", "/x/c")
	require.Equal(t, "/x/c", DefaultCacheDir())
	t.Setenv("GOCLS_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/x/xdg")
	require.Equal(t, "/x/xdg/gocls", DefaultCacheDir())
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/x/home")
	require.Equal(t, "/x/home/.cache/gocls", DefaultCacheDir())
}

func TestListError(t *testing.T) {
	var many []string
	for i := range 25 {
		many = append(many, fmt.Sprint("p", i))
	}
	err := listError(many)
	require.ErrorContains(t, err, "25 problems: p0; p1")
	require.ErrorContains(t, err, "... and 5 more")
	require.False(t, slices.Contains(strings.Split(err.Error(), "; "), "p20"))
}

func TestCheckPickle(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"ok", "\x80\x02}q\x00(X\x01\x00\x00\x00aK\x01u.", ""},
		{"huge bytes8", "\x80\x04\x8e\xff\xff\xff\xff\xff\x00\x00\x00.", "needs"},
		{"huge frame", "\x80\x04\x95\x00\x00\x00\x00\x01\x00\x00\x00.", "needs"},
		{"short unicode", "X\x05\x00\x00\x00ab.", "needs 5 bytes"},
		{"no stop", "}", "no STOP"},
		{"unterminated global", "ctorch\nFloat", "unterminated"},
		{"bad opcode", "\xff", "unknown opcode 0xff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPickle([]byte(tc.data))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}
