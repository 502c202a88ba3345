package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/train"
)

// loopBench trains c.model for c.epochs epochs on the list-file dataset in
// c.data with the real loader and training loop (train.Run, in a temporary
// run directory) and returns the training img/s of the last epoch (the
// first one includes compilation). The run's log goes to log.
func loopBench(c config, log io.Writer) (float64, error) {
	dir, err := os.MkdirTemp("", "gocls-bench-")
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg := train.DefaultConfig()
	cfg.Run.Name, cfg.Run.Dir, cfg.Run.Resume, cfg.Run.Progress = "bench", dir, false, "off"
	cfg.Run.Backend, cfg.Run.BatchSize, cfg.Run.Epochs, cfg.Run.Precision = c.backend, c.batch, c.epochs, c.precision
	cfg.Model.Arch, cfg.Model.Layout = c.model, resnet.Layout(c.layout)
	cfg.Optim.LR = c.learningRate
	cfg.Data.Root, cfg.Data.NumClasses, cfg.Data.Workers = c.data, c.classes, c.workers
	cfg.Data.Eval.Crop, cfg.Data.Eval.ResizeShorter = c.size, c.size*8/7 // 224 -> 256
	cfg.Predict.Images = ""
	res, err := train.Run(context.Background(), cfg, log)
	if err != nil {
		return 0, fmt.Errorf("bench: -data %s: %w", c.data, err)
	}
	return float64(res.History[len(res.History)-1].ImgPerSec), nil
}

// listClasses returns 1 + the largest label of the list file in dir
// (train_list.txt, "NAME<TAB>LABEL" lines; train.Run checks the rest).
func listClasses(dir string) (int, error) {
	path := filepath.Join(dir, "train_list.txt")
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("bench: -data: %w", err)
	}
	defer f.Close()
	classes := 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		label, err := strconv.Atoi(fields[len(fields)-1])
		if err != nil || label < 0 {
			return 0, fmt.Errorf("bench: -data: %s:%d: want NAME<TAB>LABEL, got %q", path, line, sc.Text())
		}
		classes = max(classes, label+1)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench: -data: %s: %w", path, err)
	}
	if classes == 0 {
		return 0, fmt.Errorf("bench: -data: %s has no labelled images", path)
	}
	return classes, nil
}
