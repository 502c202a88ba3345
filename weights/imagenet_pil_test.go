package weights_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/dataset"
)

// TestImageNetFromPILPixels checks our evaluation preprocessing end to end
// on PIL's decoded pixels (testdata/torch_reference.py writes them): the
// photos through dataset.EvalTransform must give exactly PyTorch's inputs
// (PIL, torchvision Resize(256) + CenterCrop(224), the weights' caffe
// normalisation), and our ResNet50 on our inputs PyTorch's probabilities
// within 1e-3 on every class. The JPEG decoder is left out: its own tests
// compare it with libjpeg-turbo. $GOCLS_REF_IMAGES sets the number of images
// (default 8, at most 64).
func TestImageNetFromPILPixels(t *testing.T) {
	r := newImageNetRef(t)
	decoded := filepath.Join(r.cache, "imagenet_reference_decoded")
	inputsPath := filepath.Join(r.cache, "imagenet_reference_inputs.f32")
	if fileSize(inputsPath) != int64(len(r.ref.Images)*imageSize*4) || fileSize(filepath.Join(decoded, "000.png")) < 0 {
		t.Skipf("PyTorch's inputs or PIL's decoded photos not in %s (run testdata/torch_reference.py)", r.cache)
	}
	p := r.set.Preprocessing
	tr := dataset.EvalTransform(p.Resize, p.Crop, dataset.Normalize{Mean: p.Mean, Std: p.Std, Scale: p.Scale, BGR: p.BGR})
	ours := make([]float32, r.n*imageSize)
	for i := range r.n {
		tr.Apply(ours[i*imageSize:(i+1)*imageSize], decodeImage(t, filepath.Join(decoded, fmt.Sprintf("%03d.png", i))), nil)
	}
	want := readF32At(t, inputsPath, 0, r.n*imageSize)
	differ, maxDiff := 0, 0.0
	for i := range want {
		if ours[i] != want[i] {
			differ++
			maxDiff = max(maxDiff, math.Abs(float64(ours[i]-want[i])))
		}
	}
	t.Logf("%d images: %d of %d input values differ from PyTorch's (max |Δ| %.3g)", r.n, differ, len(want), maxDiff)
	require.Zero(t, differ, "preprocessing must equal PIL + torchvision")

	probs := r.predict(t, ours)
	d := r.maxDiffAllClasses(t, probs)
	if math.IsNaN(d) {
		t.Skipf("PyTorch's probabilities not in %s (run testdata/torch_reference.py)", r.cache)
	}
	t.Logf("%d images, PIL pixels + our preprocessing + our model vs PIL + torchvision + PyTorch: max |Δprob| over all 1000 classes %.2e", r.n, d)
	require.LessOrEqual(t, d, 1e-3)
}
