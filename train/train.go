// Package train trains a ResNet classifier from a Config: data → model →
// optimizer → checkpoint → loop → evaluation. See Run.
package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/internal/atomicfile"
	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/internal/cfgfile"
	"github.com/gocls/gocls/internal/synth"
	"github.com/gocls/gocls/models/resnet"
)

// modelScope is the variable scope of the network inside the store.
const modelScope = "/model"

// Result summarises a finished run.
type Result struct {
	RunDir   string
	Epochs   int     // epochs completed
	Steps    int     // optimizer steps completed
	LastLoss float64 // mean training loss of the last epoch
	Val      Metrics // validation metrics of the last epoch
	BestTop1 float64
}

// state is what a checkpoint stores besides the variables.
type state struct {
	Epoch    int     `json:"epoch"` // epochs completed
	Step     int     `json:"step"`  // optimizer steps completed
	BestTop1 float64 `json:"best_top1"`
}

// Run trains as cfg says, writing everything into the run directory
// cfg.Run.Dir/cfg.Run.Name, and resumes from its latest checkpoint when one
// exists. Progress goes to log. Cancelling ctx saves a checkpoint and returns.
func Run(ctx context.Context, cfg Config, log io.Writer) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: internal error: %v\n%s", r, debug.Stack())
		}
	}()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	runDir := filepath.Join(cfg.Run.Dir, cfg.Run.Name)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: run directory: %w", err)
	}

	// Data.
	if cfg.Synthetic.Enabled && !synth.Exists(cfg.Data.Root) {
		fmt.Fprintf(log, "generating a synthetic dataset in %s\n", cfg.Data.Root)
		err := synth.Generate(cfg.Data.Root, synth.Options{Classes: cfg.Synthetic.Classes, PerClass: cfg.Synthetic.PerClass,
			Test: cfg.Synthetic.Test, Size: cfg.Synthetic.Size, Seed: cfg.Run.Seed})
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	trainSet, valSet, err := loadSplit(cfg, runDir, log)
	if err != nil {
		return nil, err
	}

	// Model.
	be, err := backend.New(cfg.Run.Backend)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	net, err := resnet.New(cfg.Model.Arch, cfg.Data.NumClasses, cfg.Model.Layout)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	prep := resnet.TorchvisionImageNet
	prep.Crop, prep.Resize = cfg.Data.Eval.Crop, cfg.Data.Eval.ResizeShorter
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(cfg.Run.Seed); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	info := checkpoint.ModelInfo{Arch: cfg.Model.Arch, Layout: cfg.Model.Layout, NumClasses: cfg.Data.NumClasses,
		Scope: modelScope, Preprocessing: prep}
	if err := checkpoint.WriteModelInfo(runDir, info); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := writeResolvedConfig(runDir, cfg); err != nil {
		return nil, err
	}

	// Optimizer.
	opt := newOptimizer(cfg.Optim)
	sched := newSchedule(cfg)

	// Checkpoint: resume when the run directory has one.
	var st state
	if cfg.Run.Resume {
		latest, err := checkpoint.Latest(runDir)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		if latest != "" {
			if err := checkpoint.Load(latest, store, &st); err != nil {
				return nil, fmt.Errorf("train: resuming: %w", err)
			}
			fmt.Fprintf(log, "resuming from %s (epoch %d, step %d)\n", latest, st.Epoch, st.Step)
		}
	}

	steps := newSteps(be, store, net, opt)
	norm := normalizeFrom(prep)
	loaderOpts := dataset.LoaderOptions{BatchSize: cfg.Run.BatchSize, Workers: cfg.Data.Workers, Prefetch: cfg.Data.Prefetch,
		Seed: cfg.Run.Seed, Shuffle: true, DropLast: len(trainSet) >= cfg.Run.BatchSize, Decode: cfg.Data.DecodeOptions(),
		OnBad: func(path string, err error) { fmt.Fprintf(log, "skipping unreadable image: %v\n", err) }}
	trainLoader := dataset.NewLoader(trainSet, dataset.TrainTransform(cfg.Data.Augment, prep.Crop, norm), loaderOpts)
	evalOpts := loaderOpts
	evalOpts.Shuffle, evalOpts.DropLast = false, false
	valLoader := dataset.NewLoader(valSet, dataset.EvalTransform(prep.Resize, prep.Crop, norm), evalOpts)

	// Loop.
	res = &Result{RunDir: runDir, BestTop1: st.BestTop1}
	metricsLog, err := os.OpenFile(filepath.Join(runDir, "metrics.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer metricsLog.Close()
	for epoch := st.Epoch; epoch < cfg.Run.Epochs; epoch++ {
		if cfg.Run.MaxSteps > 0 && st.Step >= cfg.Run.MaxSteps {
			break
		}
		start := time.Now()
		var lossSum float64
		var seen int
		for batch := range trainLoader.Epoch(ctx, epoch) {
			if cfg.Run.MaxSteps > 0 && st.Step >= cfg.Run.MaxSteps {
				break
			}
			lr := sched.at(st.Step, epoch)
			loss, err := steps.train(batch, prep.Crop, lr)
			trainLoader.Release(batch)
			if err != nil {
				return nil, fmt.Errorf("train: step %d: %w", st.Step+1, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, fmt.Errorf("train: loss is %v at step %d (epoch %d): stopping; the last good checkpoint is kept in %s", loss, st.Step+1, epoch+1, runDir)
			}
			st.Step++
			lossSum += loss * float64(batch.Size)
			seen += batch.Size
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("train: interrupted in epoch %d: %w", epoch+1, err)
		}
		st.Epoch = epoch + 1

		// Evaluation.
		val, err := evaluate(ctx, steps, valLoader, prep.Crop, cfg.Data.NumClasses)
		if err != nil {
			return nil, fmt.Errorf("train: evaluating epoch %d: %w", st.Epoch, err)
		}
		trainLoss := lossSum / math.Max(1, float64(seen))
		elapsed := time.Since(start)
		fmt.Fprintf(log, "epoch %d/%d: train loss %.4f, val loss %.4f, val top-1 %.4f (%d images, %.1f img/s)\n",
			st.Epoch, cfg.Run.Epochs, trainLoss, val.Loss, val.Top1, seen, float64(seen)/elapsed.Seconds())
		line, _ := json.Marshal(map[string]any{"epoch": st.Epoch, "step": st.Step, "train_loss": trainLoss,
			"val_loss": val.Loss, "val_top1": val.Top1, "val_top5": val.Top5, "seconds": elapsed.Seconds()})
		if _, err := metricsLog.Write(append(line, '\n')); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		if err := checkpoint.Save(filepath.Join(runDir, checkpoint.Name(st.Epoch)), store, st); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		if val.Top1 >= st.BestTop1 || !fileExists(filepath.Join(runDir, checkpoint.Best)) {
			st.BestTop1 = math.Max(st.BestTop1, val.Top1)
			if err := checkpoint.Save(filepath.Join(runDir, checkpoint.Best), store, st); err != nil {
				return nil, fmt.Errorf("train: %w", err)
			}
		}
		if err := checkpoint.Prune(runDir, cfg.Run.KeepLast); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		res.Epochs, res.Steps, res.LastLoss, res.Val, res.BestTop1 = st.Epoch, st.Step, trainLoss, val, st.BestTop1
	}
	res.Epochs, res.Steps = st.Epoch, st.Step
	return res, nil
}

// loadSplit reads the list file and returns the train/validation split,
// reusing runDir/split.json when it exists so a resumed run (and predict)
// sees the same split.
func loadSplit(cfg Config, runDir string, log io.Writer) (trainSet, valSet []dataset.Sample, err error) {
	listPath := filepath.Join(cfg.Data.Root, cfg.Data.TrainList)
	if _, err := os.Stat(listPath); err != nil {
		return nil, nil, fmt.Errorf("train: dataset not found: %s is missing; put the cat12 data (train_list.txt, cat_12_train/, cat_12_test/ from the PaddlePaddle AI Studio cat12 competition) in %s, or set data.root", listPath, cfg.Data.Root)
	}
	splitPath := filepath.Join(runDir, "split.json")
	if _, err := os.Stat(splitPath); err == nil {
		trainSet, valSet, err = dataset.LoadSplit(splitPath)
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		return trainSet, valSet, nil
	}
	samples, warnings, err := dataset.ReadList(listPath, cfg.Data.Root, cfg.Data.NumClasses)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(log, "warning: %s\n", w)
	}
	trainSet, valSet = dataset.Split(samples, cfg.Data.ValRatio, cfg.Data.SplitSeed)
	if len(trainSet) == 0 {
		return nil, nil, fmt.Errorf("train: %s: no training images after the split", listPath)
	}
	if err := dataset.SaveSplit(splitPath, trainSet, valSet); err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return trainSet, valSet, nil
}

func writeResolvedConfig(runDir string, cfg Config) error {
	b, err := cfgfile.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(runDir, "config.yaml"), b)
}

func normalizeFrom(p resnet.Preprocessing) dataset.Normalize {
	return dataset.Normalize{Mean: p.Mean, Std: p.Std, Scale: p.Scale, BGR: p.BGR}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// batchTensor converts a loader batch to the model's input [Size, crop, crop, 3].
func batchTensor(b dataset.Batch, crop int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(b.Images[:b.Size*crop*crop*3], b.Size, crop, crop, 3)
}

var _ = errors.New
var _ compute.Backend
