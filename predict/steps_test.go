package predict

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/preprocess"
)

// A run whose model.json records steps is predicted with them: the
// log-probabilities equal those of decoding, stepping, transforming and
// running the network by hand, and differ from those without the steps.
func TestPredictAppliesRecordedSteps(t *testing.T) {
	fixtureDir, data := fixture(t)
	runDir := filepath.Join(t.TempDir(), "run")
	require.NoError(t, os.CopyFS(runDir, os.DirFS(fixtureDir)))
	info, err := checkpoint.ReadModelInfo(runDir)
	require.NoError(t, err)
	info.Preprocess, err = preprocess.ResolveSteps([]preprocess.StepConfig{{"op": "gaussian", "ksize": 5}, {"op": "cvtcolor", "code": "hsv"}})
	require.NoError(t, err)
	require.NoError(t, checkpoint.WriteModelInfo(runDir, info))

	samples, err := ReadInputs(filepath.Join(data, "cat_12_test"), "")
	require.NoError(t, err)
	c, err := LoadCheckpoint(runDir, -1)
	require.NoError(t, err)
	require.Len(t, c.Steps, 2)
	be, err := backend.New("go")
	require.NoError(t, err)
	defer be.Finalize()
	eng, err := NewEngine(be, c, len(samples), c.Preprocessing.Crop, false)
	require.NoError(t, err)
	preds, bad, _, err := classify(context.Background(), eng, samples, Options{Workers: 2, Warn: io.Discard}, io.Discard)
	require.NoError(t, err)
	require.Empty(t, bad)

	steps, err := preprocess.ParseSteps(info.Preprocess)
	require.NoError(t, err)
	chain := preprocess.Chain(steps)
	p := c.Preprocessing
	tr := dataset.EvalTransform(p.Resize, p.Crop, dataset.Normalize{Mean: p.Mean, Std: p.Std, Scale: p.Scale, BGR: p.BGR})
	images := make([]float32, len(samples)*tr.Len())
	for i, s := range samples {
		data, err := os.ReadFile(s.Path)
		require.NoError(t, err)
		img, _, err := dataset.DecodeBytes(data, dataset.DecodeOptions{})
		require.NoError(t, err)
		tr.Apply(images[i*tr.Len():], chain(img), nil)
	}
	want, err := eng.Run(images, len(samples))
	require.NoError(t, err)
	classes := eng.classes
	for i, pr := range preds {
		require.Equal(t, want[i*classes:(i+1)*classes], pr.LogProbs, "image %s", pr.Name)
	}

	plain, err := LoadCheckpoint(fixtureDir, -1)
	require.NoError(t, err)
	require.Empty(t, plain.Steps)
	plainEng, err := NewEngine(be, plain, len(samples), p.Crop, false)
	require.NoError(t, err)
	without, _, _, err := classify(context.Background(), plainEng, samples, Options{Workers: 2, Warn: io.Discard}, io.Discard)
	require.NoError(t, err)
	require.NotEqual(t, without[0].LogProbs, preds[0].LogProbs, "the steps must change the input")
}
