package train

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/preprocess"
)

// loaders returns the run's training loader (shuffled, uint8 pixels,
// data.augment.crop-sized crops) and validation loader (in order, normalised
// data.eval crops).
func loaders(cfg Config, trainSet, valSet []dataset.Sample, norm dataset.Normalize, log io.Writer) (tr, val *dataset.Loader, err error) {
	trainT, evalT, err := transforms(cfg, norm)
	if err != nil {
		return nil, nil, err
	}
	opts := dataset.LoaderOptions{BatchSize: cfg.Run.BatchSize, Workers: cfg.Data.Workers, Prefetch: cfg.Data.Prefetch,
		Seed: cfg.Run.Seed, Shuffle: true, DropLast: len(trainSet) >= cfg.Run.BatchSize, Decode: cfg.Data.DecodeOptions(), Pixels: true,
		OnBad: func(path string, err error) { fmt.Fprintf(log, "skipping unreadable image: %v\n", err) }}
	evalOpts := opts
	evalOpts.Shuffle, evalOpts.DropLast, evalOpts.Pixels = false, false, false
	evalOpts.OnBad = nil
	return dataset.NewLoader(trainSet, trainT, opts), dataset.NewLoader(valSet, evalT, evalOpts), nil
}

// transforms returns the training and evaluation transforms of the run,
// both running cfg.Data.Preprocess first.
func transforms(cfg Config, norm dataset.Normalize) (tr, ev dataset.Transform, err error) {
	tr, err = dataset.TrainTransform(cfg.Data.Augment, cfg.Data.TrainCrop(), norm).WithSteps(cfg.Data.Preprocess)
	if err != nil {
		return tr, ev, fmt.Errorf("train: data.preprocess: %w", err)
	}
	ev, err = dataset.EvalTransform(cfg.Data.Eval.ResizeShorter, cfg.Data.Eval.Crop, norm).WithSteps(cfg.Data.Preprocess)
	if err != nil {
		return tr, ev, fmt.Errorf("train: data.preprocess: %w", err)
	}
	return tr, ev, nil
}

// recordedSteps is cfg.Data.Preprocess with every parameter spelled out, as
// model.json records it.
func recordedSteps(cfg Config) ([]preprocess.StepConfig, error) {
	steps, err := preprocess.ResolveSteps(cfg.Data.Preprocess)
	if err != nil {
		return nil, fmt.Errorf("train: data.preprocess: %w", err)
	}
	if len(steps) == 0 {
		return nil, nil
	}
	return steps, nil
}

// stepsFromCheckpoint makes a resumed run keep the steps its model.json
// records (none for runs recorded without), warning when the config's
// differ: the weights were trained on images preprocessed that way.
func stepsFromCheckpoint(cfg Config, info checkpoint.ModelInfo, warn func(key string, cfgVal, ckptVal any)) Config {
	if sameSteps(cfg, info) {
		return cfg
	}
	warn("data.preprocess", stepsText(cfg.Data.Preprocess), stepsText(info.Preprocess))
	cfg.Data.Preprocess = info.Preprocess
	return cfg
}

// warnPretrainedSteps tells when model.pretrained, a run of ours, was trained
// with other steps than this run's: the config's steps are used.
func warnPretrainedSteps(cfg Config, dir string, info checkpoint.ModelInfo, log io.Writer) {
	if !sameSteps(cfg, info) {
		fmt.Fprintf(log, "warning: model.pretrained %s was trained with data.preprocess %s; this run uses %s\n",
			dir, stepsText(info.Preprocess), stepsText(cfg.Data.Preprocess))
	}
}

// sameSteps compares the config's steps and the recorded ones, defaults
// spelled out.
func sameSteps(cfg Config, info checkpoint.ModelInfo) bool {
	ours, err1 := recordedSteps(cfg)
	theirs, err2 := preprocess.ResolveSteps(info.Preprocess)
	return err1 == nil && err2 == nil && (len(ours) == 0 && len(theirs) == 0 || reflect.DeepEqual(ours, theirs))
}

func stepsText(steps []preprocess.StepConfig) string {
	if len(steps) == 0 {
		return "[]"
	}
	b, err := json.Marshal(steps)
	if err != nil {
		return fmt.Sprint(steps)
	}
	return string(b)
}
