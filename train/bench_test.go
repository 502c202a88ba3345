package train

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/internal/devdata"
	"github.com/gocls/gocls/models/resnet"
)

// benchSteps makes the training graphs (the step training the last
// trainable backbone layers, and the frozen-backbone step) of arch at size x
// size and returns them with a random batch.
func benchSteps(b *testing.B, arch string, batch, size, trainable int) (*steps, *tensors.Tensor, *tensors.Tensor) {
	be, err := backend.New(os.Getenv("GOCLS_BACKEND"))
	require.NoError(b, err)
	net, err := resnet.New(arch, 12, resnet.LayoutTorchvision)
	require.NoError(b, err)
	store := model.NewStore()
	require.NoError(b, store.SetRNGStateFromSeed(1))
	s := newSteps(be, store, stepConfig{forward: net.Logits, partial: partialLogits(net),
		trainable: trainable, opt: newOptimizer(DefaultConfig().Optim)})
	images, labels := randomBatch(rand.New(rand.NewPCG(1, 2)), batch, size, 12)
	return s, images, labels
}

// randomBatch is batch normal random images [batch, size, size, 3] and
// uniform labels [batch] below classes.
func randomBatch(rng *rand.Rand, batch, size, classes int) (images, labels *tensors.Tensor) {
	img := make([]float32, batch*size*size*3)
	for i := range img {
		img[i] = float32(rng.NormFloat64())
	}
	lab := make([]int32, batch)
	for i := range lab {
		lab[i] = int32(rng.IntN(classes))
	}
	return tensors.FromFlatDataAndDimensions(img, batch, size, size, 3), tensors.FromFlatDataAndDimensions(lab, batch)
}

// BenchmarkTrainStep is one SGD step (forward, backward, update) of a
// ResNet18 on a batch of 16 images of 32x32 on the backend named by
// $GOCLS_BACKEND (default go); bytes are the input images.
func BenchmarkTrainStep(b *testing.B) {
	for _, tc := range []struct {
		arch        string
		batch, size int
	}{{"resnet18", 16, 32}, {"resnet50", 8, 64}} {
		b.Run(tc.arch, func(b *testing.B) {
			s, images, labels := benchSteps(b, tc.arch, tc.batch, tc.size, resnet.BackboneLayers)
			in := stepInputs{LR: 0.01, BackboneLR: 0.01, Examples: tc.batch}
			_, _, err := s.train(images, labels, in) // compile
			require.NoError(b, err)
			b.ReportAllocs()
			b.SetBytes(int64(tc.batch * tc.size * tc.size * 3 * 4))
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := s.train(images, labels, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*tc.batch)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// BenchmarkFrozenStep compares, back to back, a full training step, steps
// training only the last 2 or 1 backbone layers (model.trainable_layers), a
// frozen-backbone step and an inference forward of a ResNet50 on 8 images of
// 224x224: the frozen step should cost about the inference forward, a
// partial step that forward plus the backward of its trained layers. Run
// with -benchtime=5x: a full step takes seconds on 2 cores.
func BenchmarkFrozenStep(b *testing.B) {
	const batch, size = 8, 224
	for _, tc := range []struct {
		name      string
		trainable int  // model.trainable_layers of the training step
		frozen    bool // run the frozen-backbone step instead
		inference bool // run an inference forward instead
	}{
		{"full", resnet.BackboneLayers, false, false},
		{"layers=2", 2, false, false},
		{"layers=1", 1, false, false},
		{"frozen", resnet.BackboneLayers, true, false},
		{"inference", resnet.BackboneLayers, false, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, images, labels := benchSteps(b, "resnet50", batch, size, tc.trainable)
			in := stepInputs{LR: 0.01, BackboneLR: 0.01, Examples: batch, Frozen: tc.frozen}
			run := func() error { _, _, err := s.train(images, labels, in); return err }
			if tc.inference {
				run = func() error { _, err := s.logits(images); return err }
			}
			require.NoError(b, run()) // compile
			b.ResetTimer()
			for b.Loop() {
				if err := run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// cat12Dir returns the cat12 development data, or skips.
func cat12Dir(t testing.TB) string { t.Helper(); return devdata.Cat12(t) }

// TestCat12Smoke trains 3 steps of a small ResNet18 on the real cat12 data
// (with its palette, RGBA, grayscale and mislabelled-format files) and
// evaluates the whole validation split.
func TestCat12Smoke(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the cat12 data")
	}
	cfg := tinyConfig(t)
	cfg.Data.Root = cat12Dir(t)
	cfg.Data.NumClasses = 12
	cfg.Data.ValRatio = 0.1
	cfg.Data.Eval.ResizeShorter, cfg.Data.Eval.Crop = 36, 32
	cfg.Run.BatchSize = 8
	cfg.Run.MaxSteps = 3
	res, err := run(context.Background(), cfg, io.Discard, hooks{})
	require.NoError(t, err)
	require.Equal(t, 3, res.Steps)
	require.InDelta(t, 198, res.Val.N, 12)
	require.FileExists(t, filepath.Join(res.RunDir, interruptedDir, "state.json"))
}
