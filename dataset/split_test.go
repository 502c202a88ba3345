package dataset

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func fakeSamples(perClass ...int) []Sample {
	var s []Sample
	for c, n := range perClass {
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("c%d/%03d.jpg", c, i)
			s = append(s, Sample{Path: "/x/" + name, Name: name, Label: c})
		}
	}
	// interleave classes so order preservation is tested
	out := make([]Sample, 0, len(s))
	for i := 0; i < len(s); i += 2 {
		out = append(out, s[i])
	}
	for i := 1; i < len(s); i += 2 {
		out = append(out, s[i])
	}
	return out
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name     string
		perClass []int
		ratio    float64
		wantVal  []int // per class
	}{
		{"tenth", []int{100, 50, 7}, 0.1, []int{10, 5, 1}},
		{"tiny classes", []int{1, 2, 3}, 0.1, []int{0, 1, 1}},
		{"half", []int{10, 11}, 0.5, []int{5, 6}},
		{"zero", []int{10, 10}, 0, []int{0, 0}},
		{"almost all", []int{4}, 0.99, []int{3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeSamples(tc.perClass...)
			train, val := Split(s, tc.ratio, 7)
			require.Equal(t, len(s), len(train)+len(val))
			counts := make([]int, len(tc.perClass))
			seen := map[string]bool{}
			for _, v := range val {
				counts[v.Label]++
				seen[v.Name] = true
			}
			for _, tr := range train {
				require.False(t, seen[tr.Name], "sample in both sets")
			}
			require.Equal(t, tc.wantVal, counts)
			// reproducible, and order preserved relative to the input
			train2, val2 := Split(s, tc.ratio, 7)
			require.Equal(t, train, train2)
			require.Equal(t, val, val2)
			require.True(t, isSubsequence(train, s) && isSubsequence(val, s))
		})
	}
	s := fakeSamples(100, 100)
	_, v1 := Split(s, 0.2, 1)
	_, v2 := Split(s, 0.2, 2)
	require.NotEqual(t, v1, v2, "different seeds should give different splits")
}

func isSubsequence(sub, s []Sample) bool {
	j := 0
	for _, x := range s {
		if j < len(sub) && sub[j] == x {
			j++
		}
	}
	return j == len(sub)
}

func TestSaveLoadSplit(t *testing.T) {
	s := fakeSamples(5, 5)
	train, val := Split(s, 0.2, 3)
	src := SplitSource{ListSHA256: "ab", ValRatio: 0.2, Seed: 3, Root: "/x"}
	p := filepath.Join(t.TempDir(), "split.json")
	require.NoError(t, SaveSplit(p, src, train, val))
	src2, tr2, va2, err := LoadSplit(p, "/x")
	require.NoError(t, err)
	require.Equal(t, src, src2)
	require.Equal(t, train, tr2)
	require.Equal(t, val, va2)

	// Names are relative to the root: the data may move.
	_, tr3, _, err := LoadSplit(p, "/y")
	require.NoError(t, err)
	require.Equal(t, filepath.Join("/y", train[0].Name), tr3[0].Path)

	require.NoError(t, SaveSplit(p, src, train, nil))
	_, _, va3, err := LoadSplit(p, "/x")
	require.NoError(t, err)
	require.Empty(t, va3)
}

func TestLoadSplitErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"bad json", "{", "bad.json"},
		{"version", `{"version":3}`, "unsupported split version 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, "bad.json", []byte(tc.content))
			_, _, _, err := LoadSplit(p, dir)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, _, _, err := LoadSplit(filepath.Join(dir, "none.json"), dir)
	require.ErrorContains(t, err, "none.json")
	require.ErrorContains(t, SaveSplit(filepath.Join(dir, "no/such/dir/s.json"), SplitSource{}, nil, nil), "dataset: saving split")
}
