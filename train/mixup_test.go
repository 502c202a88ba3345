package train

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/internal/backend"
)

// refMix is timm's Mixup._mix_batch and mixup_target, element by element,
// on images [n, h, w, c] and labels.
func refMix(images []float32, labels []int32, n, h, w, c, classes int, p mixParams, smoothing float64) (mixed, target []float64) {
	at := func(b, y, x, ch int) float64 { return float64(images[((b*h+y)*w+x)*c+ch]) }
	for b := 0; b < n; b++ {
		f := n - 1 - b
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for ch := 0; ch < c; ch++ {
					v := at(b, y, x, ch)
					switch {
					case p.Cutmix && y >= p.YL && y < p.YH && x >= p.XL && x < p.XH:
						v = at(f, y, x, ch)
					case !p.Cutmix:
						v = v*p.Lam + at(f, y, x, ch)*(1-p.Lam)
					}
					mixed = append(mixed, v)
				}
			}
		}
	}
	off := smoothing / float64(classes)
	on := 1 - smoothing + off
	for b := 0; b < n; b++ {
		for k := 0; k < classes; k++ {
			y1, y2 := off, off
			if int(labels[b]) == k {
				y1 = on
			}
			if int(labels[n-1-b]) == k {
				y2 = on
			}
			target = append(target, y1*p.Lam+y2*(1-p.Lam))
		}
	}
	return mixed, target
}

// TestMixImagesAndTarget checks the graph's mixing and soft targets against
// refMix on an odd batch (the middle image mixes with itself).
func TestMixImagesAndTarget(t *testing.T) {
	const n, h, w, c, classes = 3, 4, 5, 2, 4
	rng := rand.New(rand.NewPCG(1, 2))
	images := make([]float32, n*h*w*c)
	for i := range images {
		images[i] = float32(rng.NormFloat64())
	}
	labels := []int32{2, 0, 3}
	be, err := backend.New("go")
	require.NoError(t, err)
	exec := model.MustNewExec(be, model.NewStore(), func(_ *model.Scope, x, y, mix *Node) (*Node, *Node) {
		return mixImages(x, mix), mixTarget(y, mix, classes, 0.1, x.DType())
	})
	for _, tc := range []struct {
		name string
		p    mixParams
	}{
		{"none", noMix},
		{"mixup", mixParams{Lam: 0.3}},
		{"cutmix", mixParams{Lam: 1 - 4.0/20, Cutmix: true, YL: 1, YH: 3, XL: 2, XH: 4}},
		{"cutmix at the border", mixParams{Lam: 1 - 3.0/20, Cutmix: true, YL: 0, YH: 1, XL: 2, XH: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Call(tensors.FromFlatDataAndDimensions(images, n, h, w, c),
				tensors.FromFlatDataAndDimensions(labels, n), tensors.FromFlatDataAndDimensions(tc.p.values(), 6))
			require.NoError(t, err)
			wantX, wantY := refMix(images, labels, n, h, w, c, classes, tc.p, 0.1)
			require.InDeltaSlice(t, wantX, toF64(tensors.MustCopyFlatData[float32](out[0])), 1e-6)
			require.InDeltaSlice(t, wantY, toF64(tensors.MustCopyFlatData[float32](out[1])), 1e-6)
		})
	}
}

// TestMixupDraw checks the per-batch draws: prob, switch_prob, the Beta
// distribution's mean and variance, and cutmix's box and corrected lambda.
func TestMixupDraw(t *testing.T) {
	const draws, h, w = 20000, 16, 12
	rng := rand.New(rand.NewPCG(3, 4))
	m := MixupConfig{MixupAlpha: 0.4, CutmixAlpha: 1, Prob: 0.7, SwitchProb: 0.25, Mode: "batch"}
	var mixed, cut int
	var lams []float64
	for range draws {
		p := m.draw(rng, h, w)
		if p == noMix {
			continue
		}
		mixed++
		if !p.Cutmix {
			lams = append(lams, p.Lam)
			continue
		}
		cut++
		require.True(t, 0 <= p.YL && p.YL <= p.YH && p.YH <= h && 0 <= p.XL && p.XL <= p.XH && p.XH <= w, "%+v", p)
		require.Equal(t, 1-float64((p.YH-p.YL)*(p.XH-p.XL))/(h*w), p.Lam)
	}
	require.InDelta(t, 0.7, float64(mixed)/draws, 0.02)
	require.InDelta(t, 0.25, float64(cut)/float64(mixed), 0.02)
	mean, sq := 0.0, 0.0
	for _, l := range lams {
		mean += l
		sq += l * l
	}
	mean /= float64(len(lams))
	variance := sq/float64(len(lams)) - mean*mean
	require.InDelta(t, 0.5, mean, 0.01)
	require.InDelta(t, 1/(4*(2*0.4+1)), variance, 0.01) // Beta(a,a): 1/(4(2a+1))

	require.Equal(t, noMix, MixupConfig{MixupAlpha: 1, Prob: 0, SwitchProb: 0.5}.draw(rng, h, w))
	require.Equal(t, noMix, MixupConfig{Prob: 1}.draw(rng, h, w))
}

// mixupConfig is tinyConfig with mixup, cutmix and label smoothing.
func mixupConfig(t *testing.T) Config {
	cfg := tinyConfig(t)
	cfg.Run.Epochs = 3
	cfg.Optim.LabelSmoothing = 0.1
	cfg.Mixup = MixupConfig{MixupAlpha: 0.8, CutmixAlpha: 1, Prob: 1, SwitchProb: 0.5, Mode: "batch"}
	return cfg
}

// TestMixupTraining: a real run trains on mixed batches (other losses than
// without mixing) and resumes exactly: the draws depend on the seed, epoch
// and batch only.
func TestMixupTraining(t *testing.T) {
	straight := mustRun(t, mixupConfig(t), hooks{})
	plainCfg := mixupConfig(t)
	plainCfg.Mixup = DefaultConfig().Mixup
	plain := mustRun(t, plainCfg, hooks{})
	require.NotEqual(t, plain.History[0].TrainLoss, straight.History[0].TrainLoss)
	for _, r := range straight.History {
		require.False(t, math.IsNaN(float64(r.TrainLoss)))
	}

	cfg := mixupConfig(t)
	cfg.Run.MaxSteps = 4 // inside epoch 2
	mustRun(t, cfg, hooks{})
	cfg.Run.MaxSteps = 0
	resumed := mustRun(t, cfg, hooks{})
	requireSameHistory(t, straight.History, resumed.History)
	require.Equal(t, loadVars(t, filepath.Join(straight.RunDir, checkpoint.Name(3))),
		loadVars(t, filepath.Join(resumed.RunDir, checkpoint.Name(3))))
}
