package train

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidateCrossKeyRules: combinations of keys that are each valid alone
// but wrong together are errors naming both keys.
func TestValidateCrossKeyRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"cosine min_lr above lr", func(c *Config) { c.Schedule.Name, c.Schedule.MinLR, c.Optim.LR = "cosine", 0.5, 0.1 },
			[]string{"schedule.min_lr 0.5", "optim.lr 0.1", "raise the rate"}},
		{"min_lr without cosine", func(c *Config) { c.Schedule.MinLR = 0.01 },
			[]string{"schedule.min_lr", `not "constant"`}},
		{"nesterov with adamw", func(c *Config) { c.Optim.Name, c.Optim.Nesterov = "adamw", true },
			[]string{"optim.nesterov", "optim.name is adamw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	c := DefaultConfig()
	c.Schedule.Name, c.Schedule.MinLR, c.Optim.LR = "cosine", 0.1, 0.1
	require.NoError(t, c.Validate(), "min_lr == lr is a constant rate, not a rising one")
	c = DefaultConfig()
	c.Optim.Nesterov = true
	require.NoError(t, c.Validate(), "nesterov with sgd")
}

// TestLoadConfigBlamesSet: a value that fails validation is reported against
// the -set flag that gave it, not against the config file.
func TestLoadConfigBlamesSet(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte("schedule:\n  name: cosine\n  min_lr: 0.05\nrun:\n  epochs: 3\n"), 0o644))
	for _, tc := range []struct {
		name          string
		sets          []string
		want, notWant string
	}{
		{"set value", []string{"optim.lr=-1"}, "config: -set optim.lr=-1: optim.lr must be positive", p},
		{"set part of a two-key rule", []string{"optim.lr=0.01"}, "config: -set optim.lr=0.01: schedule.min_lr 0.05 is above optim.lr 0.01", p},
		{"last set wins", []string{"optim.lr=-1", "optim.lr=-2"}, "config: -set optim.lr=-2:", "-set optim.lr=-1"},
		{"data key", []string{"data.num_classes=0"}, "config: -set data.num_classes=0: data.num_classes", p},
		{"run key", []string{"run.epochs=0"}, "config: -set run.epochs=0: run.epochs must be positive", p},
		{"a longer key is not the set key", []string{"schedule.warmup_lr=0.5", "run.epochs=1", "schedule.warmup_epochs=2"},
			"config: -set schedule.warmup_epochs=2: schedule.warmup_epochs", "warmup_lr=0.5:"},
		{"file value, unrelated set", []string{"optim.momentum=0.5", "optim.lr=0.01", "schedule.min_lr=0.05"},
			"config: -set schedule.min_lr=0.05:", p},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(p, tc.sets)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), tc.notWant)
		})
	}
	_, err := LoadConfig(p, []string{"optim.lr=0.01", "optim.lr=1"})
	require.NoError(t, err)
	_, err = LoadConfig(p, []string{"optim.momentum=0.5", "optim.nesterov=true", "optim.lr=0.01", "run.epochs=2"})
	require.EqualError(t, err, "config: -set optim.lr=0.01: schedule.min_lr 0.05 is above optim.lr 0.01: the cosine schedule would raise the rate")
	require.NoError(t, os.WriteFile(p, []byte("optim:\n  lr: -1\n"), 0o644))
	_, err = LoadConfig(p, []string{"optim.momentum=0.5"})
	require.ErrorContains(t, err, "config: "+p+": optim.lr must be positive", "a bad value from the file still names the file")
}

func TestCheckPaths(t *testing.T) {
	dir := t.TempDir()
	c := DefaultConfig()
	require.NoError(t, c.CheckPaths(), "no predict section")
	c.Predict.Images, c.Predict.Out = filepath.Join(dir, "test"), filepath.Join(dir, "r.csv")
	require.ErrorContains(t, c.CheckPaths(), "config: predict.images: stat "+filepath.Join(dir, "test"))
	c.Synthetic.Enabled, c.Data.Root = true, dir
	require.NoError(t, c.CheckPaths(), "synthetic data generated under data.root at the start of the run")
	c.Data.Root = filepath.Join(dir, "other")
	require.ErrorContains(t, c.CheckPaths(), "predict.images", "outside data.root nothing generates it")
	c.Synthetic.Enabled = false
	require.NoError(t, os.Mkdir(c.Predict.Images, 0o755))
	require.NoError(t, c.CheckPaths())
	c.Predict.Out = filepath.Join(dir, "no", "r.csv")
	require.EqualError(t, c.CheckPaths(), "config: predict.out "+c.Predict.Out+": output directory "+filepath.Join(dir, "no")+" does not exist")
}
