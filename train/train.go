// Package train trains a ResNet classifier from a Config: data → model →
// optimizer → checkpoint → loop → evaluation. See Run.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/evaluate"
	"github.com/gocls/gocls/internal/atomicfile"
	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/internal/cfgfile"
	"github.com/gocls/gocls/internal/synth"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
)

// interruptedDir is the run directory's mid-epoch checkpoint, written when a
// run is cancelled (SIGINT/SIGTERM) or stops at run.max_steps inside an
// epoch. It is always newer than every numbered checkpoint: it is removed
// before the next numbered one is saved.
const interruptedDir = "interrupted"

// Result summarises a finished run.
type Result struct {
	RunDir    string
	Epochs    int     // epochs completed
	Steps     int     // optimizer steps completed
	LastLoss  float64 // mean training loss of the last epoch
	Val       evaluate.Metrics
	BestTop1  float64
	BestEpoch int
	History   []EpochRecord
}

// state is what a checkpoint stores besides the variables: the position in
// the run (epoch, step, position inside the epoch) and everything that the
// metrics of the remaining epochs depend on, so that a resumed run continues
// exactly.
type state struct {
	Epoch int `json:"epoch"` // epochs completed (trained, evaluated, saved)
	Step  int `json:"step"`  // optimizer steps completed
	Batch int `json:"batch"` // micro-batches of epoch Epoch+1 already trained (mid-epoch checkpoint)
	// Consumed is how far into epoch Epoch+1's sample order training got
	// (the End of its last batch): a resume continues there, even with
	// another run.batch_size.
	Consumed     int  `json:"consumed"`
	EpochTrained bool `json:"epoch_trained"` // the training pass of epoch Epoch+1 is complete, its evaluation pending
	// Running sums of the partial epoch.
	LossSum       float64 `json:"loss_sum"`
	Correct       int     `json:"correct"`
	Seen          int     `json:"seen"`
	AccumExamples int     `json:"accum_examples"` // examples in the pending gradient-accumulation group
	Seconds       float64 `json:"seconds"`        // wall time spent in the partial epoch
	TrainSeconds  float64 `json:"train_seconds"`
	LR            float64 `json:"lr"` // learning rate of the last step

	BestTop1  float64       `json:"best_top1"`
	BestEpoch int           `json:"best_epoch"` // 0: none yet
	History   []EpochRecord `json:"history"`
}

// hooks let tests observe and steer a run.
type hooks struct {
	afterStep  func(step int)                            // called after each optimizer step or accumulation micro-step
	trained    func(epoch int, indices []int)            // called with the training samples of each micro-batch
	beforeSave func(dir string)                          // called before each checkpoint save
	readEvery  int                                       // overrides metricsEvery
	valTop1    func(epoch int, measured float64) float64 // replaces an epoch's validation top-1
	saver      checkpoint.Saver                          // fault-test seams of the checkpoint writes
}

// Run trains as cfg says, writing everything into the run directory
// cfg.Run.Dir/cfg.Run.Name:
//
//	train.lock, config.yaml, model.json, split.json, metrics.csv, metrics.jsonl,
//	curves.png, confusion.csv, confusion.png, ckpt-NNNNNNNN/ (every epoch,
//	the last run.keep_last kept), best/ (best validation top-1),
//	interrupted/ (mid-epoch, after a cancellation)
//
// and resumes from its newest intact checkpoint when one exists (run.resume);
// another Run on the same directory meanwhile fails (see lockRunDir). Progress
// goes to log. Cancelling ctx saves a mid-epoch checkpoint and returns an
// error wrapping context.Canceled; re-running continues exactly where it
// stopped. A non-finite loss stops the run with an error naming the step;
// the previous checkpoints are kept. Graph-building panics come back as
// errors.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Result, error) {
	return run(ctx, cfg, log, hooks{})
}

func run(ctx context.Context, cfg Config, log io.Writer, hk hooks) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: internal error: %v\n%s", r, debug.Stack())
		}
	}()
	if log == nil {
		log = io.Discard
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	runDir := filepath.Join(cfg.Run.Dir, cfg.Run.Name)
	fresh := !fileExists(runDir)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: run directory: %w", err)
	}
	unlock, err := lockRunDir(runDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		unlock()
		// A new run that fails before its first checkpoint (no usable image,
		// a bad backend, a non-finite first loss) leaves nothing behind.
		if err != nil && fresh && !hasCheckpoint(runDir) {
			os.RemoveAll(runDir)
		}
	}()
	r, err := prepare(cfg, runDir, log, hk)
	if err != nil {
		return nil, err
	}
	return r.loop(ctx)
}

// prepare sets up a run in its (locked) directory, in order: the checkpoint
// to resume from, which fixes the architecture; the data split; the model and
// its starting weights; model.json and config.yaml; the graphs and loaders.
func prepare(cfg Config, runDir string, log io.Writer, hk hooks) (*runner, error) {
	recovered, err := checkpoint.Recover(runDir)
	for _, r := range recovered {
		fmt.Fprintf(log, "left by an interrupted save: %s\n", r)
	}
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	resumeDir, err := findResume(cfg, runDir, log)
	if err != nil {
		return nil, err
	}
	var prep preprocess.Convention
	havePrep := false
	if resumeDir != "" {
		cfg, prep, havePrep = archFromCheckpoint(cfg, runDir, log)
	}
	trainSet, valSet, err := loadData(cfg, runDir, resumeDir != "", log)
	if err != nil {
		return nil, err
	}
	be, net, err := openModel(cfg, log)
	if err != nil {
		return nil, err
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(cfg.Run.Seed); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	st, pretrainedPrep, err := startingWeights(cfg, runDir, resumeDir != "", store, log)
	if err != nil {
		return nil, err
	}
	if pretrainedPrep != nil {
		prep, havePrep = *pretrainedPrep, true
	}
	if !havePrep {
		prep = preprocess.TorchvisionImageNet
	}
	prep.Crop, prep.Resize = cfg.Data.Eval.Crop, cfg.Data.Eval.ResizeShorter
	if err := writeRunInfo(cfg, runDir, prep); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, runDir: runDir, log: log, hk: hk, store: store, st: st, crop: prep.Crop,
		classes: cfg.Data.NumClasses, bar: cfg.Run.ProgressBars(log)}
	norm := dataset.Normalize{Mean: prep.Mean, Std: prep.Std, Scale: prep.Scale, BGR: prep.BGR}
	r.buildGraphs(be, net, norm)
	if r.trainLoader, r.valLoader, err = loaders(cfg, trainSet, valSet, norm, log); err != nil {
		return nil, err
	}
	if len(st.History) > 0 {
		if err := r.writeReports(nil); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// loadData generates the synthetic dataset when the config asks for it and
// it is not there yet, and returns the run's split of the training list.
func loadData(cfg Config, runDir string, resuming bool, log io.Writer) (trainSet, valSet []dataset.Sample, err error) {
	if cfg.Synthetic.Enabled && !synth.Exists(cfg.Data.Root) {
		fmt.Fprintf(log, "generating a synthetic dataset in %s\n", cfg.Data.Root)
		err := synth.Generate(cfg.Data.Root, synth.Options{Classes: cfg.Synthetic.Classes, PerClass: cfg.Synthetic.PerClass,
			Test: cfg.Synthetic.Test, Size: cfg.Synthetic.Size, Seed: cfg.Run.Seed})
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
	}
	return loadSplit(cfg, runDir, resuming, log)
}

// openModel opens the backend and builds the network the config names.
func openModel(cfg Config, log io.Writer) (compute.Backend, *resnet.Model, error) {
	be, err := backend.New(cfg.Run.Backend)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(log, "backend: %s\n", be) // names the PJRT plugin file and version on xla
	net, err := resnet.New(cfg.Model.Arch, cfg.Data.NumClasses, cfg.Model.Layout)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return be, net, nil
}

// startingWeights fills store with the weights the run starts from: the
// newest intact checkpoint when resuming (the state then comes from it
// too), else model.pretrained, whose preprocessing it returns, else nothing
// (the variables are initialised when the graphs first run).
func startingWeights(cfg Config, runDir string, resuming bool, store *model.Store, log io.Writer) (*state, *preprocess.Convention, error) {
	st := &state{}
	switch {
	case resuming:
		resumeDir, err := loadResume(runDir, store, st, log)
		if err != nil {
			return nil, nil, err
		}
		if st.Batch > 0 && st.Consumed == 0 { // a checkpoint of an older version: exact if the batch size is unchanged
			st.Consumed = st.Batch * cfg.Run.BatchSize
		}
		fmt.Fprintf(log, "resuming from %s (epoch %d, step %d%s)\n", resumeDir, st.Epoch, st.Step, midEpochNote(*st))
	case cfg.Model.Pretrained != "":
		prep, err := loadPretrained(cfg, store, log)
		if err != nil {
			return nil, nil, err
		}
		return st, &prep, nil
	}
	return st, nil, nil
}

// writeRunInfo writes model.json (what predict needs: architecture, classes,
// preprocessing, the scope of the weights to use) and the resolved
// config.yaml.
func writeRunInfo(cfg Config, runDir string, prep preprocess.Convention) error {
	info := checkpoint.ModelInfo{Arch: cfg.Model.Arch, Layout: string(cfg.Model.Layout), NumClasses: cfg.Data.NumClasses,
		Scope: resnet.RootScope, Preprocessing: prep}
	if cfg.Optim.EMADecay > 0 {
		info.Scope = emaScope // evaluation, best/ and predict use the averaged weights
	}
	var err error
	if info.Preprocess, err = recordedSteps(cfg); err != nil {
		return err
	}
	if err := checkpoint.WriteModelInfo(runDir, info); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return writeResolvedConfig(runDir, cfg)
}

// buildGraphs makes the optimizer and the training and evaluation graphs
// (the training step trains model.trainable_layers backbone layers, the
// frozen-backbone step none; the moving average's with optim.ema_decay).
// Training batches are uint8 pixels, normalised in the graph by norm.
func (r *runner) buildGraphs(be compute.Backend, net *resnet.Model, norm dataset.Normalize) {
	cfg := r.cfg
	forward := func(logits forwardFn) forwardFn {
		return normalizePixels(forwardWithPrecision(logits, cfg.Run.Precision), norm)
	}
	c := stepConfig{forward: forward(net.Logits), trainable: cfg.Model.TrainableLayers, opt: newOptimizer(cfg.Optim),
		smoothing: cfg.Optim.LabelSmoothing, accumulate: cfg.Optim.AccumSteps > 1}
	c.partial = func(n int) forwardFn {
		return forward(partialLogits(net)(n))
	}
	if cfg.Mixup.enabled() {
		c.mixup = &mixer{norm: norm}
	}
	r.steps = newSteps(be, r.store, c)
	if cfg.Optim.EMADecay > 0 {
		r.ema = newEMA(be, r.store, c.forward, cfg.Optim)
	}
}

// runner is the training loop of one run.
type runner struct {
	cfg                    Config
	runDir                 string
	log                    io.Writer
	hk                     hooks
	store                  *model.Store
	steps                  *steps
	ema                    *ema // nil without optim.ema_decay
	st                     *state
	crop, classes          int // crop: evaluation's; training's is cfg.Data.TrainCrop()
	bar                    bool
	trainLoader, valLoader *dataset.Loader
}

// loop trains and validates the remaining epochs, saving a checkpoint after
// each; it ends early at run.max_steps or with an error (a cancellation
// saves the interrupted checkpoint first).
func (r *runner) loop(ctx context.Context) (*Result, error) {
	st := r.st
	res := &Result{RunDir: r.runDir}
	if r.ema != nil && st.Step > 0 {
		// Resumed from a checkpoint without an average: start it from the
		// weights, before evaluation can run on it.
		if err := r.ema.ensure(); err != nil {
			return nil, fmt.Errorf("train: ema: %w", err)
		}
	}
	for epoch := st.Epoch; epoch < r.cfg.Run.Epochs; epoch++ {
		if !st.EpochTrained {
			last, err := r.trainPass(ctx, epoch, res)
			if err != nil {
				return nil, err
			}
			if last {
				break
			}
		}
		val, err := r.validateEpoch(ctx, epoch)
		if err != nil {
			return nil, err
		}
		if err := r.finishEpoch(epoch, val); err != nil {
			return nil, err
		}
		res.Val = val
	}
	res.Epochs, res.Steps, res.BestTop1, res.BestEpoch = st.Epoch, st.Step, st.BestTop1, st.BestEpoch
	res.History = st.History
	if n := len(st.History); n > 0 {
		res.LastLoss = float64(st.History[n-1].TrainLoss)
	}
	return res, nil
}

// trainPass runs (the rest of) epoch's training pass and handles how it
// stopped. A cancellation saves the interrupted checkpoint and returns an
// error. At run.max_steps the run ends (last): a partly trained epoch is
// saved as the interrupted checkpoint and validated into res.Val.
func (r *runner) trainPass(ctx context.Context, epoch int, res *Result) (last bool, err error) {
	st := r.st
	start := time.Now()
	stop, err := r.trainEpoch(ctx, epoch)
	st.Seconds += time.Since(start).Seconds()
	st.TrainSeconds += time.Since(start).Seconds()
	if err != nil {
		return false, err
	}
	interrupted := filepath.Join(r.runDir, interruptedDir)
	switch stop {
	case stopCancelled:
		if err := r.save(interrupted); err != nil {
			return false, err
		}
		fmt.Fprintf(r.log, "interrupted in epoch %d after %d batches: saved %s\n", epoch+1, st.Batch, interrupted)
		return false, fmt.Errorf("train: interrupted in epoch %d: %w", epoch+1, ctx.Err())
	case stopMaxSteps:
		if st.Batch == 0 {
			return true, nil // nothing trained in this epoch
		}
		if err := r.save(interrupted); err != nil {
			return false, err
		}
		val, err := validate(ctx, r.evalSteps(), r.valLoader, r.crop, r.classes)
		if err != nil {
			return false, fmt.Errorf("train: evaluating: %w", err)
		}
		fmt.Fprintf(r.log, "run.max_steps=%d reached in epoch %d: %s; saved %s\n",
			r.cfg.Run.MaxSteps, epoch+1, valSummary(val, r.classes), interrupted)
		res.Val = val
		return true, nil
	}
	if st.Seen == 0 {
		return false, fmt.Errorf("train: epoch %d has no usable training image (all %d unreadable, see the warnings above): nothing saved", epoch+1, r.trainLoader.Len())
	}
	st.EpochTrained = true
	return false, nil
}

// validateEpoch validates the weights at the end of epoch's training pass.
// A cancellation saves the interrupted checkpoint (training pass done,
// validation pending) and returns an error.
func (r *runner) validateEpoch(ctx context.Context, epoch int) (evaluate.Metrics, error) {
	start := time.Now()
	val, err := validate(ctx, r.evalSteps(), r.valLoader, r.crop, r.classes)
	if err != nil {
		if ctx.Err() != nil {
			r.st.Seconds += time.Since(start).Seconds()
			if err := r.save(filepath.Join(r.runDir, interruptedDir)); err != nil {
				return evaluate.Metrics{}, err
			}
			return evaluate.Metrics{}, fmt.Errorf("train: interrupted evaluating epoch %d: %w", epoch+1, ctx.Err())
		}
		return evaluate.Metrics{}, fmt.Errorf("train: evaluating epoch %d: %w", epoch+1, err)
	}
	if r.hk.valTop1 != nil {
		val.Top1 = r.hk.valTop1(epoch+1, val.Top1)
	}
	r.st.Seconds += time.Since(start).Seconds()
	return val, nil
}

// finishEpoch records and logs a trained and validated epoch, starts the
// state of the next one, and writes the epoch's checkpoints and reports.
func (r *runner) finishEpoch(epoch int, val evaluate.Metrics) error {
	st := r.st
	trainLoss := st.LossSum / math.Max(1, float64(st.Seen))
	trainTop1 := float64(st.Correct) / math.Max(1, float64(st.Seen))
	rec := record(epoch+1, st.Step, st.LR, trainLoss, trainTop1, val, r.classes)
	rec.Seconds = Float(st.Seconds)
	rec.ImgPerSec = Float(float64(st.Seen) / math.Max(st.TrainSeconds, 1e-9))
	st.History = append(st.History, rec)
	fmt.Fprintf(r.log, "epoch %d/%d: lr %.4g, train loss %.4f, top-1 %.4f | %s | %d images, %.1f img/s\n",
		epoch+1, r.cfg.Run.Epochs, st.LR, trainLoss, trainTop1, valSummary(val, r.classes), st.Seen, float64(rec.ImgPerSec))

	st.Epoch, st.Batch, st.Consumed, st.EpochTrained = epoch+1, 0, 0, false
	st.LossSum, st.Correct, st.Seen, st.AccumExamples, st.Seconds, st.TrainSeconds = 0, 0, 0, 0, 0, 0
	// Only a validated epoch can be the best one: without validation
	// images (data.val_ratio 0, or all unreadable) there is no best/.
	isBest := val.N > 0 && (st.BestEpoch == 0 || val.Top1 >= st.BestTop1)
	if isBest {
		st.BestTop1, st.BestEpoch = val.Top1, st.Epoch
	}
	if err := r.checkpointEpoch(isBest); err != nil {
		return err
	}
	return r.writeReports(&val)
}

// evalSteps returns the graphs that evaluation runs: the network's, or with
// optim.ema_decay its moving average's.
func (r *runner) evalSteps() *steps {
	if r.ema == nil {
		return r.steps
	}
	return r.ema.eval
}

// checkpointEpoch writes the end-of-epoch checkpoints: ckpt-<epoch>, best
// when isBest, then prunes old numbered ones. A kill at any instant leaves
// the previous checkpoints loadable (checkpoint.Saver.Save renames complete
// directories into place).
func (r *runner) checkpointEpoch(isBest bool) error {
	// The interrupted checkpoint is older than the one about to be saved:
	// remove it first, so that it never hides a newer one on resume.
	if err := r.hk.saver.Remove(filepath.Join(r.runDir, interruptedDir)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := r.save(filepath.Join(r.runDir, checkpoint.Name(r.st.Epoch))); err != nil {
		return err
	}
	if isBest {
		if err := r.save(filepath.Join(r.runDir, checkpoint.Best)); err != nil {
			return err
		}
	}
	if err := r.hk.saver.Prune(r.runDir, r.cfg.Run.KeepLast); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// save writes a checkpoint of the store and the state into dir.
func (r *runner) save(dir string) error {
	if r.hk.beforeSave != nil {
		r.hk.beforeSave(dir)
	}
	if err := r.hk.saver.Save(dir, r.store, r.st); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// writeReports rewrites metrics.csv, metrics.jsonl and curves.png from the
// history and, given validation metrics, confusion.csv and confusion.png.
func (r *runner) writeReports(val *evaluate.Metrics) error {
	if err := writeMetrics(r.runDir, r.st.History, r.classes); err != nil {
		return err
	}
	if err := writeCurves(filepath.Join(r.runDir, "curves.png"), r.st.History); err != nil {
		return err
	}
	if val == nil || val.N == 0 {
		return nil
	}
	if err := evaluate.WriteConfusionCSV(filepath.Join(r.runDir, "confusion.csv"), val.Confusion, nil); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	title := fmt.Sprintf("validation, epoch %d: top-1 %.3f", r.st.Epoch, val.Top1)
	if err := evaluate.WriteConfusionPNG(filepath.Join(r.runDir, "confusion.png"), val.Confusion, nil, title); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// findResume returns the checkpoint a run continues from ("" for a fresh
// start): the interrupted checkpoint when present, else the latest numbered
// one. With run.resume false, the old checkpoints of the run directory are
// removed instead.
func findResume(cfg Config, runDir string, log io.Writer) (string, error) {
	interrupted := filepath.Join(runDir, interruptedDir)
	latest, err := checkpoint.Latest(runDir)
	if err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	hasInterrupted := checkpoint.Exists(interrupted)
	if !cfg.Run.Resume {
		old, _ := checkpoint.List(runDir)
		if hasInterrupted {
			old = append(old, interrupted)
		}
		if fileExists(filepath.Join(runDir, checkpoint.Best)) {
			old = append(old, filepath.Join(runDir, checkpoint.Best))
		}
		if len(old) > 0 {
			fmt.Fprintf(log, "run.resume is false: removing %d old checkpoints and the split of %s\n", len(old), runDir)
		}
		for _, d := range append(old, filepath.Join(runDir, "split.json")) {
			if err := os.RemoveAll(d); err != nil {
				return "", fmt.Errorf("train: %w", err)
			}
		}
		return "", nil
	}
	if hasInterrupted {
		return interrupted, nil
	}
	return latest, nil
}

// loadResume loads the newest intact checkpoint a run can continue from
// (interrupted, then the numbered ones, newest first) into store and st,
// warning about each damaged one it passes over, and returns its directory.
func loadResume(runDir string, store *model.Store, st *state, log io.Writer) (string, error) {
	candidates, err := checkpoint.List(runDir)
	if err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	slices.Reverse(candidates)
	if interrupted := filepath.Join(runDir, interruptedDir); checkpoint.Exists(interrupted) {
		candidates = append([]string{interrupted}, candidates...)
	}
	for _, dir := range candidates {
		err := checkpoint.Load(dir, store, st)
		if err == nil {
			if !checkpoint.Verified(dir) {
				fmt.Fprintf(log, "warning: %s has no %s (written by an older version): loaded without verifying it\n", dir, checkpoint.ManifestFile)
			}
			return dir, nil
		}
		if !errors.Is(err, checkpoint.ErrDamaged) {
			return "", fmt.Errorf("train: resuming: %w", err)
		}
		fmt.Fprintf(log, "warning: %v; resuming from an older checkpoint\n", err)
	}
	return "", fmt.Errorf("train: cannot resume: every checkpoint of %s is damaged (see the warnings above); start over with -set run.resume=false", runDir)
}

// archFromCheckpoint takes the architecture, class count and preprocessing
// of a resumed run from its model.json, warning where the config differs.
func archFromCheckpoint(cfg Config, runDir string, log io.Writer) (Config, preprocess.Convention, bool) {
	info, err := checkpoint.ReadModelInfo(runDir)
	if err != nil {
		fmt.Fprintf(log, "warning: %v; using the config's architecture\n", err)
		return cfg, preprocess.Convention{}, false
	}
	warn := func(key string, cfgVal, ckptVal any) {
		fmt.Fprintf(log, "warning: %s is %v in the config but %v in %s: resuming with %v\n", key, cfgVal, ckptVal,
			filepath.Join(runDir, checkpoint.ModelInfoFile), ckptVal)
	}
	if info.Arch != cfg.Model.Arch {
		warn("model.arch", cfg.Model.Arch, info.Arch)
		cfg.Model.Arch = info.Arch
	}
	if layout := resnet.Layout(info.Layout); layout != cfg.Model.Layout {
		warn("model.layout", cfg.Model.Layout, layout)
		cfg.Model.Layout = layout
	}
	if info.NumClasses != cfg.Data.NumClasses {
		warn("data.num_classes", cfg.Data.NumClasses, info.NumClasses)
		cfg.Data.NumClasses = info.NumClasses
	}
	p := info.Preprocessing
	if p.Crop > 0 && p.Crop != cfg.Data.Eval.Crop {
		warn("data.eval.crop", cfg.Data.Eval.Crop, p.Crop)
		cfg.Data.Eval.Crop = p.Crop
	}
	if p.Resize > 0 && p.Resize != cfg.Data.Eval.ResizeShorter {
		warn("data.eval.resize_shorter", cfg.Data.Eval.ResizeShorter, p.Resize)
		cfg.Data.Eval.ResizeShorter = p.Resize
	}
	cfg = stepsFromCheckpoint(cfg, info, warn)
	return cfg, p, true
}

func midEpochNote(st state) string {
	switch {
	case st.EpochTrained:
		return fmt.Sprintf(", epoch %d trained, evaluation pending", st.Epoch+1)
	case st.Batch > 0:
		return fmt.Sprintf(", %d batches into epoch %d", st.Batch, st.Epoch+1)
	}
	return ""
}

// loadSplit reads the list file and returns the train/validation split.
// When resuming, the run's split.json is reused, so the run (and predict)
// keeps the split its checkpoints were trained on; it must have been made
// from the same list contents, data.val_ratio and data.split_seed.
func loadSplit(cfg Config, runDir string, resuming bool, log io.Writer) (trainSet, valSet []dataset.Sample, err error) {
	listPath := filepath.Join(cfg.Data.Root, cfg.Data.TrainList)
	if _, err := os.Stat(listPath); err != nil {
		return nil, nil, fmt.Errorf("train: dataset not found: %s is missing; put the cat12 data (train_list.txt, cat_12_train/, cat_12_test/ from the PaddlePaddle AI Studio cat12 competition) in %s, or set data.root", listPath, cfg.Data.Root)
	}
	src, err := dataset.NewSplitSource(listPath, cfg.Data.Root, cfg.Data.ValRatio, cfg.Data.SplitSeed)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	splitPath := filepath.Join(runDir, "split.json")
	if resuming && fileExists(splitPath) {
		saved, trainSet, valSet, err := dataset.LoadSplit(splitPath, cfg.Data.Root)
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		if saved.ListSHA256 != "" { // version 1 files are checked against a fresh split below
			if m := src.Mismatch(saved); m != "" {
				return nil, nil, splitMismatch(runDir, listPath, m)
			}
			return trainSet, valSet, nil
		}
		newTrain, newVal, err := makeSplit(cfg, listPath, src, log)
		if err != nil {
			return nil, nil, err
		}
		if !sameNames(trainSet, newTrain) || !sameNames(valSet, newVal) {
			return nil, nil, splitMismatch(runDir, listPath, "the list file, data.val_ratio or data.split_seed changed")
		}
		if err := dataset.SaveSplit(splitPath, src, newTrain, newVal); err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		return newTrain, newVal, nil
	}
	trainSet, valSet, err = makeSplit(cfg, listPath, src, log)
	if err != nil {
		return nil, nil, err
	}
	if err := dataset.SaveSplit(splitPath, src, trainSet, valSet); err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return trainSet, valSet, nil
}

// makeSplit reads the list and splits it.
func makeSplit(cfg Config, listPath string, src dataset.SplitSource, log io.Writer) (trainSet, valSet []dataset.Sample, err error) {
	samples, warnings, err := dataset.ReadList(listPath, cfg.Data.Root, cfg.Data.NumClasses)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(log, "warning: %s\n", w)
	}
	trainSet, valSet = dataset.Split(samples, src.ValRatio, src.Seed)
	if len(trainSet) == 0 {
		return nil, nil, fmt.Errorf("train: %s: no training images after the split", listPath)
	}
	return trainSet, valSet, nil
}

func splitMismatch(runDir, listPath, what string) error {
	return fmt.Errorf("train: cannot resume %s: its split.json, made from %s, does not match: %s. "+
		"Restore the data or settings, start over with -set run.resume=false (removes the run's checkpoints), or choose another run.name",
		runDir, listPath, what)
}

// sameNames reports whether two sample lists name the same images with the
// same labels in the same order.
func sameNames(a, b []dataset.Sample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Label != b[i].Label {
			return false
		}
	}
	return true
}

func writeResolvedConfig(runDir string, cfg Config) error {
	b, err := cfgfile.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(runDir, "config.yaml"), b)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// hasCheckpoint reports whether runDir holds any checkpoint: numbered, best
// or mid-epoch.
func hasCheckpoint(runDir string) bool {
	if l, err := checkpoint.List(runDir); err != nil || len(l) > 0 {
		return true // unreadable: keep it
	}
	return checkpoint.Exists(filepath.Join(runDir, checkpoint.Best)) ||
		checkpoint.Exists(filepath.Join(runDir, interruptedDir))
}
