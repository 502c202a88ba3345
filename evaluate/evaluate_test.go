package evaluate

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/golden"
)

// slowMetrics is the obviously correct version of Accumulator: sort each
// example's classes by score (ties: lower index first) and read off ranks.
func slowMetrics(scores [][]float32, labels []int, classes int) Metrics {
	m := Metrics{N: len(labels), Confusion: make([][]int, classes), PerClass: make([]float64, classes)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, classes)
	}
	top1, top5, loss := 0, 0, 0.0
	for i, s := range scores {
		order := make([]int, classes)
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return s[order[a]] > s[order[b]] })
		for rank, c := range order {
			if c == labels[i] {
				if rank == 0 {
					top1++
				}
				if rank < 5 {
					top5++
				}
			}
		}
		m.Confusion[labels[i]][order[0]]++
		den := 0.0
		for _, v := range s {
			den += math.Exp(float64(v))
		}
		loss -= math.Log(math.Exp(float64(s[labels[i]])) / den)
	}
	m.Top1, m.Top5, m.Loss = float64(top1)/float64(m.N), float64(top5)/float64(m.N), loss/float64(m.N)
	for c := range m.PerClass {
		tot := 0
		for _, v := range m.Confusion[c] {
			tot += v
		}
		m.PerClass[c] = math.NaN()
		if tot > 0 {
			m.PerClass[c] = float64(m.Confusion[c][c]) / float64(tot)
		}
	}
	return m
}

func TestAccumulatorMatchesSlow(t *testing.T) {
	for _, tc := range []struct {
		name         string
		classes, n   int
		levels       int // scores drawn from this many values: few levels give ties
		missingClass bool
	}{
		{"3 classes", 3, 20, 100, false},
		{"12 classes with ties", 12, 50, 3, false},
		{"absent class", 7, 30, 1000, true},
		{"single example", 4, 1, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.classes), uint64(tc.n)))
			acc := NewAccumulator(tc.classes)
			var scores [][]float32
			var labels []int
			for i := 0; i < tc.n; i++ {
				s := make([]float32, tc.classes)
				for j := range s {
					s[j] = float32(rng.IntN(tc.levels))/float32(tc.levels)*8 - 4
				}
				l := rng.IntN(tc.classes)
				if tc.missingClass && l == 0 {
					l = 1
				}
				scores, labels = append(scores, s), append(labels, l)
				acc.Add(s, l)
			}
			got, want := acc.Metrics(), slowMetrics(scores, labels, tc.classes)
			require.Equal(t, want.N, got.N)
			require.Equal(t, want.Confusion, got.Confusion)
			require.InDelta(t, want.Top1, got.Top1, 1e-12)
			require.InDelta(t, want.Top5, got.Top5, 1e-12)
			require.InDelta(t, want.Loss, got.Loss, 1e-9)
			for c := range want.PerClass {
				if math.IsNaN(want.PerClass[c]) {
					require.True(t, math.IsNaN(got.PerClass[c]))
				} else {
					require.InDelta(t, want.PerClass[c], got.PerClass[c], 1e-12)
				}
			}
		})
	}
	m := NewAccumulator(3).Metrics()
	require.Equal(t, 0, m.N)
	require.True(t, math.IsNaN(m.Loss))
}

func TestConfusionCSVGolden(t *testing.T) {
	p := filepath.Join(t.TempDir(), "confusion.csv")
	require.NoError(t, WriteConfusionCSV(p, [][]int{{3, 1, 0}, {0, 2, 2}, {1, 0, 5}}, []string{"cat", "dog"}))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	golden.Check(t, filepath.Join("testdata", "confusion.csv"), got)
}

func TestConfusionPNGEmpty(t *testing.T) {
	dir := t.TempDir()
	err := WriteConfusionPNG(filepath.Join(dir, "c.png"), nil, nil, "")
	require.ErrorContains(t, err, "empty confusion matrix")
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries, "a failed write leaves nothing")
}

func TestConfusionPNG(t *testing.T) {
	for _, n := range []int{1, 3, 12, 30} {
		cm := make([][]int, n)
		for i := range cm {
			cm[i] = make([]int, n)
			cm[i][i] = 5
			cm[i][(i+1)%n]++
		}
		p := filepath.Join(t.TempDir(), "cm.png")
		require.NoError(t, WriteConfusionPNG(p, cm, nil, "test"))
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")))
	}
}
