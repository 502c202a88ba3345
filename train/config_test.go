package train

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/gocls/gocls/internal/cfgfile"
	"github.com/gocls/gocls/internal/devdata"
)

// repoRoot returns the module root.
func repoRoot(t testing.TB) string { t.Helper(); return devdata.RepoRoot(t) }

func TestScheduleValues(t *testing.T) {
	piecewise := ScheduleConfig{Name: "piecewise", Boundaries: []float64{2, 4}, Values: []float64{0.1, 0.01, 0.001}}
	cosine := ScheduleConfig{Name: "cosine"}
	warmCosine := ScheduleConfig{Name: "cosine", WarmupEpochs: 2, MinLR: 0.001}
	warmPiecewise := piecewise
	warmPiecewise.WarmupEpochs, warmPiecewise.WarmupLR = 1, 0.01
	for _, tc := range []struct {
		name string
		s    ScheduleConfig
		t    float64
		want float64
	}{
		{"constant start", ScheduleConfig{Name: "constant"}, 0, 0.1},
		{"constant late", ScheduleConfig{Name: "constant"}, 9.5, 0.1},
		{"piecewise first", piecewise, 0, 0.1},
		{"piecewise before boundary", piecewise, 1.99, 0.1},
		{"piecewise at boundary", piecewise, 2, 0.01},
		{"piecewise middle", piecewise, 3.5, 0.01},
		{"piecewise last", piecewise, 4, 0.001},
		{"piecewise after end", piecewise, 12, 0.001},
		{"cosine start", cosine, 0, 0.1},
		{"cosine quarter", cosine, 2.5, 0.05 * (1 + 0.7071067811865476)},
		{"cosine half", cosine, 5, 0.05},
		{"cosine end", cosine, 10, 0},
		{"warm cosine start", warmCosine, 0, 0},
		{"warm cosine mid warm-up", warmCosine, 1, 0.05},
		{"warm cosine end of warm-up", warmCosine, 2, 0.1},
		{"warm cosine half of decay", warmCosine, 6, 0.001 + (0.1-0.001)/2},
		{"warm cosine end", warmCosine, 10, 0.001},
		{"warm piecewise start", warmPiecewise, 0, 0.01},
		{"warm piecewise mid warm-up", warmPiecewise, 0.5, 0.055},
		{"warm piecewise after warm-up", warmPiecewise, 1, 0.1},
		{"warm piecewise boundary", warmPiecewise, 2, 0.01},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.s.validate(10))
			require.InDelta(t, tc.want, tc.s.LearningRate(tc.t, 10, 0.1), 1e-12)
		})
	}
}

func TestConfigFilesLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "configs", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := LoadConfig(f, nil)
			require.NoError(t, err)
		})
	}
}

// The cat12 recipes: the seed's kept as it was, the GPU recipe changing only
// what issue 17 measured, the CPU recipe a linear probe then layer4 alone
// fine-tuned, with TrivialAugment, at its 224 evaluation size.
func TestCat12Recipes(t *testing.T) {
	load := func(name string) Config {
		cfg, err := LoadConfig(filepath.Join(repoRoot(t), "configs", name), nil)
		require.NoError(t, err)
		return cfg
	}
	seed, gpu, cpu := load("cat12_resnet50_seed.yaml"), load("cat12_resnet50.yaml"), load("cat12_resnet50_cpu.yaml")
	require.Equal(t, ScheduleConfig{Name: "piecewise", Boundaries: []float64{10, 20}, Values: []float64{0.01, 0.001, 0.0001}},
		seed.Schedule)
	require.Equal(t, 30, seed.Run.Epochs)
	require.Equal(t, DefaultConfig().Data.Augment, seed.Data.Augment)
	require.Equal(t, DefaultConfig().Optim.BackboneLRMult, seed.Optim.BackboneLRMult)

	want := seed
	want.Run.Name = gpu.Run.Name
	want.Schedule = ScheduleConfig{Name: "cosine", WarmupEpochs: 1}
	want.Optim.BackboneLRMult, want.Optim.LabelSmoothing = 0.1, 0.1
	want.Data.Augment.Scale = [2]float64{0.25, 1}
	require.Equal(t, want, gpu)

	require.Equal(t, 224, cpu.Data.Eval.Crop)
	require.Equal(t, cpu.Data.Eval.Crop, cpu.Data.TrainCrop())
	require.Less(t, cpu.Model.FreezeBackboneEpochs, cpu.Run.Epochs, "probe epochs, then fine-tuning")
	require.Equal(t, 1, cpu.Model.TrainableLayers, "layer4 only")
	require.Equal(t, "ta_wide", cpu.Data.Augment.AutoAugment)
}

func TestLoadConfigOverrides(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte("# test\nrun:\n  epochs: 4\nschedule:\n  name: piecewise\n  boundaries: [2]\n  values: [0.1, 0.01]\n"), 0o644))
	cfg, err := LoadConfig(p, []string{"optim.name=adamw", "optim.betas=[0.8, 0.9]", "model.freeze_backbone_epochs=1",
		"data.augment.crop=160"})
	require.NoError(t, err)
	require.Equal(t, 4, cfg.Run.Epochs)
	require.Equal(t, []float64{0.1, 0.01}, cfg.Schedule.Values)
	require.Equal(t, "adamw", cfg.Optim.Name)
	require.Equal(t, [2]float64{0.8, 0.9}, cfg.Optim.Betas)
	require.Equal(t, 1, cfg.Model.FreezeBackboneEpochs)
	require.Equal(t, 160, cfg.Data.TrainCrop())
	require.Equal(t, 224, cfg.Data.Eval.Crop, "the training crop leaves evaluation's")
	require.Equal(t, 1e-4, cfg.Optim.WeightDecay, "defaults stay")
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		sets []string
		want []string
	}{
		{"unknown key", "optim:\n  lrr: 1\n", nil, []string{"c.yaml", "lrr"}},
		{"unknown section", "trainer:\n  epochs: 1\n", nil, []string{"c.yaml", "trainer"}},
		{"bad epochs", "run:\n  epochs: 0\n", nil, []string{"c.yaml", "run.epochs must be positive"}},
		{"bad run name", "run:\n  name: a/b\n", nil, []string{"run.name"}},
		{"bad progress", "run:\n  progress: maybe\n", nil, []string{"run.progress"}},
		{"bad arch", "model:\n  arch: resnet19\n", nil, []string{"model.arch", "resnet18"}},
		{"bad layout", "model:\n  layout: v2\n", nil, []string{"model.layout"}},
		{"negative trainable layers", "model:\n  trainable_layers: -1\n", nil, []string{"c.yaml", "model.trainable_layers must be in 0..5, got -1"}},
		{"too many trainable layers", "model:\n  trainable_layers: 6\n", nil, []string{"model.trainable_layers must be in 0..5, got 6"}},
		{"bad optimizer", "optim:\n  name: lamb\n", nil, []string{"optim.name"}},
		{"negative lr", "optim:\n  lr: -1\n", nil, []string{"optim.lr"}},
		{"nesterov without momentum", "optim:\n  nesterov: true\n  momentum: 0\n", nil, []string{"optim.nesterov"}},
		{"bad accum", "optim:\n  accum_steps: 0\n", nil, []string{"optim.accum_steps"}},
		{"bad smoothing", "optim:\n  label_smoothing: 1\n", nil, []string{"optim.label_smoothing"}},
		{"bad clip", "optim:\n  clip_grad_norm: -1\n", nil, []string{"optim.clip_grad_norm"}},
		{"bad ema decay", "optim:\n  ema_decay: 1\n", nil, []string{"optim.ema_decay"}},
		{"ema warmup without ema", "optim:\n  ema_warmup: true\n", nil, []string{"optim.ema_warmup"}},
		{"bad mixup alpha", "mixup:\n  mixup_alpha: -1\n", nil, []string{"mixup.mixup_alpha"}},
		{"bad cutmix alpha", "mixup:\n  cutmix_alpha: -1\n", nil, []string{"mixup.cutmix_alpha"}},
		{"bad mixup prob", "mixup:\n  prob: 2\n", nil, []string{"mixup.prob"}},
		{"bad switch prob", "mixup:\n  switch_prob: -0.5\n", nil, []string{"mixup.switch_prob"}},
		{"bad mixup mode", "mixup:\n  mode: elem\n", nil, []string{"mixup.mode"}},
		{"mixup with accumulation", "mixup:\n  mixup_alpha: 0.8\noptim:\n  accum_steps: 2\n", nil, []string{"optim.accum_steps 1"}},
		{"bad betas", "optim:\n  betas: [1, 0.9]\n", nil, []string{"optim.betas"}},
		{"bad schedule", "schedule:\n  name: step\n", nil, []string{"schedule.name"}},
		{"piecewise counts", "schedule:\n  name: piecewise\n  boundaries: [3]\n  values: [0.1]\n", nil, []string{"schedule.values", "2 entries"}},
		{"piecewise order", "schedule:\n  name: piecewise\n  boundaries: [3, 2]\n  values: [0.1, 0.01, 0.001]\n", nil, []string{"increasing"}},
		{"values without piecewise", "schedule:\n  values: [0.1]\n", nil, []string{"piecewise"}},
		{"warm-up too long", "run:\n  epochs: 2\nschedule:\n  warmup_epochs: 3\n", nil, []string{"schedule.warmup_epochs"}},
		{"bad data", "data:\n  val_ratio: 1.5\n", nil, []string{"data.val_ratio"}},
		{"bad set", "", []string{"optim.lr=abc"}, []string{"-set optim.lr=abc"}},
		{"predict without out", "predict:\n  images: x\n  out: \"\"\n", nil, []string{"predict.out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(p, []byte(tc.body), 0o644))
			_, err := LoadConfig(p, tc.sets)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

// TestEveryKeyDocumented: every key of the config appears, as its dotted
// path, in docs/CONFIG.md.
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "CONFIG.md"))
	require.NoError(t, err)
	b, err := cfgfile.Marshal(DefaultConfig())
	require.NoError(t, err)
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal(b, &root))
	var keys []string
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		if n.Kind == yaml.DocumentNode {
			walk(prefix, n.Content[0])
			return
		}
		if n.Kind != yaml.MappingNode {
			keys = append(keys, prefix)
			return
		}
		for i := 0; i < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if prefix != "" {
				k = prefix + "." + k
			}
			walk(k, n.Content[i+1])
		}
	}
	walk("", &root)
	sort.Strings(keys)
	require.Greater(t, len(keys), 50)
	var missing []string
	for _, k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			missing = append(missing, k)
		}
	}
	require.Empty(t, missing, "keys not documented in docs/CONFIG.md")
}

// FuzzLoadConfig: any file content gives a config or a one-line error,
// never a panic.
func FuzzLoadConfig(f *testing.F) {
	for _, seed := range []string{"", "run:\n  epochs: 3\n", "schedule:\n  name: piecewise\n  boundaries: [1]\n  values: [0.1, 0.01]\n",
		"optim: [1, 2]\n", "data:\n  augment:\n    scale: [0.5]\n", "run: {epochs: -1e400}\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		cfg, err := LoadConfig(p, nil)
		if err != nil {
			require.NotContains(t, err.Error(), "\n")
			return
		}
		require.NoError(t, cfg.Validate())
	})
}
