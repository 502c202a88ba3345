package predict

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/internal/safetensors"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
	"github.com/gocls/gocls/weights"
)

// run calls Run with test defaults and returns the summary, the log and the
// warnings.
func run(t *testing.T, o Options) (*Summary, string, string, error) {
	t.Helper()
	var log, warn bytes.Buffer
	if o.Step == 0 {
		o.Step = -1
	}
	o.Warn = &warn
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.BatchSize == 0 {
		o.BatchSize = 4
	}
	sum, err := Run(context.Background(), o, &log)
	return sum, log.String(), warn.String(), err
}

var resultLine = regexp.MustCompile(`^[^,\n]+\.jpg,[0-9]+$`)

// readResult checks the competition format and returns name -> class.
func readResult(t *testing.T, path string, classes int) ([]string, map[string]int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	require.True(t, strings.HasSuffix(s, "\n"), "ends with a newline")
	require.NotContains(t, s, "\r")
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	got := map[string]int{}
	var names []string
	for _, l := range lines {
		require.Regexp(t, resultLine, l)
		name, cls, _ := strings.Cut(l, ",")
		c, err := strconv.Atoi(cls)
		require.NoError(t, err)
		require.True(t, c >= 0 && c < classes, "class %d in range", c)
		names = append(names, name)
		got[name] = c
	}
	require.True(t, sort.StringsAreSorted(names), "sorted by file name: %v", names)
	return names, got
}

func TestPredictFolderAndList(t *testing.T) {
	runDir, data := fixture(t)
	testDir := filepath.Join(data, "cat_12_test")
	out := t.TempDir()

	sum, log, warn, err := run(t, Options{Checkpoint: runDir, Images: testDir, Out: filepath.Join(out, "result.csv")})
	require.NoError(t, err, log)
	require.Empty(t, warn)
	require.Equal(t, 5, sum.Images)
	require.Equal(t, filepath.Join(runDir, "best"), sum.Source)
	require.Equal(t, 3, sum.NumClasses)
	names, byFolder := readResult(t, filepath.Join(out, "result.csv"), 3)
	require.Equal(t, []string{"test0000.jpg", "test0001.jpg", "test0002.jpg", "test0003.jpg", "test0004.jpg"}, names)
	entries, _ := os.ReadDir(out)
	require.Len(t, entries, 1, "only result.csv, no temporary files")

	// The same images through a list file, in reverse order, names with a
	// directory: same lines, base names, sorted.
	list := filepath.Join(data, "test_list.txt")
	var sb strings.Builder
	sb.WriteString("\ufeff# test images\r\n")
	for i := len(names) - 1; i >= 0; i-- {
		sb.WriteString("cat_12_test/" + names[i] + "\r\n\r\n")
	}
	require.NoError(t, os.WriteFile(list, []byte(sb.String()), 0o644))
	_, log, _, err = run(t, Options{Checkpoint: runDir, Images: list, Out: filepath.Join(out, "list.csv"), BatchSize: 2, Progress: true})
	require.NoError(t, err, log)
	_, byList := readResult(t, filepath.Join(out, "list.csv"), 3)
	require.Equal(t, byFolder, byList, "batch size and input form do not change predictions")
	a, _ := os.ReadFile(filepath.Join(out, "result.csv"))
	b, _ := os.ReadFile(filepath.Join(out, "list.csv"))
	require.Equal(t, string(a), string(b))
}

func TestPredictStep(t *testing.T) {
	runDir, data := fixture(t)
	out := t.TempDir()
	imgs := filepath.Join(data, "cat_12_test")
	_, _, _, err := run(t, Options{Checkpoint: runDir, Images: imgs, Out: filepath.Join(out, "best.csv"), TopK: 3, TopKOut: filepath.Join(out, "best_top.csv")})
	require.NoError(t, err)
	sum, _, _, err := run(t, Options{Checkpoint: runDir, Step: 1, Images: imgs, Out: filepath.Join(out, "s1.csv"), TopK: 3, TopKOut: filepath.Join(out, "s1_top.csv")})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(runDir, "ckpt-00000001"), sum.Source)
	// ckpt-00000001 has the head negated: its best class is best's worst.
	best, s1 := readTopK(t, filepath.Join(out, "best_top.csv"), 3), readTopK(t, filepath.Join(out, "s1_top.csv"), 3)
	for name, row := range best {
		require.Equal(t, row[2].class, s1[name][0].class, name)
	}
}

type classProb struct {
	class int
	prob  float64
}

// readTopK reads a top-k CSV whose k columns list every class (k is the number of classes): each row
// is sorted by probability, names each class once, and its probabilities sum to 1.
func readTopK(t *testing.T, path string, k int) map[string][]classProb {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	header := []string{"file"}
	for i := 1; i <= k; i++ {
		header = append(header, "class"+strconv.Itoa(i), "prob"+strconv.Itoa(i))
	}
	require.Equal(t, header, recs[0])
	out := map[string][]classProb{}
	for _, r := range recs[1:] {
		require.Len(t, r, 1+2*k)
		var row []classProb
		sum := 0.0
		for i := 0; i < k; i++ {
			c, err := strconv.Atoi(r[1+2*i])
			require.NoError(t, err)
			p, err := strconv.ParseFloat(r[2+2*i], 64)
			require.NoError(t, err)
			if i > 0 {
				require.LessOrEqual(t, p, row[i-1].prob, "sorted by probability")
			}
			require.True(t, p >= 0 && p <= 1, "%s: probability %g", r[0], p)
			for _, prev := range row {
				require.NotEqual(t, prev.class, c, "%s: class %d listed twice", r[0], c)
			}
			row = append(row, classProb{c, p})
			sum += p
		}
		require.InDelta(t, 1, sum, 1e-5, "%s: the probabilities of all %d classes", r[0], k)
		out[r[0]] = row
	}
	return out
}

func TestTopKAndFlipTTA(t *testing.T) {
	runDir, _ := fixture(t)
	dir := t.TempDir()
	imgs := filepath.Join(dir, "imgs")
	require.NoError(t, os.Mkdir(imgs, 0o755))
	red, blue := color.RGBA{220, 30, 30, 255}, color.RGBA{20, 40, 230, 255}
	writePNG(t, filepath.Join(imgs, "a.jpg"), 32, red, blue, false)
	writePNG(t, filepath.Join(imgs, "b.jpg"), 32, red, blue, true) // a mirrored
	writePNG(t, filepath.Join(imgs, "c.jpg"), 32, blue, color.RGBA{250, 250, 0, 255}, false)

	plainCSV, ttaCSV := filepath.Join(dir, "plain.csv"), filepath.Join(dir, "tta.csv")
	_, _, _, err := run(t, Options{Checkpoint: runDir, Images: imgs, Out: filepath.Join(dir, "r1.csv"), TopK: 5, TopKOut: plainCSV})
	require.NoError(t, err)
	_, _, _, err = run(t, Options{Checkpoint: runDir, Images: imgs, Out: filepath.Join(dir, "r2.csv"), TopK: 5, TopKOut: ttaCSV, FlipTTA: true})
	require.NoError(t, err)
	plain, tta := readTopK(t, plainCSV, 3), readTopK(t, ttaCSV, 3) // K capped at the 3 classes
	require.Len(t, tta, 3)
	prob := func(rows []classProb) []float64 {
		p := make([]float64, 3)
		for _, r := range rows {
			p[r.class] = r.prob
		}
		return p
	}
	pa, pb := prob(plain["a.jpg"]), prob(plain["b.jpg"])
	diff := 0.0
	for c := range pa {
		diff += math.Abs(pa[c] - pb[c])
	}
	require.Greater(t, diff, 1e-3, "the model must tell an image from its mirror for this test to mean anything")
	for _, name := range []string{"a.jpg", "b.jpg"} {
		got := prob(tta[name])
		sum := 0.0
		for c := range got {
			require.InDelta(t, (pa[c]+pb[c])/2, got[c], 2e-5, "%s class %d: TTA = mean of image and mirror", name, c)
			sum += got[c]
		}
		require.InDelta(t, 1, sum, 1e-5)
	}
}

func TestUnreadableImages(t *testing.T) {
	runDir, data := fixture(t)
	dir := t.TempDir()
	imgs := filepath.Join(dir, "imgs")
	require.NoError(t, os.Mkdir(imgs, 0o755))
	for _, n := range []string{"test0000.jpg", "test0001.jpg", "test0002.jpg"} {
		b, err := os.ReadFile(filepath.Join(data, "cat_12_test", n))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(imgs, n), b, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(imgs, "broken.jpg"), []byte("\xff\xd8\xff\xe0 truncated"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(imgs, "empty.jpg"), nil, 0o644))
	out := filepath.Join(dir, "result.csv")
	require.NoError(t, os.WriteFile(out, []byte("old\n"), 0o644))

	// Default: fail, list every bad file with its reason, leave result.csv untouched.
	_, log, warn, err := run(t, Options{Checkpoint: runDir, Images: imgs, Out: out, TopK: 2, BatchSize: 2})
	require.Error(t, err)
	require.Contains(t, err.Error(), "2 unreadable image(s)")
	require.Contains(t, err.Error(), "-skip-bad")
	require.Contains(t, warn, filepath.Join(imgs, "broken.jpg"))
	require.Contains(t, warn, filepath.Join(imgs, "empty.jpg")+": empty file")
	got, _ := os.ReadFile(out)
	require.Equal(t, "old\n", string(got), log)
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 2, "no topk.csv and no temporary file: %v", entries)

	// -skip-bad: the others are written, the skipped ones named.
	sum, log, _, err := run(t, Options{Checkpoint: runDir, Images: imgs, Out: out, SkipBad: true, BatchSize: 2})
	require.NoError(t, err)
	require.Equal(t, 3, sum.Images)
	require.Len(t, sum.Skipped, 2)
	require.Contains(t, log, "skipped 2 unreadable image(s)")
	require.Contains(t, log, "broken.jpg")
	names, _ := readResult(t, out, 3)
	require.Equal(t, []string{"test0000.jpg", "test0001.jpg", "test0002.jpg"}, names)
}

func TestEvaluationMode(t *testing.T) {
	runDir, data := fixture(t)
	out := t.TempDir()
	list := filepath.Join(data, "train_list.txt")
	sum, log, _, err := run(t, Options{Checkpoint: runDir, Labels: list, Out: filepath.Join(out, "result.csv"), BatchSize: 4})
	require.NoError(t, err, log)
	_, pred := readResult(t, filepath.Join(out, "result.csv"), 3)
	samples, _, err := dataset.ReadList(list, data, 3)
	require.NoError(t, err)
	require.Len(t, pred, len(samples))

	// Hand count from result.csv and the list.
	want := [3][3]int{}
	correct := 0
	for _, s := range samples {
		p := pred[filepath.Base(s.Name)]
		want[s.Label][p]++
		if p == s.Label {
			correct++
		}
	}
	m := sum.Metrics
	require.NotNil(t, m)
	require.Equal(t, len(samples), m.N)
	require.InDelta(t, float64(correct)/float64(len(samples)), m.Top1, 1e-12)
	require.Equal(t, 1.0, m.Top5, "3 classes: the label is always in the top 5")
	for c := 0; c < 3; c++ {
		require.Equal(t, want[c][:], m.Confusion[c])
		require.InDelta(t, float64(want[c][c])/float64(want[c][0]+want[c][1]+want[c][2]), m.PerClass[c], 1e-12)
	}
	require.Contains(t, log, "top-1")
	require.Contains(t, log, "top-5")
	require.Contains(t, log, "acat", "per-class table names the classes")

	f, err := os.Open(filepath.Join(out, "confusion.csv"))
	require.NoError(t, err)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	require.Equal(t, []string{`true\predicted`, "acat", "bcat", "ccat"}, recs[0])
	for c := 0; c < 3; c++ {
		require.Equal(t, []string{string(rune('a'+c)) + "cat", strconv.Itoa(want[c][0]), strconv.Itoa(want[c][1]), strconv.Itoa(want[c][2])}, recs[c+1])
	}
	png, err := os.ReadFile(filepath.Join(out, "confusion.png"))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")))
}

func TestJSONLFiles(t *testing.T) {
	runDir, data := fixture(t)
	var stdout bytes.Buffer
	files := []string{filepath.Join(data, "cat_12_test", "test0003.jpg"), filepath.Join(data, "cat_12_test", "test0001.jpg")}
	sum, _, _, err := run(t, Options{Checkpoint: runDir, Files: files, Format: "jsonl", TopK: 2, Stdout: &stdout})
	require.NoError(t, err)
	require.Equal(t, 2, sum.Images)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 2)
	for i, l := range lines {
		var obj struct {
			File   string       `json:"file"`
			Top    [][2]float64 `json:"top"`
			Labels []string     `json:"labels"`
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&obj), l)
		require.Equal(t, files[i], obj.File, "input order")
		require.Len(t, obj.Top, 2)
		require.Len(t, obj.Labels, 2)
		require.Equal(t, string(rune('a'+int(obj.Top[0][0])))+"cat", obj.Labels[0])
		require.GreaterOrEqual(t, obj.Top[0][1], obj.Top[1][1])
	}
}

func TestRunErrors(t *testing.T) {
	runDir, data := fixture(t)
	dir := t.TempDir()
	imgs := filepath.Join(data, "cat_12_test")
	out := filepath.Join(dir, "result.csv")

	// A run directory whose model.json names another architecture.
	wrongArch := filepath.Join(dir, "wrongarch")
	require.NoError(t, os.MkdirAll(wrongArch, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(runDir, "best"), filepath.Join(wrongArch, "best")))
	mj, err := os.ReadFile(filepath.Join(runDir, "model.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(wrongArch, "model.json"), bytes.Replace(mj, []byte("resnet18"), []byte("resnet34"), 1), 0o644))
	noInfo := filepath.Join(dir, "noinfo")
	require.NoError(t, os.MkdirAll(noInfo, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(runDir, "best"), filepath.Join(noInfo, "best")))
	badList := filepath.Join(dir, "bad_list.txt")
	require.NoError(t, os.WriteFile(badList, []byte("cat_12_train/img0000.jpg\t7\n"), 0o644))
	dupList := filepath.Join(data, "dup_list.txt")
	require.NoError(t, os.WriteFile(dupList, []byte("cat_12_test/test0001.jpg\nother/test0001.jpg\n"), 0o644))
	emptyDir := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(emptyDir, 0o755))

	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no weights", Options{Images: imgs, Out: out}, "exactly one of -checkpoint and -pretrained"},
		{"two sources", Options{Checkpoint: runDir, Images: imgs, Labels: badList, Out: out}, "exactly one source of images"},
		{"no out", Options{Checkpoint: runDir, Images: imgs}, "-out is required"},
		{"bad format", Options{Checkpoint: runDir, Images: imgs, Out: out, Format: "xml"}, `unknown format "xml"`},
		{"missing checkpoint", Options{Checkpoint: filepath.Join(dir, "nope"), Images: imgs, Out: out}, "nope"},
		{"missing step", Options{Checkpoint: runDir, Step: 7, Images: imgs, Out: out}, "no checkpoint for step 7"},
		{"no model.json", Options{Checkpoint: noInfo, Images: imgs, Out: out}, "model.json"},
		{"wrong arch", Options{Checkpoint: wrongArch, Images: imgs, Out: out}, "weights lack variables of resnet34"},
		{"missing images", Options{Checkpoint: runDir, Images: filepath.Join(dir, "none"), Out: out}, "none"},
		{"empty folder", Options{Checkpoint: runDir, Images: emptyDir, Out: out}, "no image files"},
		{"label out of range", Options{Checkpoint: runDir, Labels: badList, Root: data}, "bad_list.txt:1: label 7 out of range [0,3)"},
		{"duplicate base names", Options{Checkpoint: runDir, Images: dupList, Out: out}, "two images named test0001.jpg"},
		{"bad backend", Options{Checkpoint: runDir, Images: imgs, Out: out, Backend: "nosuch"}, `backend "nosuch" unknown`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := run(t, tc.o)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "predict: "), err.Error())
			require.NotContains(t, strings.TrimSpace(err.Error()), "\n")
			_, statErr := os.Stat(out)
			require.True(t, os.IsNotExist(statErr), "nothing written")
		})
	}
}

func TestCancelledWritesNothing(t *testing.T) {
	runDir, data := fixture(t)
	out := filepath.Join(t.TempDir(), "result.csv")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Checkpoint: runDir, Step: -1, Images: filepath.Join(data, "cat_12_test"), Out: out, BatchSize: 2}, nil)
	require.ErrorIs(t, err, context.Canceled)
	_, statErr := os.Stat(out)
	require.True(t, os.IsNotExist(statErr))
}

// TestCat12Test runs the tiny model over the real cat12 test folder (with
// its cheap 32/32 preprocessing): 240 lines, every odd file decoded.
func TestCat12Test(t *testing.T) {
	data := filepath.Join(repoRoot(t), "..", "shared", "data", "cat12")
	if _, err := os.Stat(filepath.Join(data, "cat_12_test")); err != nil {
		t.Skip("cat12 not found at ../shared/data/cat12")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	runDir, _ := fixture(t)
	out := filepath.Join(t.TempDir(), "result.csv")
	sum, log, warn, err := run(t, Options{Checkpoint: runDir, Images: filepath.Join(data, "cat_12_test"), Out: out, BatchSize: 16})
	require.NoError(t, err, log+warn)
	require.Empty(t, warn)
	names, _ := readResult(t, out, 3)
	require.Len(t, names, 240)
	require.Equal(t, 240, sum.Images)
}

// TestPretrainedSafetensors feeds the fixture's weights through the
// pretrained path (a .safetensors file named by this project's variable
// tree: torchvision layout and ImageNet preprocessing) and checks it predicts
// exactly what the checkpoint path predicts with the same preprocessing.
func TestPretrainedSafetensors(t *testing.T) {
	runDir, data := fixture(t)
	dir := t.TempDir()
	ts, err := checkpoint.LoadTensors(filepath.Join(runDir, "best"))
	require.NoError(t, err)
	rel := map[string]safetensors.Tensor{}
	for k, v := range ts {
		rel[strings.TrimPrefix(k, resnet.RootScope+"/")] = v
	}
	st := filepath.Join(dir, "tiny.safetensors")
	f, err := os.Create(st)
	require.NoError(t, err)
	require.NoError(t, safetensors.Write(f, rel, map[string]string{"layout": "v1.5"}))
	require.NoError(t, f.Close())

	// The same weights as a run whose model.json says ImageNet preprocessing.
	imRun := filepath.Join(dir, "run")
	require.NoError(t, os.MkdirAll(imRun, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(runDir, "best"), filepath.Join(imRun, "best")))
	info, err := checkpoint.ReadModelInfo(runDir)
	require.NoError(t, err)
	info.Preprocessing, info.Classes = preprocess.TorchvisionImageNet, nil
	require.NoError(t, checkpoint.WriteModelInfo(imRun, info))

	files := []string{filepath.Join(data, "cat_12_test", "test0002.jpg"), filepath.Join(data, "cat_12_test", "test0004.jpg")}
	var fromWeights, fromRun bytes.Buffer
	sum, log, _, err := run(t, Options{Pretrained: st, Files: files, Format: "jsonl", TopK: 3, Stdout: &fromWeights})
	require.NoError(t, err, log)
	require.Equal(t, "resnet18", sum.Arch)
	require.Equal(t, st, sum.Source)
	require.Contains(t, log, "input 224x224")
	_, log, _, err = run(t, Options{Checkpoint: imRun, Files: files, Format: "jsonl", TopK: 3, Stdout: &fromRun})
	require.NoError(t, err, log)
	require.Equal(t, fromRun.String(), fromWeights.String())
	require.Contains(t, fromRun.String(), `"labels":["`, "class indices stand in for missing names")
}

// TestImageNetCats runs the cached ImageNet ResNet50 (issue 7) on two cat12
// test photos: both must come out as domestic cats (ImageNet 281-285).
func TestImageNetCats(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	data := filepath.Join(repoRoot(t), "..", "shared", "data", "cat12", "cat_12_test")
	files := []string{filepath.Join(data, "06yUTYIeaRsE782Ou5dh1NPzm9XpkBoL.jpg"), filepath.Join(data, "0inVXMEgaBO4Fcrhdj9bkLvHzN71yTuI.jpg")}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Skip("cat12 not found at ../shared/data/cat12")
		}
	}
	if _, ok := weights.CachedDir(weights.DefaultCacheDir()); !ok {
		t.Skip("ImageNet weights not cached (go run ./cmd/weights fetch)")
	}
	var stdout bytes.Buffer
	sum, log, _, err := run(t, Options{Pretrained: "imagenet", Files: files, Format: "jsonl", TopK: 5, Stdout: &stdout})
	require.NoError(t, err, log)
	require.Equal(t, "resnet50", sum.Arch)
	require.Equal(t, 1000, sum.NumClasses)
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var obj struct {
			File   string       `json:"file"`
			Top    [][2]float64 `json:"top"`
			Labels []string     `json:"labels"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &obj))
		require.Len(t, obj.Top, 5)
		require.True(t, obj.Top[0][0] >= 281 && obj.Top[0][0] <= 285, "%s: top-1 %v (%s) is not a domestic cat", obj.File, obj.Top[0][0], obj.Labels[0])
		require.True(t, strings.Contains(strings.ToLower(obj.Labels[0]), "cat") || obj.Labels[0] == "tabby", obj.Labels[0])
	}
}
