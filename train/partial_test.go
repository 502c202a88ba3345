package train

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/models/resnet"
)

// TestPartialEpochKeepsFrozenLayers trains one epoch in full, then resumes
// with model.trainable_layers 1 and 2 for the second: between the two
// checkpoints on disk the frozen layers' weights, BN statistics and
// optimizer state are bit-identical while the classifier and the last
// layers train (their BN statistics and optimizer state too), with every
// option that acts on a step and with bfloat16 activations.
func TestPartialEpochKeepsFrozenLayers(t *testing.T) {
	for _, trainable := range []int{1, 2} {
		minFrozen, minTrained := partialCounts(t, trainable)
		for _, tc := range stepOptions {
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
