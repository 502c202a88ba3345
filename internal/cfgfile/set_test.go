package cfgfile

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type setCfg struct {
	S  string    `yaml:"s"`
	N  int       `yaml:"n"`
	F  []float64 `yaml:"f"`
	B  bool      `yaml:"b"`
	SS []string  `yaml:"ss"`
}

// TestSetTrickyValues: a value that YAML would read as something other than
// what was written (a comment, a null, a mapping) is taken literally or is an
// error, never silently dropped.
func TestSetTrickyValues(t *testing.T) {
	base := setCfg{S: "old", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}
	for _, tc := range []struct {
		set  string
		want setCfg
	}{
		{"s=#000000", setCfg{S: "#000000", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"s=red # not a comment", setCfg{S: "red # not a comment", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"s=a: b", setCfg{S: "a: b", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"s=[1,2]", setCfg{S: "[1,2]", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"s=[1,2", setCfg{S: "[1,2", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"s='quoted'", setCfg{S: "quoted", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"s=", setCfg{S: "", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"s=  ", setCfg{S: "", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"s=12", setCfg{S: "12", N: 7, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"f=[1,2]", setCfg{S: "old", N: 7, F: []float64{1, 2}, B: true, SS: []string{"x"}}},
		{"ss=[a, '#b']", setCfg{S: "old", N: 7, F: []float64{9}, B: true, SS: []string{"a", "#b"}}},
		{"n=0x10", setCfg{S: "old", N: 16, F: []float64{9}, B: true, SS: []string{"x"}}},
		{"b=false", setCfg{S: "old", N: 7, F: []float64{9}, B: false, SS: []string{"x"}}},
	} {
		t.Run(tc.set, func(t *testing.T) {
			c := base
			c.F = append([]float64(nil), base.F...)
			c.SS = append([]string(nil), base.SS...)
			require.NoError(t, Set(tc.set, &c))
			require.Equal(t, tc.want, c)
		})
	}
}

func TestSetTrickyValueErrors(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want []string
	}{
		{"s=~", []string{"-set s=~", "YAML null", "s unchanged"}},
		{"s=null", []string{"-set s=null", "YAML null"}},
		{"n=~", []string{"-set n=~", "YAML null"}},
		{"n=#5", []string{"-set n=#5", "cannot unmarshal !!str `#5` into int"}},
		{"n=", []string{"-set n=", "into int"}},
		{"n=a: b", []string{"-set n=a: b", "cannot unmarshal !!map into int"}},
		{"f=a: b", []string{"-set f=a: b", "cannot unmarshal !!map into []float64"}},
		{"f=#1", []string{"-set f=#1", "into []float64"}},
		{"n=[1", []string{"-set n=[1", "bad value"}},
		{"nope=1", []string{"-set nope=1", "field nope not found"}},
	} {
		t.Run(tc.set, func(t *testing.T) {
			c := setCfg{S: "old", N: 7}
			err := Set(tc.set, &c)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "line ", "line numbers of the generated YAML mean nothing to the user")
			require.NotContains(t, err.Error(), "\n")
			require.Equal(t, "old", c.S)
			require.Equal(t, 7, c.N)
		})
	}
}
