package dataset

import (
	"bytes"
	"image/color"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/gocls/gocls/preprocess"
)

func TestConfigYAML(t *testing.T) {
	src := `
root: /data/cat12
train_list: train_list.txt
test_dir: cat_12_test
num_classes: 12
val_ratio: 0.2
split_seed: 7
background: "#000000"
max_pixels: 1000000
workers: 2
prefetch: 3
preprocess:
  - {op: gaussian, ksize: 5}
  - op: filter2d
    kernel: [[0, 1, 0], [1, 1.5, 1], [0, 1, 0]]
augment:
  crop: 160
  random_resized_crop: true
  scale: [0.2, 1.0]
  ratio: [0.75, 1.3333]
  random_crop: false
  padding: 4
  hflip: 0.5
  rotation: 15
  color_jitter: {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}
  auto_augment: ra
  ra_num_ops: 3
  ra_magnitude: 12
eval: {resize_shorter: 256, crop: 224}
`
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(src)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))
	require.NoError(t, cfg.Validate())
	require.Equal(t, 0.2, cfg.ValRatio)
	require.Equal(t, [3]any{"ra", 3, 12}, [3]any{cfg.Augment.AutoAugment, cfg.Augment.RANumOps, cfg.Augment.RAMagnitude})
	require.Equal(t, [2]float64{0.2, 1}, cfg.Augment.Scale)
	require.Equal(t, 0.1, cfg.Augment.Jitter.Hue)
	require.Equal(t, 160, cfg.TrainCrop())
	require.Equal(t, 224, cfg.Eval.Crop)
	require.Equal(t, []preprocess.StepConfig{{"op": "gaussian", "ksize": 5},
		{"op": "filter2d", "kernel": []any{[]any{0, 1, 0}, []any{1, 1.5, 1}, []any{0, 1, 0}}}}, cfg.Preprocess)
	require.Equal(t, color.NRGBA{0, 0, 0, 255}, cfg.DecodeOptions().Background)
	require.Equal(t, 1000000, cfg.DecodeOptions().MaxPixels)
	require.Equal(t, "/data/cat12/train_list.txt", cfg.ListPath())
	require.Equal(t, "/data/cat12/cat_12_test", cfg.TestPath())
	cfg.TestDir = "/abs/test"
	require.Equal(t, "/abs/test", cfg.TestPath())
	cfg.TestDir = "cat_12_test"
	// Round trip.
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	var back Config
	require.NoError(t, yaml.Unmarshal(out, &back))
	require.Equal(t, cfg, back)
}

func TestConfigDefaultsValid(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.Validate())
	require.Equal(t, color.NRGBA{255, 255, 255, 255}, c.DecodeOptions().Background)
	require.Equal(t, 224, c.TrainCrop(), "augment.crop 0 trains on the eval crop")
	c.Eval.Crop = 192
	require.Equal(t, 192, c.TrainCrop())
}

func TestConfigValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"classes", func(c *Config) { c.NumClasses = 0 }, "num_classes must be > 0"},
		{"val ratio", func(c *Config) { c.ValRatio = 1 }, "val_ratio must be in [0,1)"},
		{"background", func(c *Config) { c.Background = "#12345" }, "background"},
		{"workers", func(c *Config) { c.Workers = -1 }, "workers"},
		{"prefetch", func(c *Config) { c.Prefetch = -2 }, "prefetch"},
		{"scale", func(c *Config) { c.Augment.Scale = [2]float64{0.5, 0.1} }, "augment.scale"},
		{"ratio", func(c *Config) { c.Augment.Ratio = [2]float64{0, 1} }, "augment.ratio"},
		{"train crop", func(c *Config) { c.Augment.Crop = -1 }, "augment.crop must be >= 0 (0: eval.crop), got -1"},
		{"padding", func(c *Config) { c.Augment.Padding = -1 }, "augment.padding"},
		{"hflip", func(c *Config) { c.Augment.HFlip = 2 }, "augment.hflip"},
		{"rotation", func(c *Config) { c.Augment.Rotation = 200 }, "augment.rotation"},
		{"jitter", func(c *Config) { c.Augment.Jitter.Brightness = -1 }, "color_jitter"},
		{"hue", func(c *Config) { c.Augment.Jitter.Hue = 0.6 }, "color_jitter.hue"},
		{"auto_augment", func(c *Config) { c.Augment.AutoAugment = "trivialaugment" },
			`augment.auto_augment must be "", "ta_wide" (TrivialAugmentWide) or "ra" (RandAugment), got "trivialaugment"`},
		{"ra_num_ops", func(c *Config) { c.Augment.RANumOps = -1 }, "augment.ra_num_ops must be >= 0, got -1"},
		{"ra_magnitude", func(c *Config) { c.Augment.RAMagnitude = 31 }, "augment.ra_magnitude must be in [0,30], got 31"},
		{"crop", func(c *Config) { c.Eval.Crop = 0 }, "eval.crop"},
		{"resize", func(c *Config) { c.Eval.ResizeShorter = 100 }, "eval.resize_shorter (100) must be >= eval.crop (224)"},
		{"preprocess", func(c *Config) {
			c.Preprocess = []preprocess.StepConfig{{"op": "blur"}, {"op": "gaussian", "ksise": 3}}
		},
			`dataset: config: preprocess: step 2 (gaussian): unknown key "ksise" (valid: ksize, sigma, sigma_y)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			require.ErrorContains(t, err, "dataset: config: ")
			require.ErrorContains(t, err, tc.want)
		})
	}
	// Several problems are reported together.
	c := DefaultConfig()
	c.NumClasses, c.ValRatio = 0, -1
	err := c.Validate()
	require.ErrorContains(t, err, "num_classes")
	require.ErrorContains(t, err, "val_ratio")
}

func TestParseColor(t *testing.T) {
	tests := []struct {
		in   string
		want color.NRGBA
		err  string
	}{
		{"#ffffff", color.NRGBA{255, 255, 255, 255}, ""},
		{"00ff80", color.NRGBA{0, 255, 128, 255}, ""},
		{"#abc", color.NRGBA{0xaa, 0xbb, 0xcc, 255}, ""},
		{"", color.NRGBA{255, 255, 255, 255}, ""},
		{"#ggg", color.NRGBA{}, "want #rrggbb"},
		{"#1234", color.NRGBA{}, "want #rrggbb"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseColor(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
