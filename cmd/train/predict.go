package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/predict"
	"github.com/gocls/gocls/train"
)

// predictSection runs the config's predict section once training is done:
// the run's newest epoch checkpoint classifies predict.images into
// predict.out. It returns the file written, or "" when the config has no
// predict section or the run has no epoch checkpoint yet (run.max_steps
// stopped it inside its first epoch). It lives here, not in train, so that
// train and predict do not import each other.
func predictSection(ctx context.Context, cfg train.Config, runDir string, log io.Writer) (string, error) {
	if cfg.Predict.Images == "" {
		return "", nil
	}
	if _, err := checkpoint.Resolve(runDir, -1); err != nil {
		fmt.Fprintf(log, "predict section skipped: no epoch checkpoint in %s yet\n", runDir)
		return "", nil
	}
	bs := cfg.Predict.BatchSize
	if bs == 0 {
		bs = cfg.Run.BatchSize
	}
	fmt.Fprintf(log, "predicting %s with %s\n", cfg.Predict.Images, runDir)
	_, err := predict.Run(ctx, predict.Options{Checkpoint: runDir, Step: -1, Images: cfg.Predict.Images, Out: cfg.Predict.Out,
		Backend: cfg.Run.Backend, BatchSize: bs, Workers: cfg.Data.Workers, Progress: cfg.Run.ProgressBars(log)}, log)
	if err != nil {
		return "", fmt.Errorf("train: predict section: %w", err)
	}
	return cfg.Predict.Out, nil
}
