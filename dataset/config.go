package dataset

import (
	"errors"
	"fmt"
	"image/color"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gocls/gocls/preprocess"
)

// Config is the `data:` section of the training YAML (snake_case keys).
// DefaultConfig gives the defaults; Validate checks it.
type Config struct {
	Root       string  `yaml:"root"`        // directory the list's paths are relative to
	TrainList  string  `yaml:"train_list"`  // list file, "NAME<TAB>LABEL" lines
	TestDir    string  `yaml:"test_dir"`    // unlabelled images for prediction
	NumClasses int     `yaml:"num_classes"` // labels must be in [0, num_classes)
	ValRatio   float64 `yaml:"val_ratio"`   // fraction of each class held out (default 0.1)
	SplitSeed  int64   `yaml:"split_seed"`
	Background string  `yaml:"background"` // alpha is composited over this "#rrggbb" (default "#ffffff")
	MaxPixels  int     `yaml:"max_pixels"` // header width*height limit (default 100_000_000; <0: none)
	Workers    int     `yaml:"workers"`    // decode+augment goroutines (0: GOMAXPROCS)
	Prefetch   int     `yaml:"prefetch"`   // batches prepared ahead (default 2)

	// Preprocess lists image operations run on each decoded image before
	// augmentation (training) or the resize (evaluation, prediction); see
	// Transform.WithSteps.
	Preprocess []preprocess.StepConfig `yaml:"preprocess"`

	Augment AugmentConfig `yaml:"augment"`
	Eval    EvalConfig    `yaml:"eval"`
}

// AugmentConfig switches and parameterises the training augmentation. The
// pipeline order is: random-resized-crop (or, when off, resize the shorter
// side to the crop size, then random crop with padding if enabled, else centre
// crop) -> horizontal flip -> TrivialAugmentWide or RandAugment -> rotation
// -> colour jitter -> normalisation.
type AugmentConfig struct {
	// Crop is the training crop's side (0: Eval.Crop). ResNet is size-agnostic:
	// training on smaller crops than the 224 evaluation costs about
	// quadratically less per image; see Config.TrainCrop.
	Crop int `yaml:"crop"`

	RandomResizedCrop bool       `yaml:"random_resized_crop"` // default true
	Scale             [2]float64 `yaml:"scale"`               // RRC area fraction range (default [0.08, 1])
	Ratio             [2]float64 `yaml:"ratio"`               // RRC aspect range (default [3/4, 4/3])

	RandomCrop bool `yaml:"random_crop"` // used when random_resized_crop is false
	Padding    int  `yaml:"padding"`     // zero padding on each side for random_crop (default 4)

	HFlip float64 `yaml:"hflip"` // probability of a horizontal flip (default 0.5; 0 off)

	Rotation float64 `yaml:"rotation"` // max degrees of random rotation, uniform in [-r, r] (default 0: off)

	Jitter JitterConfig `yaml:"color_jitter"`

	// AutoAugment is torchvision's TrivialAugmentWide (AutoAugmentTrivialWide,
	// "ta_wide") or RandAugment (AutoAugmentRand, "ra") with 31 magnitude
	// bins, on the 8-bit crop after the flip; "" (default) is off.
	AutoAugment string `yaml:"auto_augment"`
	RANumOps    int    `yaml:"ra_num_ops"`   // RandAugment: operations per image (default 2)
	RAMagnitude int    `yaml:"ra_magnitude"` // RandAugment: magnitude bin in [0,30] (default 9)
}

// JitterConfig is torchvision's ColorJitter: brightness, contrast and
// saturation factors are drawn uniformly from [1-x, 1+x], hue shifts from
// [-Hue, Hue] (Hue <= 0.5); the four are applied in a random order. Zero
// disables each.
type JitterConfig struct {
	Brightness float64 `yaml:"brightness"`
	Contrast   float64 `yaml:"contrast"`
	Saturation float64 `yaml:"saturation"`
	Hue        float64 `yaml:"hue"`
}

// EvalConfig is the evaluation transform: resize the shorter side, then crop
// the centre.
type EvalConfig struct {
	ResizeShorter int `yaml:"resize_shorter"` // default 256
	Crop          int `yaml:"crop"`           // default 224; also the training crop size unless augment.crop is set
}

// DefaultConfig returns the defaults: the cat12 layout (train_list.txt,
// cat_12_test, 12 classes), a 0.1 validation split with seed 42, white
// background, 100 MP limit, 2 batches of prefetch, torchvision-style training
// augmentation (RRC scale [0.08,1] ratio [3/4,4/3], flip 0.5) and 256/224
// evaluation.
func DefaultConfig() Config {
	return Config{
		TrainList:  "train_list.txt",
		TestDir:    "cat_12_test",
		NumClasses: 12,
		ValRatio:   0.1,
		SplitSeed:  42,
		Background: "#ffffff",
		MaxPixels:  DefaultMaxPixels,
		Prefetch:   2,
		Augment: AugmentConfig{
			RandomResizedCrop: true,
			Scale:             [2]float64{0.08, 1},
			Ratio:             [2]float64{3.0 / 4, 4.0 / 3},
			Padding:           4,
			HFlip:             0.5,
			RANumOps:          2,
			RAMagnitude:       9,
		},
		Eval: EvalConfig{ResizeShorter: 256, Crop: 224},
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("dataset: config: "+format, args...)) }
	if c.NumClasses <= 0 {
		bad("num_classes must be > 0, got %d", c.NumClasses)
	}
	if c.ValRatio < 0 || c.ValRatio >= 1 {
		bad("val_ratio must be in [0,1), got %g", c.ValRatio)
	}
	if _, err := ParseColor(c.Background); err != nil {
		bad("background: %v", err)
	}
	if c.Workers < 0 {
		bad("workers must be >= 0, got %d", c.Workers)
	}
	if c.Prefetch < 0 {
		bad("prefetch must be >= 0, got %d", c.Prefetch)
	}
	errs = append(errs, c.Augment.validate()...)
	if _, err := preprocess.ParseSteps(c.Preprocess); err != nil {
		bad("preprocess: %s", strings.TrimPrefix(err.Error(), "preprocess: "))
	}
	if c.Eval.Crop <= 0 {
		bad("eval.crop must be > 0, got %d", c.Eval.Crop)
	}
	if c.Eval.ResizeShorter < c.Eval.Crop {
		bad("eval.resize_shorter (%d) must be >= eval.crop (%d)", c.Eval.ResizeShorter, c.Eval.Crop)
	}
	return errors.Join(errs...)
}

// validate checks the augmentation settings; the errors name the keys.
func (a AugmentConfig) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("dataset: config: "+format, args...)) }
	if a.RandomResizedCrop {
		if !(a.Scale[0] > 0 && a.Scale[0] <= a.Scale[1] && a.Scale[1] <= 1) {
			bad("augment.scale must satisfy 0 < min <= max <= 1, got %v", a.Scale)
		}
		if !(a.Ratio[0] > 0 && a.Ratio[0] <= a.Ratio[1]) {
			bad("augment.ratio must satisfy 0 < min <= max, got %v", a.Ratio)
		}
	}
	if a.Crop < 0 {
		bad("augment.crop must be >= 0 (0: eval.crop), got %d", a.Crop)
	}
	if a.Padding < 0 {
		bad("augment.padding must be >= 0, got %d", a.Padding)
	}
	if a.HFlip < 0 || a.HFlip > 1 {
		bad("augment.hflip must be a probability, got %g", a.HFlip)
	}
	if a.Rotation < 0 || a.Rotation > 180 {
		bad("augment.rotation must be in [0,180] degrees, got %g", a.Rotation)
	}
	j := a.Jitter
	if j.Brightness < 0 || j.Contrast < 0 || j.Saturation < 0 {
		bad("augment.color_jitter brightness/contrast/saturation must be >= 0")
	}
	if j.Hue < 0 || j.Hue > 0.5 {
		bad("augment.color_jitter.hue must be in [0,0.5], got %g", j.Hue)
	}
	switch a.AutoAugment {
	case "", AutoAugmentTrivialWide, AutoAugmentRand:
	default:
		bad("augment.auto_augment must be \"\", %q (TrivialAugmentWide) or %q (RandAugment), got %q",
			AutoAugmentTrivialWide, AutoAugmentRand, a.AutoAugment)
	}
	if a.RANumOps < 0 {
		bad("augment.ra_num_ops must be >= 0, got %d", a.RANumOps)
	}
	if a.RAMagnitude < 0 || a.RAMagnitude >= autoBins {
		bad("augment.ra_magnitude must be in [0,%d], got %d", autoBins-1, a.RAMagnitude)
	}
	return errs
}

// TrainCrop is the side of the training crops: Augment.Crop, or Eval.Crop
// when that is 0.
func (c Config) TrainCrop() int {
	if c.Augment.Crop > 0 {
		return c.Augment.Crop
	}
	return c.Eval.Crop
}

// DecodeOptions returns the decoding options of the config. Call Validate
// first: an unparsable background falls back to white.
func (c Config) DecodeOptions() DecodeOptions {
	bg, err := ParseColor(c.Background)
	if err != nil {
		bg = color.NRGBA{255, 255, 255, 255}
	}
	return DecodeOptions{Background: bg, MaxPixels: c.MaxPixels}
}

// ListPath is TrainList resolved against Root (unless absolute).
func (c Config) ListPath() string { return resolve(c.Root, c.TrainList) }

// TestPath is TestDir resolved against Root (unless absolute).
func (c Config) TestPath() string { return resolve(c.Root, c.TestDir) }

func resolve(root, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// ParseColor parses "#rrggbb" or "#rgb" (the '#' is optional; "" is white).
func ParseColor(s string) (color.NRGBA, error) {
	h := strings.TrimPrefix(strings.TrimSpace(s), "#")
	if h == "" {
		return color.NRGBA{255, 255, 255, 255}, nil
	}
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		return color.NRGBA{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return color.NRGBA{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	return color.NRGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}, nil
}
