package train

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/evaluate"
	"github.com/gocls/gocls/internal/golden"
)

func TestFloatJSON(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0.25, "0.25"},
		{0, "0"},
		{math.NaN(), "null"},
		{math.Inf(1), "null"},
		{math.Inf(-1), "null"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			b, err := json.Marshal(Float(tc.v))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(b))
			var back Float
			require.NoError(t, json.Unmarshal(b, &back))
			if math.IsNaN(tc.v) || math.IsInf(tc.v, 0) {
				require.True(t, math.IsNaN(float64(back)))
			} else {
				require.Equal(t, tc.v, float64(back))
			}
		})
	}
	require.Error(t, json.Unmarshal([]byte(`"x"`), new(Float)))
}

// goldenHistory has an absent validation class and an epoch without
// validation images.
func goldenHistory() []EpochRecord {
	acc := evaluate.NewAccumulator(7)
	acc.Add([]float32{3, 1, 0, 0, 0, 0, 0}, 0)
	acc.Add([]float32{0, 1, 3, 2, 0, 0, 0}, 2)
	acc.Add([]float32{0, 1, 3, 2, 0, 0, 0}, 3)
	r1 := record(1, 10, 0.1, 1.5, 0.25, acc.Metrics(), 7)
	r1.Seconds, r1.ImgPerSec = 12.5, 80
	r2 := record(2, 20, 0.01, 1.25, 0.5, evaluate.NewAccumulator(7).Metrics(), 7)
	r2.Seconds, r2.ImgPerSec = 11, 90.5
	return []EpochRecord{r1, r2}
}

func TestWriteMetricsGolden(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writeMetrics(dir, goldenHistory(), 7))
	for _, name := range []string{"metrics.csv", "metrics.jsonl"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		golden.Check(t, filepath.Join("testdata", name), got)
	}
	// The JSON lines read back (null -> NaN).
	recs := readJSONL(t, filepath.Join(dir, "metrics.jsonl"))
	require.Len(t, recs, 2)
	require.True(t, math.IsNaN(float64(recs[0].ValPerClass[1])), "class 1 is absent")
	require.Equal(t, 0.0, float64(recs[0].ValPerClass[3]))
	require.True(t, math.IsNaN(float64(recs[1].ValTop1)), "no validation images")
}

func TestWriteCurves(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history []EpochRecord
	}{
		{"two epochs", goldenHistory()},
		{"one epoch", goldenHistory()[:1]},
		{"no val top-5", []EpochRecord{record(1, 1, 0.1, 1, 0.5, evaluate.NewAccumulator(3).Metrics(), 3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "curves.png")
			require.NoError(t, writeCurves(p, tc.history))
			f, err := os.Open(p)
			require.NoError(t, err)
			defer f.Close()
			img, err := png.Decode(f)
			require.NoError(t, err)
			require.Greater(t, img.Bounds().Dx(), 300)
		})
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	require.False(t, RunConfig{Progress: "auto"}.ProgressBars(&buf), "not a terminal")
	require.False(t, RunConfig{Progress: "off"}.ProgressBars(os.Stdout))
	require.True(t, RunConfig{Progress: "on"}.ProgressBars(&buf))
	p := newProgress(true, &buf, 1, 3, 8, 0)
	p.add(4, 1, 3, 0.5)
	p.add(4, 1, 3, 0.25)
	p.done()
	require.Contains(t, buf.String(), "epoch 1/3 loss 0.")
	require.Contains(t, buf.String(), "(0/8, 0 img/") // rate unit scales: img/s, img/min, img/hr
	silent := newProgress(false, &buf, 1, 3, 8, 0)
	n := buf.Len()
	silent.add(8, 1, 3, 1)
	silent.done()
	require.Equal(t, n, buf.Len())
}
