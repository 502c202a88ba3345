package train

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/models/resnet"
)

// TestPartialEpochKeepsFrozenLayers trains one epoch in full, then resumes
// with model.trainable_layers 1 (with every option that acts on a step and
// with bfloat16 activations) or 2 (with all the options at once) for the
// second: between the two checkpoints on disk the frozen layers' weights, BN
// statistics and optimizer state are bit-identical while the classifier and
// the last layers train (their BN statistics and optimizer state too).
func TestPartialEpochKeepsFrozenLayers(t *testing.T) {
	for _, trainable := range []int{1, 2} {
		minFrozen, minTrained := partialCounts(t, trainable)
		for _, tc := range stepOptions {
			if trainable == 2 && tc.name != allStepOptions {
				continue
			}
			t.Run(fmt.Sprintf("%d layers/%s", trainable, tc.name), func(t *testing.T) {
				cfg := tinyConfig(t)
				tc.edit(&cfg)
				cfg.Run.Epochs = 1
				mustRun(t, cfg, hooks{})
				cfg.Run.Epochs, cfg.Model.TrainableLayers = 2, trainable
				res := mustRun(t, cfg, hooks{})
				require.Equal(t, 2, res.Epochs)
				requireFrozenBetween(t, loadVars(t, filepath.Join(res.RunDir, checkpoint.Name(1))),
					loadVars(t, filepath.Join(res.RunDir, checkpoint.Name(2))), trainable, minFrozen, minTrained)
			})
		}
	}
}

// partialCounts counts the variables of tinyConfig's ResNet18 in its frozen
// and its trained part, each trainable parameter once more for its optimizer
// state.
func partialCounts(t *testing.T, trainable int) (frozen, trained int) {
	t.Helper()
	net, err := resnet.New("resnet18", 3, resnet.LayoutTorchvision)
	require.NoError(t, err)
	for _, v := range net.Variables() {
		n := 1
		if v.Trainable {
			n = 2
		}
		if resnet.IsTrained(v.Path, trainable) {
			trained += n
		} else {
			frozen += n
		}
	}
	return frozen, trained
}

// TestNoTrainableLayersIsFrozen: model.trainable_layers 0 is a linear probe
// in every epoch, the same run to the bit as model.freeze_backbone_epochs
// covering every epoch (resumeConfig: momentum, accumulation, schedule,
// smoothing, EMA, clipping).
func TestNoTrainableLayersIsFrozen(t *testing.T) {
	frozenCfg := resumeConfig(t)
	frozenCfg.Model.FreezeBackboneEpochs = frozenCfg.Run.Epochs
	frozen := mustRun(t, frozenCfg, hooks{})
	probeCfg := resumeConfig(t)
	probeCfg.Model.TrainableLayers = 0
	probe := mustRun(t, probeCfg, hooks{})
	requireSameHistory(t, frozen.History, probe.History)
	for _, epoch := range []int{2, 3} { // the checkpoints kept (run.keep_last 2)
		require.Equal(t, loadVars(t, filepath.Join(frozen.RunDir, checkpoint.Name(epoch))),
			loadVars(t, filepath.Join(probe.RunDir, checkpoint.Name(epoch))), "epoch %d", epoch)
	}
}

// sgdSteps builds the training graphs of a seeded ResNet18 with classes
// outputs on the pure-Go backend: plain SGD (no momentum, no weight decay)
// with label smoothing, training the last trainable backbone layers.
func sgdSteps(t *testing.T, classes, trainable int, smoothing float64) (*steps, *resnet.Model) {
	t.Helper()
	be, err := backend.New("go")
	require.NoError(t, err)
	net, err := resnet.New("resnet18", classes, resnet.LayoutTorchvision)
	require.NoError(t, err)
	store := model.NewStore()
	require.NoError(t, store.SetRNGStateFromSeed(1))
	return newSteps(be, store, stepConfig{forward: net.Logits, partial: partialLogits(net), trainable: trainable,
		opt: newOptimizer(OptimConfig{Name: "sgd"}), smoothing: smoothing}), net
}

// TestPartialStepRates: a step training layer4 (model.trainable_layers 1)
// moves its weights at the backbone's rate and the classifier's at the
// head's. With a zero backbone rate layer4's weights stay while its batch
// norm, in training mode, still updates its statistics; the frozen layers
// stay whatever the rates.
func TestPartialStepRates(t *testing.T) {
	const batch, size, classes = 4, 16, 3
	for _, tc := range []struct {
		name       string
		backboneLR float64
	}{{"zero backbone rate", 0}, {"backbone rate", 0.1}} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := sgdSteps(t, classes, 1, 0)
			images, labels := randomBatch(rand.New(rand.NewPCG(3, 4)), batch, size, classes)
			in := stepInputs{LR: 0.1, BackboneLR: tc.backboneLR, Examples: batch}
			_, _, err := s.train(images, labels, in) // creates the variables
			require.NoError(t, err)
			before := storeValues(s.store)
			_, _, err = s.train(images, labels, in)
			require.NoError(t, err)
			after := storeValues(s.store)

			moved := func(name string) bool { return !slices.Equal(before[name], after[name]) }
			require.True(t, moved("/model/fc/weights"), "the classifier trains")
			require.True(t, moved("/model/layer4/block_1/bn2/mean"), "layer4's batch norm updates its statistics")
			require.Equal(t, tc.backboneLR > 0, moved("/model/layer4/block_1/conv2/kernel"), "layer4 moves at the backbone's rate")
			for name := range before {
				if !resnet.IsTrained(name, 1) {
					require.False(t, moved(name), "%s changed in a frozen layer", name)
				}
			}
		})
	}
}
