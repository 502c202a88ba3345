package train

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/internal/cfgfile"
	"github.com/gocls/gocls/models/resnet"
)

// Config is a whole training run, as read from a YAML file. Each section
// lives in the package it configures; the YAML keys are the snake_case tags.
type Config struct {
	Run       RunConfig       `yaml:"run"`
	Synthetic SyntheticConfig `yaml:"synthetic"`
	Data      dataset.Config  `yaml:"data"`
	Model     ModelConfig     `yaml:"model"`
	Optim     OptimConfig     `yaml:"optim"`
	Schedule  ScheduleConfig  `yaml:"schedule"`
}

// RunConfig holds where a run lives and how long it goes.
type RunConfig struct {
	Name      string `yaml:"name"`       // run directory name under Dir (default "default")
	Dir       string `yaml:"dir"`        // parent of run directories (default "checkpoints")
	Backend   string `yaml:"backend"`    // GoMLX backend: "go" (default), "xla:cpu", "xla:cuda"
	Seed      int64  `yaml:"seed"`       // seeds init, shuffling and augmentation (default 42)
	Epochs    int    `yaml:"epochs"`     // default 10
	BatchSize int    `yaml:"batch_size"` // default 32
	MaxSteps  int    `yaml:"max_steps"`  // stop after this many optimizer steps in total (0: no limit)
	KeepLast  int    `yaml:"keep_last"`  // numbered checkpoints kept (default 3; best is always kept)
	Resume    bool   `yaml:"resume"`     // continue from the run directory's latest checkpoint (default true)
}

// SyntheticConfig makes the run generate a small synthetic dataset in
// data.root first (the quick start uses it; see internal/synth).
type SyntheticConfig struct {
	Enabled  bool `yaml:"enabled"`
	Classes  int  `yaml:"classes"`
	PerClass int  `yaml:"per_class"`
	Test     int  `yaml:"test"`
	Size     int  `yaml:"size"`
}

// ModelConfig selects the network.
type ModelConfig struct {
	Arch       string        `yaml:"arch"`       // resnet18|34|50|101|152 (default resnet50)
	Layout     resnet.Layout `yaml:"layout"`     // "v1.5" torchvision (default) or "v1" Keras
	Pretrained string        `yaml:"pretrained"` // "", "imagenet", a weight file, or a run/checkpoint directory
}

// OptimConfig selects the optimizer.
type OptimConfig struct {
	Name        string  `yaml:"name"`         // "sgd" (default) or "adamw"
	LR          float64 `yaml:"lr"`           // base learning rate (default 0.1)
	Momentum    float64 `yaml:"momentum"`     // SGD momentum (default 0.9)
	Nesterov    bool    `yaml:"nesterov"`     // SGD Nesterov momentum
	WeightDecay float64 `yaml:"weight_decay"` // L2 decay coefficient (default 1e-4)
}

// ScheduleConfig selects the learning-rate schedule.
type ScheduleConfig struct {
	Name string `yaml:"name"` // "constant" (default)
}

// DefaultConfig returns the defaults every config file is applied on.
func DefaultConfig() Config {
	return Config{
		Run:      RunConfig{Name: "default", Dir: "checkpoints", Backend: "go", Seed: 42, Epochs: 10, BatchSize: 32, KeepLast: 3, Resume: true},
		Data:     dataset.DefaultConfig(),
		Model:    ModelConfig{Arch: "resnet50", Layout: resnet.LayoutTorchvision},
		Optim:    OptimConfig{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4},
		Schedule: ScheduleConfig{Name: "constant"},
	}
}

// LoadConfig reads a YAML config file over the defaults and applies the
// "-set section.key=value" overrides, then validates the result.
func LoadConfig(path string, sets []string) (Config, error) {
	cfg := DefaultConfig()
	if err := cfgfile.Load(path, sets, &cfg); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return cfg, fmt.Errorf("config: %s: %w", path, err)
		}
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Validate checks every value and returns the first problem as one line.
func (c Config) Validate() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.Run.Name == "" || strings.ContainsAny(c.Run.Name, `/\`) {
		bad("run.name must be a plain directory name, got %q", c.Run.Name)
	}
	if c.Run.Epochs <= 0 {
		bad("run.epochs must be positive, got %d", c.Run.Epochs)
	}
	if c.Run.BatchSize <= 0 {
		bad("run.batch_size must be positive, got %d", c.Run.BatchSize)
	}
	if c.Run.MaxSteps < 0 {
		bad("run.max_steps must be >= 0, got %d", c.Run.MaxSteps)
	}
	if _, ok := resnet.Variants[c.Model.Arch]; !ok {
		bad("model.arch %q unknown (valid: %s)", c.Model.Arch, strings.Join(resnet.Names(), ", "))
	}
	if c.Model.Layout != resnet.LayoutTorchvision && c.Model.Layout != resnet.LayoutKeras {
		bad("model.layout must be %q or %q, got %q", resnet.LayoutTorchvision, resnet.LayoutKeras, c.Model.Layout)
	}
	switch c.Optim.Name {
	case "sgd", "adamw":
	default:
		bad("optim.name must be sgd or adamw, got %q", c.Optim.Name)
	}
	if !(c.Optim.LR > 0) {
		bad("optim.lr must be positive, got %g", c.Optim.LR)
	}
	if c.Optim.Momentum < 0 || c.Optim.Momentum >= 1 {
		bad("optim.momentum must be in [0,1), got %g", c.Optim.Momentum)
	}
	if c.Optim.WeightDecay < 0 {
		bad("optim.weight_decay must be >= 0, got %g", c.Optim.WeightDecay)
	}
	switch c.Schedule.Name {
	case "constant":
	default:
		bad("schedule.name %q unknown", c.Schedule.Name)
	}
	if err := c.Data.Validate(); err != nil {
		errs = append(errs, strings.TrimPrefix(err.Error(), "dataset: "))
	}
	if len(errs) > 0 {
		return errors.New(errs[0])
	}
	return nil
}
