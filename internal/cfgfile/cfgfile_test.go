package cfgfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

type inner struct {
	LR     float64   `yaml:"lr"`
	Values []float64 `yaml:"values"`
	Name   string    `yaml:"name"`
}

type cfg struct {
	Optim inner `yaml:"optim"`
	Seed  int   `yaml:"seed"`
}

func writeTemp(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestLoad(t *testing.T) {
	p := writeTemp(t, "# comment\noptim:\n  lr: 0.5\n")
	c := cfg{Optim: inner{Name: "sgd", LR: 0.1}, Seed: 1}
	require.NoError(t, Load(p, []string{"seed=7", "optim.values=[1, 2.5]"}, &c))
	require.Equal(t, cfg{Optim: inner{Name: "sgd", LR: 0.5, Values: []float64{1, 2.5}}, Seed: 7}, c)
}

func TestSetEmptyValue(t *testing.T) {
	c := cfg{Optim: inner{Name: "sgd"}}
	require.NoError(t, Load("", []string{"optim.name="}, &c))
	require.Equal(t, "", c.Optim.Name)
	require.Error(t, Load("", []string{"seed="}, &c), "an empty value is no int")
}

func TestLoadEmptyFile(t *testing.T) {
	c := cfg{Seed: 3}
	require.NoError(t, Load(writeTemp(t, ""), nil, &c))
	require.Equal(t, 3, c.Seed)
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		sets       []string
		want       []string
	}{
		{"unknown key", "optim:\n  lrr: 1\n", nil, []string{"c.yaml", "field lrr not found"}},
		{"bad type", "seed: many\n", nil, []string{"c.yaml", "line 1", "many"}},
		{"bad yaml", "optim: [\n", nil, []string{"c.yaml"}},
		{"set unknown", "", []string{"optim.momentum=0.9"}, []string{"-set optim.momentum=0.9", "field momentum not found"}},
		{"set no equals", "", []string{"seed"}, []string{"want section.key=value"}},
		{"set bad type", "", []string{"seed=abc"}, []string{"-set seed=abc"}},
		{"set empty segment", "", []string{"optim..lr=1"}, []string{"empty key segment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c cfg
			err := Load(writeTemp(t, tc.body), tc.sets, &c)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	var c cfg
	err := Load("/nonexistent/x.yaml", nil, &c)
	require.ErrorContains(t, err, "/nonexistent/x.yaml")
}
