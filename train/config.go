package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/internal/atomicfile"
	"github.com/gocls/gocls/internal/cfgfile"
	"github.com/gocls/gocls/models/resnet"
)

// Config is a whole training run, as read from a YAML file. Each section
// lives in the package it configures; the YAML keys are the snake_case tags.
// docs/CONFIG.md documents every key.
type Config struct {
	Run       RunConfig       `yaml:"run"`
	Synthetic SyntheticConfig `yaml:"synthetic"`
	Data      dataset.Config  `yaml:"data"`
	Model     ModelConfig     `yaml:"model"`
	Optim     OptimConfig     `yaml:"optim"`
	Mixup     MixupConfig     `yaml:"mixup"`
	Schedule  ScheduleConfig  `yaml:"schedule"`
	Predict   PredictConfig   `yaml:"predict"`
}

// RunConfig holds where a run lives and how long it goes.
type RunConfig struct {
	Name      string `yaml:"name"`       // run directory name under Dir (default "default")
	Dir       string `yaml:"dir"`        // parent of run directories (default "checkpoints")
	Backend   string `yaml:"backend"`    // GoMLX backend: "go" (default), "xla:cpu", "xla:cuda"
	Seed      int64  `yaml:"seed"`       // seeds init, shuffling and augmentation (default 42)
	Epochs    int    `yaml:"epochs"`     // default 10
	BatchSize int    `yaml:"batch_size"` // images per micro-batch (default 32)
	MaxSteps  int    `yaml:"max_steps"`  // stop after this many optimizer steps in total (0: no limit)
	KeepLast  int    `yaml:"keep_last"`  // numbered checkpoints kept (default 3; 0 keeps all; best is always kept)
	Resume    bool   `yaml:"resume"`     // continue from the run directory's latest checkpoint (default true)
	Progress  string `yaml:"progress"`   // progress bar: "auto" (default: only on a terminal), "on", "off"
	Precision string `yaml:"precision"`  // activations: "float32" (default) or "bfloat16" (mixed precision, float32 master weights)
}

// SyntheticConfig makes the run generate a small synthetic dataset in
// data.root first (the quick start uses it; see internal/synth). Zero values
// take the generator's defaults (12 classes, 8 per class, 12 test images, 48 px).
type SyntheticConfig struct {
	Enabled  bool `yaml:"enabled"`
	Classes  int  `yaml:"classes"`
	PerClass int  `yaml:"per_class"`
	Test     int  `yaml:"test"`
	Size     int  `yaml:"size"`
}

// ModelConfig selects the network and its initial weights.
type ModelConfig struct {
	Arch       string        `yaml:"arch"`       // resnet18|34|50|101|152 (default resnet50)
	Layout     resnet.Layout `yaml:"layout"`     // "v1.5" torchvision (default) or "v1" Keras
	Pretrained string        `yaml:"pretrained"` // "", a run/checkpoint directory of this project, or a weights.Open spec ("imagenet", .pth, .safetensors, TF.js)
	// FreezeBackboneEpochs trains only the classifier (fc) for the first K
	// epochs, as a linear probe: the backbone runs in inference mode (its
	// BatchNorm statistics are used, not updated) and gets no gradient
	// (default 0).
	FreezeBackboneEpochs int `yaml:"freeze_backbone_epochs"`
	// TrainableLayers is how many backbone layers, counted from the end
	// (layer4, layer3, layer2, layer1, the stem), the other epochs train
	// besides the classifier (torchvision's trainable_backbone_layers); the
	// rest is frozen as in the frozen epochs (default 5: all).
	TrainableLayers int `yaml:"trainable_layers"`
}

// OptimConfig selects the optimizer, the weight decay and the loss.
type OptimConfig struct {
	Name     string  `yaml:"name"`     // "sgd" (default) or "adamw"
	LR       float64 `yaml:"lr"`       // base learning rate (default 0.1; piecewise uses schedule.values instead)
	Momentum float64 `yaml:"momentum"` // SGD momentum, torch convention, no dampening (default 0.9)
	Nesterov bool    `yaml:"nesterov"` // SGD Nesterov momentum (default false)
	// WeightDecay is, for sgd, the L2 decay of the seed (L2Decay: grad +=
	// coeff*w) and, for adamw, the decoupled decay (w -= lr*coeff*w)
	// (default 1e-4).
	WeightDecay    float64    `yaml:"weight_decay"`
	NoDecayBNBias  bool       `yaml:"no_decay_bn_bias"` // exclude BatchNorm scale/offset and biases from weight decay (default false)
	Betas          [2]float64 `yaml:"betas"`            // AdamW beta1, beta2 (default [0.9, 0.999])
	Eps            float64    `yaml:"eps"`              // AdamW epsilon (default 1e-8)
	BackboneLRMult float64    `yaml:"backbone_lr_mult"` // learning-rate multiplier of everything but fc (default 1)
	AccumSteps     int        `yaml:"accum_steps"`      // micro-batches per optimizer step (default 1)
	LabelSmoothing float64    `yaml:"label_smoothing"`  // target = (1-e)*onehot + e/classes (default 0)
	// ClipGradNorm scales the gradients of a step down so that their global
	// L2 norm is at most this (torch.nn.utils.clip_grad_norm_; default 0: off).
	ClipGradNorm float64 `yaml:"clip_grad_norm"`
	// EMADecay keeps an exponential moving average of the network's weights
	// and BatchNorm statistics (timm ModelEmaV3), on which evaluation, best/
	// and predict run (default 0: off).
	EMADecay  float64 `yaml:"ema_decay"`
	EMAWarmup bool    `yaml:"ema_warmup"` // ModelEmaV3 warm-up: decay min(ema_decay, 1-(1+t)^(-2/3)) at update t (default false)
}

// ScheduleConfig selects the learning-rate schedule. Positions are measured in
// epochs, fractional within an epoch, and the rate is recomputed at every
// optimizer step.
type ScheduleConfig struct {
	Name       string    `yaml:"name"`       // "constant" (default), "piecewise" or "cosine"
	Boundaries []float64 `yaml:"boundaries"` // piecewise: epochs where the rate changes, increasing
	Values     []float64 `yaml:"values"`     // piecewise: len(boundaries)+1 rates
	MinLR      float64   `yaml:"min_lr"`     // cosine: final rate (default 0)
	// WarmupEpochs ramps the rate linearly from WarmupLR to the schedule's
	// value at the end of the warm-up; cosine then decays over the remaining
	// epochs (default 0: no warm-up).
	WarmupEpochs float64 `yaml:"warmup_epochs"`
	WarmupLR     float64 `yaml:"warmup_lr"` // rate at the start of the warm-up (default 0)
}

// PredictConfig, when Images is set, classifies those images with the best
// checkpoint at the end of the run: cmd/train runs package predict once Run
// returns (train does not import predict).
type PredictConfig struct {
	Images    string `yaml:"images"`     // folder of images or list file ("" = no prediction)
	Out       string `yaml:"out"`        // result CSV, "NAME.jpg,class" lines (default "result.csv")
	BatchSize int    `yaml:"batch_size"` // default run.batch_size
}

// DefaultConfig returns the defaults every config file is applied on.
func DefaultConfig() Config {
	return Config{
		Run:   RunConfig{Name: "default", Dir: "checkpoints", Backend: "go", Seed: 42, Epochs: 10, BatchSize: 32, KeepLast: 3, Resume: true, Progress: "auto", Precision: "float32"},
		Data:  dataset.DefaultConfig(),
		Model: ModelConfig{Arch: "resnet50", Layout: resnet.LayoutTorchvision, TrainableLayers: resnet.BackboneLayers},
		Optim: OptimConfig{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8,
			BackboneLRMult: 1, AccumSteps: 1},
		Mixup:    MixupConfig{Prob: 1, SwitchProb: 0.5, Mode: "batch"},
		Schedule: ScheduleConfig{Name: "constant"},
		Predict:  PredictConfig{Out: "result.csv"},
	}
}

// LoadConfig reads a YAML config file over the defaults and applies the
// "-set section.key=value" overrides, then validates the result.
func LoadConfig(path string, sets []string) (Config, error) {
	cfg := DefaultConfig()
	if err := cfgfile.Load(path, sets, &cfg); err != nil {
		// Keep the message on one line even when it quotes a multi-line value.
		return cfg, errors.New(strings.ReplaceAll(err.Error(), "\n", `\n`))
	}
	if err := cfg.Validate(); err != nil {
		if set := blamedSet(err.Error(), sets); set != "" {
			return cfg, fmt.Errorf("config: -set %s: %w", set, err)
		}
		if path != "" {
			return cfg, fmt.Errorf("config: %s: %w", path, err)
		}
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// blamedSet returns the last -set override whose key the validation message
// names (the value in effect came from it, not from the file), or "".
func blamedSet(msg string, sets []string) string {
	for i := len(sets) - 1; i >= 0; i-- {
		key, _, _ := strings.Cut(sets[i], "=")
		if namesKey(msg, strings.TrimSpace(key)) {
			return sets[i]
		}
	}
	return ""
}

// namesKey reports whether msg mentions key as a whole key ("optim.lr" is not
// named by "optim.lr_mult"), or a key under it ("-set data.augment=..."
// answers for "data.augment.scale").
func namesKey(msg, key string) bool {
	if key == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(msg[i:], key)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(key)
		if (start == 0 || !isKeyByte(msg[start-1])) && (end == len(msg) || !isKeyByte(msg[end]) || msg[end] == '.') {
			return true
		}
		i = start + 1
	}
}

func isKeyByte(b byte) bool {
	return b == '_' || b == '.' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// Validate checks every value and returns the first problem as one line.
func (c Config) Validate() error {
	var p problems
	c.Run.check(&p)
	if c.Synthetic.Classes < 0 || c.Synthetic.PerClass < 0 || c.Synthetic.Test < 0 || c.Synthetic.Size < 0 {
		p.add("synthetic sizes must be >= 0")
	}
	c.Model.check(&p)
	c.Optim.check(&p)
	if err := c.Mixup.validate(c.Optim.AccumSteps); err != nil {
		p = append(p, err.Error())
	}
	if err := c.Schedule.validate(c.Run.Epochs); err != nil {
		p = append(p, err.Error())
	}
	if c.Schedule.Name == "cosine" && c.Schedule.MinLR > c.Optim.LR {
		p.add("schedule.min_lr %g is above optim.lr %g: the cosine schedule would raise the rate", c.Schedule.MinLR, c.Optim.LR)
	}
	if c.Predict.BatchSize < 0 {
		p.add("predict.batch_size must be >= 0, got %d", c.Predict.BatchSize)
	}
	if c.Predict.Images != "" && c.Predict.Out == "" {
		p.add("predict.out must be set when predict.images is")
	}
	if err := c.Data.Validate(); err != nil {
		first := strings.SplitN(err.Error(), "\n", 2)[0]
		p = append(p, "data."+strings.TrimPrefix(strings.TrimPrefix(first, "dataset: "), "config: "))
	}
	if len(p) > 0 {
		return errors.New(p[0])
	}
	return nil
}

// problems are a config's problems in the order Validate finds them.
type problems []string

func (p *problems) add(format string, a ...any) { *p = append(*p, fmt.Sprintf(format, a...)) }

// check adds the problems of the run section.
func (c RunConfig) check(p *problems) {
	if c.Name == "" || strings.ContainsAny(c.Name, `/\`) || c.Name == "." || c.Name == ".." {
		p.add("run.name must be a plain directory name, got %q", c.Name)
	}
	if c.Epochs <= 0 {
		p.add("run.epochs must be positive, got %d", c.Epochs)
	}
	if c.BatchSize <= 0 {
		p.add("run.batch_size must be positive, got %d", c.BatchSize)
	}
	if c.MaxSteps < 0 {
		p.add("run.max_steps must be >= 0, got %d", c.MaxSteps)
	}
	if c.KeepLast < 0 {
		p.add("run.keep_last must be >= 0, got %d", c.KeepLast)
	}
	switch c.Precision {
	case "float32", "bfloat16":
	default:
		p.add("run.precision must be float32 or bfloat16, got %q", c.Precision)
	}
	switch c.Progress {
	case "auto", "on", "off":
	default:
		p.add("run.progress must be auto, on or off, got %q", c.Progress)
	}
}

// check adds the problems of the model section.
func (c ModelConfig) check(p *problems) {
	if _, ok := resnet.Variants[c.Arch]; !ok {
		p.add("model.arch %q unknown (valid: %s)", c.Arch, strings.Join(resnet.Names(), ", "))
	}
	if c.Layout != resnet.LayoutTorchvision && c.Layout != resnet.LayoutKeras {
		p.add("model.layout must be %q or %q, got %q", resnet.LayoutTorchvision, resnet.LayoutKeras, c.Layout)
	}
	if c.FreezeBackboneEpochs < 0 {
		p.add("model.freeze_backbone_epochs must be >= 0, got %d", c.FreezeBackboneEpochs)
	}
	if c.TrainableLayers < 0 || c.TrainableLayers > resnet.BackboneLayers {
		p.add("model.trainable_layers must be in 0..%d, got %d", resnet.BackboneLayers, c.TrainableLayers)
	}
}

// check adds the problems of the optim section.
func (o OptimConfig) check(p *problems) {
	switch o.Name {
	case "sgd", "adamw":
	default:
		p.add("optim.name must be sgd or adamw, got %q", o.Name)
	}
	if !(o.LR > 0) {
		p.add("optim.lr must be positive, got %g", o.LR)
	}
	if o.Momentum < 0 || o.Momentum >= 1 {
		p.add("optim.momentum must be in [0,1), got %g", o.Momentum)
	}
	if o.Nesterov && o.Name == "adamw" {
		p.add("optim.nesterov is an sgd option, but optim.name is adamw")
	}
	if o.Nesterov && o.Momentum == 0 {
		p.add("optim.nesterov needs optim.momentum > 0")
	}
	if !(o.WeightDecay >= 0) {
		p.add("optim.weight_decay must be >= 0, got %g", o.WeightDecay)
	}
	if o.Betas[0] < 0 || o.Betas[0] >= 1 || o.Betas[1] < 0 || o.Betas[1] >= 1 {
		p.add("optim.betas must be in [0,1), got %v", o.Betas)
	}
	if !(o.Eps > 0) {
		p.add("optim.eps must be positive, got %g", o.Eps)
	}
	if !(o.BackboneLRMult >= 0) {
		p.add("optim.backbone_lr_mult must be >= 0, got %g", o.BackboneLRMult)
	}
	if o.AccumSteps < 1 {
		p.add("optim.accum_steps must be >= 1, got %d", o.AccumSteps)
	}
	if o.LabelSmoothing < 0 || o.LabelSmoothing >= 1 {
		p.add("optim.label_smoothing must be in [0,1), got %g", o.LabelSmoothing)
	}
	if !(o.ClipGradNorm >= 0) {
		p.add("optim.clip_grad_norm must be >= 0 (0: off), got %g", o.ClipGradNorm)
	}
	if o.EMADecay < 0 || o.EMADecay >= 1 {
		p.add("optim.ema_decay must be in [0,1) (0: off), got %g", o.EMADecay)
	}
	if o.EMAWarmup && o.EMADecay == 0 {
		p.add("optim.ema_warmup needs optim.ema_decay > 0")
	}
}

// CheckPaths checks what Validate cannot without the file system, so that a
// run does not fail only after training: predict.images exists (unless
// synthetic data will be generated under data.root and it lies there) and
// predict.out's directory exists and is writable.
func (c Config) CheckPaths() error {
	if c.Predict.Images == "" {
		return nil
	}
	if !(c.Synthetic.Enabled && isUnder(c.Predict.Images, c.Data.Root)) {
		if _, err := os.Stat(c.Predict.Images); err != nil {
			return fmt.Errorf("config: predict.images: %w", err)
		}
	}
	if err := atomicfile.CheckDir(filepath.Dir(c.Predict.Out)); err != nil {
		return fmt.Errorf("config: predict.out %s: %w", c.Predict.Out, err)
	}
	return nil
}

// isUnder reports whether path is dir or inside it (lexically).
func isUnder(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (s ScheduleConfig) validate(epochs int) error {
	switch s.Name {
	case "constant", "cosine":
		if len(s.Boundaries) > 0 || len(s.Values) > 0 {
			return fmt.Errorf("schedule.boundaries and schedule.values are for the piecewise schedule, not %q", s.Name)
		}
	case "piecewise":
		if len(s.Values) != len(s.Boundaries)+1 {
			return fmt.Errorf("schedule.values must have len(boundaries)+1 = %d entries, got %d", len(s.Boundaries)+1, len(s.Values))
		}
		for i, b := range s.Boundaries {
			if !(b > 0) || (i > 0 && b <= s.Boundaries[i-1]) {
				return fmt.Errorf("schedule.boundaries must be positive and increasing, got %v", s.Boundaries)
			}
		}
		for _, v := range s.Values {
			if !(v >= 0) {
				return fmt.Errorf("schedule.values must be >= 0, got %v", s.Values)
			}
		}
	default:
		return fmt.Errorf("schedule.name must be constant, piecewise or cosine, got %q", s.Name)
	}
	if !(s.MinLR >= 0) {
		return fmt.Errorf("schedule.min_lr must be >= 0, got %g", s.MinLR)
	}
	if s.MinLR != 0 && s.Name != "cosine" {
		return fmt.Errorf("schedule.min_lr is for the cosine schedule, not %q", s.Name)
	}
	if !(s.WarmupEpochs >= 0) || s.WarmupEpochs > float64(epochs) {
		return fmt.Errorf("schedule.warmup_epochs must be in [0, run.epochs=%d], got %g", epochs, s.WarmupEpochs)
	}
	if !(s.WarmupLR >= 0) {
		return fmt.Errorf("schedule.warmup_lr must be >= 0, got %g", s.WarmupLR)
	}
	return nil
}
