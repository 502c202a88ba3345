package predict

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/internal/golden"
)

func TestPredictionTop(t *testing.T) {
	p := Prediction{LogProbs: logs(0.2, 0.5, 0.2, 0.1)}
	require.Equal(t, 1, p.Class())
	cls, probs := p.Top(10)
	require.Equal(t, []int{1, 0, 2, 3}, cls, "ties keep the lower index first")
	require.InDeltaSlice(t, []float64{0.5, 0.2, 0.2, 0.1}, probs, 1e-6)
	cls, _ = p.Top(2)
	require.Equal(t, []int{1, 0}, cls)
}

func logs(p ...float64) []float32 {
	out := make([]float32, len(p))
	for i, v := range p {
		out[i] = float32(math.Log(v))
	}
	return out
}

// goldenPreds are hand-made predictions, deliberately out of order and with
// directories in their names.
func goldenPreds() []Prediction {
	return []Prediction{
		{Name: "dir/b.jpg", Path: "/x/dir/b.jpg", LogProbs: logs(0.1, 0.7, 0.2)},
		{Name: "a.jpg", Path: "/x/a.jpg", LogProbs: logs(0.6, 0.3, 0.1)},
		{Name: "C.jpg", Path: "/x/C.jpg", LogProbs: logs(0.25, 0.25, 0.5)},
		{Name: "a,comma.jpg", Path: "/x/a,comma.jpg", LogProbs: logs(0.3, 0.3, 0.4)},
	}
}

func TestWritersGolden(t *testing.T) {
	dir := t.TempDir()
	preds := goldenPreds()
	for _, tc := range []struct {
		golden string
		write  func(path string) error
	}{
		{"result.csv", func(p string) error { return WriteResultCSV(p, preds[:3]) }},
		{"topk.csv", func(p string) error { return WriteTopKCSV(p, preds, 2) }},
		{"out.jsonl", func(p string) error {
			var buf bytes.Buffer
			if err := WriteJSONL(&buf, preds, 2, []string{"zero", "one", "two"}); err != nil {
				return err
			}
			return os.WriteFile(p, buf.Bytes(), 0o644)
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			p := filepath.Join(dir, tc.golden)
			require.NoError(t, tc.write(p))
			got, err := os.ReadFile(p)
			require.NoError(t, err)
			golden.Check(t, filepath.Join("testdata", tc.golden), got)
		})
	}
}

func TestWriterErrors(t *testing.T) {
	dir := t.TempDir()
	dup := []Prediction{{Name: "x/a.jpg", Path: "/1/x/a.jpg", LogProbs: logs(1)}, {Name: "y/a.jpg", Path: "/1/y/a.jpg", LogProbs: logs(1)}}
	for _, tc := range []struct {
		name  string
		write func() error
		want  string
	}{
		{"duplicate base name", func() error { return WriteResultCSV(filepath.Join(dir, "r.csv"), dup) }, "two images named a.jpg"},
		{"duplicate topk", func() error { return WriteTopKCSV(filepath.Join(dir, "t.csv"), dup, 1) }, "two images named a.jpg"},
		{"comma in name", func() error { return WriteResultCSV(filepath.Join(dir, "r.csv"), goldenPreds()) }, `file name "a,comma.jpg" cannot be written unquoted`},
		{"missing dir", func() error { return WriteResultCSV(filepath.Join(dir, "no", "r.csv"), goldenPreds()[:3]) }, "no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.write()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries, "failed writes leave nothing")
}

func TestReadInputs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.jpg", "a.jpg", ".hidden.jpg"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	list := filepath.Join(dir, "list.txt")
	require.NoError(t, os.WriteFile(list, []byte("\ufeffsub/x y.jpg\t3\r\n# comment\n\n  b.jpg  \nname with 2 spaces.jpg\n/abs/z.jpg 1\n"), 0o644))

	got, err := ReadInputs(dir, "")
	require.NoError(t, err)
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
		require.Equal(t, -1, s.Label)
	}
	require.Equal(t, []string{"a.jpg", "b.jpg", "list.txt"}, names, "folder: sorted, no hidden files, no directories")

	got, err = ReadInputs(list, "")
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.Equal(t, "sub/x y.jpg", got[0].Name)
	require.Equal(t, filepath.Join(dir, "sub", "x y.jpg"), got[0].Path)
	require.Equal(t, "b.jpg", got[1].Name)
	require.Equal(t, "name with 2 spaces.jpg", got[2].Name, "a last field that is not an integer is part of the name")
	require.Equal(t, "/abs/z.jpg", got[3].Path)
	got, err = ReadInputs(list, "/root")
	require.NoError(t, err)
	require.Equal(t, filepath.Join("/root", "b.jpg"), got[1].Path)

	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty", "# nothing\n\n", "no images listed"},
		{"duplicate", "a.jpg\n./a.jpg 2\n", `list.txt:2: duplicate entry "./a.jpg" (first on line 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(list, []byte(tc.content), 0o644))
			_, err := ReadInputs(list, "")
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "predict: "))
		})
	}
	_, err = ReadInputs(filepath.Join(dir, "missing"), "")
	require.ErrorContains(t, err, "missing")
}

func FuzzReadInputs(f *testing.F) {
	f.Add([]byte("a.jpg\t1\nb.jpg\n"))
	f.Add([]byte("\ufeff# c\r\n x y 3 \r\n"))
	f.Add([]byte("a\na\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "list.txt")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Skip()
		}
		got, err := ReadInputs(p, "/r")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "predict: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatal("no samples and no error")
		}
		for _, s := range got {
			if s.Name == "" || strings.ContainsAny(s.Name, "\n") || s.Label != -1 {
				t.Fatalf("bad sample %+v", s)
			}
		}
	})
}
