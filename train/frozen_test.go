package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/models/resnet"
)

// isTrainedState reports whether a checkpoint variable is, in a step that
// trains the last trainable backbone layers (0: the classifier only), a
// trained parameter, a running statistic of a trained layer's batch norm or
// the optimizer state of either (momentum, moments, accumulation buffers,
// AdamW step count of the group).
func isTrainedState(name string, trainable int) bool {
	if name == optimizerScope+"/adam_steps/backbone" {
		return trainable > 0
	}
	// Optimizer state is named after its parameter's path, with "~" for "/".
	return resnet.IsTrained(strings.ReplaceAll(name, "~", "/"), trainable)
}

// requireFrozenBetween checks two checkpoints' variables around epochs that
// train the last trainable backbone layers (0: frozen epochs): every weight,
// BN running statistic and optimizer state of the frozen layers is
// bit-identical, while those of the classifier and the trained layers
// changed (the accumulation buffers, empty at both ends, aside). The weight
// average is left out: it moves towards the unchanged frozen layers.
// minFrozen and minTrained are lower bounds on the variables of each kind.
func requireFrozenBetween(t *testing.T, before, after map[string][]float32, trainable, minFrozen, minTrained int) {
	t.Helper()
	require.Len(t, after, len(before), "same variables")
	frozen, trained := 0, 0
	for name, b := range before {
		switch {
		case strings.HasPrefix(name, emaScope+"/"), strings.HasPrefix(name, optimizerScope+"/accum/"):
		case isTrainedState(name, trainable):
			require.NotEqual(t, b, after[name], "%s did not train", name)
			trained++
		default:
			require.Equal(t, b, after[name], "%s changed in a frozen layer", name)
			frozen++
		}
	}
	require.GreaterOrEqual(t, frozen, minFrozen, "frozen variables")
	require.GreaterOrEqual(t, trained, minTrained, "trained variables")
}

// allStepOptions names the stepOptions entry with most options at once.
const allStepOptions = "adamw mixup smoothing clip ema"

// stepOptions are the options that act on a training step, each with
// momentum or moments (so every trained parameter has optimizer state).
var stepOptions = []struct {
	name string
	edit func(*Config)
}{
	{"sgd nesterov", func(c *Config) { c.Optim.Nesterov = true }},
	{"adamw", func(c *Config) { c.Optim.Name, c.Optim.LR = "adamw", 1e-3 }},
	{allStepOptions, func(c *Config) {
		c.Optim.Name, c.Optim.LR = "adamw", 1e-3
		c.Optim.LabelSmoothing, c.Optim.ClipGradNorm = 0.1, 0.5
		c.Optim.EMADecay, c.Optim.EMAWarmup = 0.9, true
		c.Mixup.MixupAlpha, c.Mixup.CutmixAlpha = 0.8, 1
	}},
	{"sgd accumulation", func(c *Config) { c.Optim.AccumSteps = 2 }},
	{"sgd bfloat16", func(c *Config) { c.Run.Precision = "bfloat16" }},
}

// TestFrozenEpochKeepsBackbone trains one epoch in full, then resumes with
// model.freeze_backbone_epochs covering the second: between the two
// checkpoints on disk the backbone, its BN statistics and its optimizer
// state are bit-identical while the head trains, with every option that
// acts on a step and with bfloat16 activations.
func TestFrozenEpochKeepsBackbone(t *testing.T) {
	for _, tc := range stepOptions {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			tc.edit(&cfg)
			cfg.Run.Epochs = 1
			mustRun(t, cfg, hooks{})
			cfg.Run.Epochs, cfg.Model.FreezeBackboneEpochs = 2, 2
			res := mustRun(t, cfg, hooks{})
			require.Equal(t, 2, res.Epochs)
			// ResNet18: 100 backbone variables, 60 of them with optimizer
			// state; the head's weights and biases and their state.
			requireFrozenBetween(t, loadVars(t, filepath.Join(res.RunDir, checkpoint.Name(1))),
				loadVars(t, filepath.Join(res.RunDir, checkpoint.Name(2))), 0, 100+60, 4)
		})
	}
}

// TestFrozenStepIsLinearProbe: a frozen-backbone SGD step moves the head
// exactly as gradient descent on a logistic regression (softmax
// cross-entropy, with label smoothing) over the features the inference
// forward gives, computed in float64; every other variable, BN running
// statistics included, keeps its value bit for bit.
func TestFrozenStepIsLinearProbe(t *testing.T) {
	const batch, size, classes, lr = 4, 16, 3, 0.5
	for _, smoothing := range []float64{0, 0.1} {
		t.Run(fmt.Sprintf("smoothing %g", smoothing), func(t *testing.T) {
			s, net := sgdSteps(t, classes, resnet.BackboneLayers, smoothing)
			store := s.store
			rng := rand.New(rand.NewPCG(3, 4))
			// A full step first, so that the BN statistics are not their initial values.
			images, labels := randomBatch(rng, batch, size, classes)
			_, _, err := s.train(images, labels, stepInputs{LR: 0.1, BackboneLR: 0.1, Examples: batch})
			require.NoError(t, err)

			images, labels = randomBatch(rng, batch, size, classes)
			features := inferenceFeatures(t, s, net, images)
			before := storeValues(store)
			_, _, err = s.train(images, labels, stepInputs{LR: lr, Examples: batch, Frozen: true})
			require.NoError(t, err)
			after := storeValues(store)

			wantW, wantB := linearProbeStep(features, tensors.MustCopyFlatData[int32](labels), before["/model/fc/weights"],
				before["/model/fc/biases"], classes, lr, smoothing)
			requireUpdate(t, before["/model/fc/weights"], wantW, after["/model/fc/weights"])
			requireUpdate(t, before["/model/fc/biases"], wantB, after["/model/fc/biases"])
			for name, v := range before {
				if !resnet.IsHead(name) {
					require.Equal(t, v, after[name], "%s changed in a frozen step", name)
				}
			}
		})
	}
}

// requireUpdate checks that a variable moved from before to (about) want:
// the update got-before equals want-before to 1e-5 of the largest update
// (the features of a random network are large), and is not zero.
func requireUpdate(t *testing.T, before []float32, want []float64, got []float32) {
	t.Helper()
	wantUp, gotUp := make([]float64, len(want)), make([]float64, len(want))
	largest := 0.0
	for i := range want {
		wantUp[i], gotUp[i] = want[i]-float64(before[i]), float64(got[i])-float64(before[i])
		largest = max(largest, math.Abs(wantUp[i]))
	}
	require.Greater(t, largest, 0.0)
	require.InDeltaSlice(t, wantUp, gotUp, 1e-5*largest)
}

// inferenceFeatures runs the backbone of s's variables in inference mode:
// the pooled features [batch][width].
func inferenceFeatures(t *testing.T, s *steps, net *resnet.Model, images *tensors.Tensor) [][]float64 {
	t.Helper()
	exec := model.MustNewExec(s.be, s.store, func(_ *model.Scope, images *Node) *Node {
		s.store.SetTraining(images.Graph(), false)
		return net.Features(s.store.Scope(resnet.RootScope), images)
	})
	out, err := exec.Call(images)
	require.NoError(t, err)
	flat := tensors.MustCopyFlatData[float32](out[0])
	n := images.Shape().Dimensions[0]
	features := make([][]float64, n)
	for i := range features {
		features[i] = toF64(flat[i*len(flat)/n : (i+1)*len(flat)/n])
	}
	return features
}

// linearProbeStep is one gradient-descent step, in float64, on the mean
// softmax cross-entropy of logits = features·w + b against the labels
// smoothed by e: w [width, classes] and b [classes] move by -lr times
// features^T (p - q) / n and sum(p - q) / n.
func linearProbeStep(features [][]float64, labels []int32, w, b []float32, classes int, lr, e float64) (newW, newB []float64) {
	newW, newB = toF64(w), toF64(b)
	n := float64(len(features))
	for i, f := range features {
		logits := make([]float64, classes)
		for k := range logits {
			logits[k] = float64(b[k])
			for j, x := range f {
				logits[k] += x * float64(w[j*classes+k])
			}
		}
		p := softmax64(logits)
		for k := range p {
			q := e / float64(classes)
			if k == int(labels[i]) {
				q += 1 - e
			}
			d := (p[k] - q) / n
			newB[k] -= lr * d
			for j, x := range f {
				newW[j*classes+k] -= lr * x * d
			}
		}
	}
	return newW, newB
}

func softmax64(z []float64) []float64 {
	top := slices.Max(z)
	out := make([]float64, len(z))
	sum := 0.0
	for k, v := range z {
		out[k] = math.Exp(v - top)
		sum += out[k]
	}
	for k := range out {
		out[k] /= sum
	}
	return out
}

// TestResumeInFrozenEpochs: with the first 2 of 3 epochs frozen, or the
// first frozen and the others training 2 layers (model.trainable_layers), a
// run cancelled in the middle of an accumulation group of epoch 2 and
// resumed ends with the same metrics and bit-identical weights as a
// straight run (resumeConfig: momentum, accumulation, schedule, smoothing,
// EMA, clipping).
func TestResumeInFrozenEpochs(t *testing.T) {
	for _, tc := range []struct {
		name              string
		frozen, trainable int
	}{{"frozen", 2, resnet.BackboneLayers}, {"partial", 1, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			config := func() Config {
				cfg := resumeConfig(t)
				cfg.Model.FreezeBackboneEpochs, cfg.Model.TrainableLayers = tc.frozen, tc.trainable
				return cfg
			}
			straight := mustRun(t, config(), hooks{})
			require.Equal(t, 3, straight.Epochs)
			cfg := config()
			runDir := cancelAtMicroStep(t, cfg, 4) // epoch 2, first micro-batch of a group of two
			resumed := mustRun(t, cfg, hooks{})
			requireSameHistory(t, straight.History, resumed.History)
			for _, epoch := range []int{2, 3} {
				require.Equal(t, loadVars(t, filepath.Join(straight.RunDir, checkpoint.Name(epoch))),
					loadVars(t, filepath.Join(runDir, checkpoint.Name(epoch))), "epoch %d", epoch)
			}
		})
	}
}

// cancelAtMicroStep runs cfg until its micro-th micro-batch has trained,
// then cancels it, and returns the run directory, which holds the
// interrupted checkpoint.
func cancelAtMicroStep(t *testing.T, cfg Config, micro int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := 0
	_, err := run(ctx, cfg, io.Discard, hooks{afterStep: func(int) {
		if done++; done == micro {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	runDir := filepath.Join(cfg.Run.Dir, cfg.Run.Name)
	require.DirExists(t, filepath.Join(runDir, interruptedDir))
	return runDir
}

// TestFrozenThenFull: after the frozen epoch the full step (or a partial
// one, model.trainable_layers) trains the backbone, and the head's
// optimizer state carries on from the frozen steps: the AdamW step count of
// the head counts every step, the backbone's only those after the frozen
// epoch. A partial step leaves the frozen layers as they were.
func TestFrozenThenFull(t *testing.T) {
	trains := []string{"/model/layer4/block_1/bn2/scale", "/model/layer4/block_0/bn1/mean", "/model/fc/weights"}
	for _, tc := range []struct {
		name           string
		trainable      int
		trained, fixed []string
	}{
		{"full", resnet.BackboneLayers, append(trains, "/model/stem/conv/kernel", "/model/stem/bn/mean"), nil},
		{"partial", 1, trains, []string{"/model/layer3/block_1/conv2/kernel", "/model/stem/bn/mean"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t) // 3 steps per epoch
			cfg.Optim.Name, cfg.Optim.LR = "adamw", 1e-3
			cfg.Model.FreezeBackboneEpochs, cfg.Model.TrainableLayers = 1, tc.trainable
			res := mustRun(t, cfg, hooks{})
			frozen := loadVars(t, filepath.Join(res.RunDir, checkpoint.Name(1)))
			full := loadVars(t, filepath.Join(res.RunDir, checkpoint.Name(2)))

			steps := optimizerScope + "/adam_steps/"
			require.Equal(t, []float32{3}, frozen[steps+"head"])
			require.NotContains(t, frozen, steps+"backbone", "no backbone optimizer state while frozen")
			require.Equal(t, []float32{6}, full[steps+"head"])
			require.Equal(t, []float32{3}, full[steps+"backbone"])
			for _, name := range tc.trained {
				require.NotEqual(t, frozen[name], full[name], "%s did not train after the frozen epoch", name)
			}
			for _, name := range tc.fixed {
				require.Equal(t, frozen[name], full[name], "%s trained in a frozen layer", name)
			}
		})
	}
}
