// Package predict classifies images with a trained checkpoint (or pretrained
// weights) and writes the competition's result.csv, an optional top-K CSV or
// JSON lines, and in evaluation mode accuracy metrics and a confusion matrix.
//
// Every output file is written atomically (temporary file + rename): a failed
// or interrupted run leaves existing files untouched. Images are decoded by
// content, preprocessed with the weights' own convention (model.json of the
// run directory), and classified in fixed-size batches.
package predict

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/evaluate"
	"github.com/gocls/gocls/internal/atomicfile"
	"github.com/gocls/gocls/internal/backend"
)

// DefaultBatchSize is Options.BatchSize when zero.
const DefaultBatchSize = 16

// Options configures Run. Exactly one of Checkpoint and Pretrained names the
// weights. The images come from Images (a folder or a list file), Files, or
// in evaluation mode from the Labels list.
type Options struct {
	Checkpoint string // run dir or checkpoint dir
	Step       int    // -1: best (else latest); N: ckpt for epoch N
	Pretrained string // instead of Checkpoint: weights.Open spec, e.g. "imagenet"
	CacheDir   string // weights cache for Pretrained ("" = weights.DefaultCacheDir())

	Images string   // folder of images, one image file, or a list file ("NAME<TAB>label" or just NAME per line)
	Files  []string // image paths (used when Images and Labels are empty)
	Root   string   // root for list-file paths (default: the list file's dir)

	Out     string // result.csv path ("NAME.jpg,class" lines); with Format "jsonl" the JSON lines ("" or "-": Stdout)
	Format  string // "csv" (default) or "jsonl": {"file":..., "top":[[class,prob],...], "labels":[...]} per image
	TopK    int    // > 0: also write the K best classes per image to TopKOut (csv) / into the JSON lines
	TopKOut string // top-K CSV path (default: topk.csv next to Out)
	FlipTTA bool   // average the softmax of each image and its mirror image
	SkipBad bool   // write the readable images' results instead of failing on unreadable ones

	Labels       string // evaluation mode: a list file with labels ("NAME<TAB>label")
	ConfusionOut string // evaluation mode: confusion CSV path (default confusion.csv next to Out); PNG beside it

	BatchSize, Workers int    // defaults DefaultBatchSize and GOMAXPROCS
	Backend            string // "go" (default), "xla:cpu", "xla:cuda"
	Progress           bool   // draw a progress bar on log

	Warn   io.Writer // unreadable images are listed here (default os.Stderr)
	Stdout io.Writer // JSON lines when Out is "" or "-" (default os.Stdout)
}

// Summary is what a Run did.
type Summary struct {
	Source       string            // checkpoint directory or weights source
	Arch         string            // e.g. "resnet50"
	NumClasses   int               // classifier size
	Images       int               // images classified
	Skipped      []string          // unreadable images ("path: reason"), only with SkipBad
	Written      []string          // output files written
	Metrics      *evaluate.Metrics // evaluation mode only
	Seconds      float64           // wall time of decoding + inference (graph compilation excluded)
	ImagesPerSec float64
}

// Prediction is the result for one image.
type Prediction struct {
	Name     string    // sample name: the file name, the list entry or the path as given
	Path     string    // resolved path
	Label    int       // true label in evaluation mode, else -1
	LogProbs []float32 // [classes] log-probabilities
}

// Class returns the most probable class (lowest index on ties).
func (p Prediction) Class() int {
	best := 0
	for j, v := range p.LogProbs {
		if v > p.LogProbs[best] {
			best = j
		}
	}
	return best
}

// Top returns the k most probable classes and their probabilities, best
// first (k is capped at the number of classes; ties keep the lower index first).
func (p Prediction) Top(k int) (classes []int, probs []float64) {
	idx := make([]int, len(p.LogProbs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p.LogProbs[idx[a]] > p.LogProbs[idx[b]] })
	k = min(k, len(idx))
	probs = make([]float64, k)
	for i := range k {
		probs[i] = math.Exp(float64(p.LogProbs[idx[i]]))
	}
	return idx[:k], probs
}

// Run classifies the images of o and writes its outputs. Nothing is written
// when an image cannot be read (unless SkipBad), when the run fails or when
// ctx is cancelled. Panics while building or running the graph come back as
// errors.
func Run(ctx context.Context, o Options, log io.Writer) (sum *Summary, err error) {
	defer recoverErr(&err)
	if log == nil {
		log = io.Discard
	}
	if o.Warn == nil {
		o.Warn = os.Stderr
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if err := checkOptions(&o); err != nil {
		return nil, err
	}
	c, err := loadClassifier(o, log)
	if err != nil {
		return nil, err
	}
	classes := c.Net.NumClasses
	sum = &Summary{Source: c.Source, Arch: c.Net.Name, NumClasses: classes}
	samples, err := inputs(o, classes, log)
	if err != nil {
		return nil, err
	}
	if o.Format == "csv" && (o.Out != "" || o.TopK > 0) {
		if err := checkNames(samples); err != nil {
			return nil, err
		}
	}
	crop := c.Preprocessing.Crop
	fmt.Fprintf(log, "predict: %s (%s, %d classes, input %dx%d) on %d images\n", c.Source, c.Net.Name, classes, crop, crop, len(samples))
	preds, bad, secs, err := classifyOn(ctx, c, samples, o, log)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 && !o.SkipBad {
		return nil, fmt.Errorf("predict: %d unreadable image(s) (listed above); nothing written (use -skip-bad to predict the others)", len(bad))
	}
	if len(preds) == 0 {
		return nil, fmt.Errorf("predict: no readable images")
	}
	sum.Skipped, sum.Images, sum.Seconds = bad, len(preds), secs
	if secs > 0 {
		sum.ImagesPerSec = float64(len(preds)) / secs
	}
	if err := writeOutputs(o, c, preds, sum, log); err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		fmt.Fprintf(log, "predict: skipped %d unreadable image(s):\n", len(bad))
		for _, b := range bad {
			fmt.Fprintf(log, "  %s\n", b)
		}
	}
	fmt.Fprintf(log, "predict: %d images in %.1fs (%.1f img/s)\n", sum.Images, sum.Seconds, sum.ImagesPerSec)
	return sum, nil
}

// loadClassifier loads the weights o names (pretrained or a run's
// checkpoint) and checks that their preprocessing can be applied.
func loadClassifier(o Options, log io.Writer) (c *Classifier, err error) {
	if o.Pretrained != "" {
		c, err = LoadPretrained(o.Pretrained, o.CacheDir)
	} else {
		c, err = LoadCheckpoint(o.Checkpoint, o.Step)
		if err == nil && !checkpoint.Verified(c.Source) {
			fmt.Fprintf(log, "warning: %s has no %s (written by an older version): loaded without verifying it\n", c.Source, checkpoint.ManifestFile)
		}
	}
	if err != nil {
		return nil, err
	}
	if prep := c.Preprocessing; prep.Crop <= 0 || prep.Resize < prep.Crop {
		return nil, fmt.Errorf("predict: %s: preprocessing needs 0 < crop <= resize, got crop %d resize %d", c.Source, prep.Crop, prep.Resize)
	}
	return c, nil
}

// classifyOn opens o's backend, compiles c's inference
// graph for batches of o.BatchSize (fewer when there are fewer samples) and
// classifies the samples (see classify).
func classifyOn(ctx context.Context, c *Classifier, samples []dataset.Sample, o Options, log io.Writer) (preds []Prediction, bad []string, secs float64, err error) {
	be, err := backend.New(o.Backend)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("predict: %w", err)
	}
	defer be.Finalize()
	eng, err := NewEngine(be, c, min(o.BatchSize, len(samples)), c.Preprocessing.Crop, o.FlipTTA)
	if err != nil {
		return nil, nil, 0, err
	}
	return classify(ctx, eng, samples, o, log)
}

func checkOptions(o *Options) error {
	if (o.Checkpoint == "") == (o.Pretrained == "") {
		return errors.New("predict: give exactly one of -checkpoint and -pretrained")
	}
	n := 0
	for _, set := range []bool{o.Images != "", len(o.Files) > 0, o.Labels != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("predict: give exactly one source of images: -images DIR|LIST, image files, or -labels LIST")
	}
	switch o.Format {
	case "", "csv":
		o.Format = "csv"
		if o.Out == "" && o.Labels == "" {
			return errors.New("predict: -out is required (e.g. -out result.csv)")
		}
		if o.Out == "-" {
			return errors.New("predict: -out - (stdout) is only for -format jsonl")
		}
	case "jsonl":
	default:
		return fmt.Errorf("predict: unknown format %q (want csv or jsonl)", o.Format)
	}
	if o.TopK < 0 {
		return fmt.Errorf("predict: -topk must be >= 0, got %d", o.TopK)
	}
	if o.BatchSize < 0 || o.Workers < 0 {
		return fmt.Errorf("predict: batch size (%d) and workers (%d) must be >= 0", o.BatchSize, o.Workers)
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Format == "csv" && o.TopK > 0 && o.TopKOut == "" {
		if o.Out != "" {
			o.TopKOut = filepath.Join(filepath.Dir(o.Out), "topk.csv")
		} else {
			o.TopKOut = "topk.csv"
		}
	}
	if o.Labels != "" && o.ConfusionOut == "" {
		dir := "."
		if o.Out != "" && o.Out != "-" {
			dir = filepath.Dir(o.Out)
		}
		o.ConfusionOut = filepath.Join(dir, "confusion.csv")
	}
	return checkPaths(*o)
}

// checkPaths checks, before any model is loaded or image classified, that
// the image folder or list exists and that every output file's directory
// exists and is writable.
func checkPaths(o Options) error {
	type flagPath struct{ flag, path string }
	for _, in := range []flagPath{{"-images", o.Images}, {"-labels", o.Labels}} {
		if in.path == "" {
			continue
		}
		if _, err := os.Stat(in.path); err != nil {
			return fmt.Errorf("predict: %s: %w", in.flag, err)
		}
	}
	outs := []flagPath{{"-out", o.Out}}
	if o.Format == "csv" && o.TopK > 0 {
		outs = append(outs, flagPath{"-topk-out", o.TopKOut})
	}
	if o.Labels != "" {
		outs = append(outs, flagPath{"-confusion", o.ConfusionOut})
	}
	for _, out := range outs {
		if out.path == "" || out.path == "-" {
			continue
		}
		if err := atomicfile.CheckDir(filepath.Dir(out.path)); err != nil {
			return fmt.Errorf("predict: %s %s: %w", out.flag, out.path, err)
		}
	}
	return nil
}

// inputs returns the samples to classify (labelled in evaluation mode).
func inputs(o Options, classes int, log io.Writer) ([]dataset.Sample, error) {
	switch {
	case o.Labels != "":
		root := o.Root
		if root == "" {
			root = filepath.Dir(o.Labels)
		}
		samples, warnings, err := dataset.ReadList(o.Labels, root, classes)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		for _, w := range warnings {
			fmt.Fprintln(log, w)
		}
		return samples, nil
	case o.Images != "":
		return ReadInputs(o.Images, o.Root)
	default:
		return FileSamples(o.Files), nil
	}
}

// classify runs the engine over every sample. Unreadable images are listed
// on o.Warn and returned in bad; once one is found (without SkipBad) the
// remaining images are only decoded, to list every bad one, not classified.
func classify(ctx context.Context, eng *Engine, samples []dataset.Sample, o Options, log io.Writer) (preds []Prediction, bad []string, secs float64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prep := eng.c.Preprocessing
	norm := dataset.Normalize{Mean: prep.Mean, Std: prep.Std, Scale: prep.Scale, BGR: prep.BGR}
	tr, err := dataset.EvalTransform(prep.Resize, prep.Crop, norm).WithSteps(eng.c.Steps)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("predict: %s: %w", eng.c.Source, err)
	}
	unreadable := &badImages{warn: o.Warn}
	loader := dataset.NewLoader(samples, tr, dataset.LoaderOptions{BatchSize: eng.BatchSize(), Workers: o.Workers, OnBad: unreadable.add})
	bar := newProgressBar(o.Progress, log, len(samples))
	classes := eng.classes
	start := time.Now()
	lctx, cancel := context.WithCancel(ctx) // stops the loader's workers on an early return
	defer cancel()
	for b := range loader.Epoch(lctx, 0) {
		failed := len(unreadable.get()) > 0 && !o.SkipBad
		if bar != nil {
			_ = bar.Add(b.Size)
		}
		if failed {
			continue
		}
		out, err := eng.Run(b.Images, b.Size)
		if err != nil {
			return nil, nil, 0, err
		}
		for i := 0; i < b.Size; i++ {
			s := samples[b.Indices[i]]
			preds = append(preds, Prediction{Name: s.Name, Path: s.Path, Label: s.Label, LogProbs: out[i*classes : (i+1)*classes]})
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, 0, fmt.Errorf("predict: %w", err)
	}
	return preds, unreadable.get(), time.Since(start).Seconds(), nil
}

// badImages collects the unreadable images that the loader's workers report
// (concurrently), warning about each on warn.
type badImages struct {
	warn io.Writer
	mu   sync.Mutex
	list []string // "path: reason"
}

func (u *badImages) add(path string, err error) {
	msg := strings.TrimPrefix(err.Error(), "dataset: ")
	if !strings.Contains(msg, path) {
		msg = path + ": " + msg
	}
	fmt.Fprintf(u.warn, "predict: unreadable image %s\n", msg)
	u.mu.Lock()
	u.list = append(u.list, msg)
	u.mu.Unlock()
}

// get returns the images reported so far.
func (u *badImages) get() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.list
}

// newProgressBar is the bar of n images drawn on log, or nil when not wanted.
func newProgressBar(wanted bool, log io.Writer, n int) *progressbar.ProgressBar {
	if !wanted {
		return nil
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(log),
		progressbar.OptionSetDescription("predict"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("img"), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish())
}

// writeOutputs writes every requested output and, in evaluation mode,
// prints the metrics. All contents are built before the first file is
// written, so a formatting error writes nothing.
func writeOutputs(o Options, c *Classifier, preds []Prediction, sum *Summary, log io.Writer) error {
	if o.Format == "jsonl" {
		w := func(w io.Writer) error { return WriteJSONL(w, preds, o.TopK, c.Classes) }
		if o.Out == "" || o.Out == "-" {
			return w(o.Stdout)
		}
		if err := atomicfile.Write(o.Out, w); err != nil {
			return err
		}
		sum.Written = append(sum.Written, o.Out)
		return nil
	}
	if o.Out != "" {
		if err := WriteResultCSV(o.Out, preds); err != nil {
			return err
		}
		sum.Written = append(sum.Written, o.Out)
	}
	if o.TopK > 0 {
		if err := WriteTopKCSV(o.TopKOut, preds, o.TopK); err != nil {
			return err
		}
		sum.Written = append(sum.Written, o.TopKOut)
	}
	if o.Labels != "" {
		acc := evaluate.NewAccumulator(c.Net.NumClasses)
		for _, p := range preds {
			acc.Add(p.LogProbs, p.Label)
		}
		m := acc.Metrics()
		sum.Metrics = &m
		PrintMetrics(log, m, c.Classes)
		png := strings.TrimSuffix(o.ConfusionOut, filepath.Ext(o.ConfusionOut)) + ".png"
		if err := evaluate.WriteConfusionCSV(o.ConfusionOut, m.Confusion, c.Classes); err != nil {
			return err
		}
		title := fmt.Sprintf("%s, %d images, top-1 %.2f%%", filepath.Base(o.Labels), m.N, 100*m.Top1)
		if err := evaluate.WriteConfusionPNG(png, m.Confusion, c.Classes, title); err != nil {
			return err
		}
		sum.Written = append(sum.Written, o.ConfusionOut, png)
	}
	for _, p := range sum.Written {
		fmt.Fprintf(log, "predict: wrote %s\n", p)
	}
	return nil
}

// WriteResultCSV writes the competition file atomically: one
// "NAME,class" line per prediction, NAME the file's base name, sorted by
// name (bytewise), "\n" line ends, no header, no quoting. Two images with
// the same base name, or a name holding a comma, quote or line break, are
// errors (the file could not hold them unambiguously).
func WriteResultCSV(path string, preds []Prediction) error {
	lines, err := sortedByBase(preds)
	if err != nil {
		return fmt.Errorf("predict: %s: %w", path, err)
	}
	for _, p := range lines {
		if base := filepath.Base(p.Name); strings.ContainsAny(base, ",\"\r\n") {
			return fmt.Errorf("predict: %s: file name %q cannot be written unquoted (it holds a comma, quote or line break)", path, base)
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		for _, p := range lines {
			if _, err := fmt.Fprintf(w, "%s,%d\n", filepath.Base(p.Name), p.Class()); err != nil {
				return fmt.Errorf("predict: %s: %w", path, err)
			}
		}
		return nil
	})
}

// WriteTopKCSV writes atomically, sorted by base name, a CSV with header
// "file,class1,prob1,...,classK,probK" (K capped at the class count) and
// one row per image; probabilities have 6 decimals.
func WriteTopKCSV(path string, preds []Prediction, k int) error {
	lines, err := sortedByBase(preds)
	if err != nil {
		return fmt.Errorf("predict: %s: %w", path, err)
	}
	k = min(k, len(preds[0].LogProbs))
	return atomicfile.Write(path, func(w io.Writer) error {
		var sb strings.Builder
		sb.WriteString("file")
		for i := 1; i <= k; i++ {
			fmt.Fprintf(&sb, ",class%d,prob%d", i, i)
		}
		sb.WriteByte('\n')
		for _, p := range lines {
			sb.WriteString(csvField(filepath.Base(p.Name)))
			cls, probs := p.Top(k)
			for i := range cls {
				fmt.Fprintf(&sb, ",%d,%.6f", cls[i], probs[i])
			}
			sb.WriteByte('\n')
		}
		if _, err := io.WriteString(w, sb.String()); err != nil {
			return fmt.Errorf("predict: %s: %w", path, err)
		}
		return nil
	})
}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// checkNames fails early, before any inference, on inputs that result.csv
// could not hold: two images with the same base name, or a name with a comma,
// quote or line break.
func checkNames(samples []dataset.Sample) error {
	preds := make([]Prediction, len(samples))
	for i, s := range samples {
		preds[i] = Prediction{Name: s.Name, Path: s.Path}
		if base := filepath.Base(s.Name); strings.ContainsAny(base, ",\"\r\n") {
			return fmt.Errorf("predict: %s: file name %q cannot be written to result.csv unquoted (it holds a comma, quote or line break)", s.Path, base)
		}
	}
	if _, err := sortedByBase(preds); err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	return nil
}

func sortedByBase(preds []Prediction) ([]Prediction, error) {
	out := slices.Clone(preds)
	slices.SortStableFunc(out, func(a, b Prediction) int { return cmp.Compare(filepath.Base(a.Name), filepath.Base(b.Name)) })
	for i := 1; i < len(out); i++ {
		if filepath.Base(out[i].Name) == filepath.Base(out[i-1].Name) {
			return nil, fmt.Errorf("two images named %s (%s and %s)", filepath.Base(out[i].Name), out[i-1].Path, out[i].Path)
		}
	}
	return out, nil
}

// jsonLine is one line of WriteJSONL.
type jsonLine struct {
	File   string   `json:"file"`
	Top    [][2]any `json:"top"`
	Labels []string `json:"labels"`
}

// WriteJSONL writes one JSON object per prediction, in the given order:
// {"file": NAME, "top": [[class, prob], ...], "labels": [class names]} with
// the k best classes (k <= 0 means 5), labels[i] naming top[i]'s class
// (names may be nil: the index is used).
func WriteJSONL(w io.Writer, preds []Prediction, k int, names []string) error {
	if k <= 0 {
		k = 5
	}
	enc := json.NewEncoder(w)
	for _, p := range preds {
		cls, probs := p.Top(k)
		line := jsonLine{File: p.Name, Top: make([][2]any, len(cls)), Labels: make([]string, len(cls))}
		for i := range cls {
			line.Top[i] = [2]any{cls[i], math.Round(probs[i]*1e6) / 1e6}
			line.Labels[i] = evaluate.ClassName(names, cls[i])
		}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
	}
	return nil
}

// PrintMetrics prints top-1, top-5, loss and the per-class accuracy table.
func PrintMetrics(w io.Writer, m evaluate.Metrics, names []string) {
	fmt.Fprintf(w, "evaluation: %d images  top-1 %.2f%%  top-5 %.2f%%  loss %.4f\n", m.N, 100*m.Top1, 100*m.Top5, m.Loss)
	fmt.Fprintf(w, "%-6s %-20s %7s %9s\n", "class", "name", "images", "accuracy")
	for c, acc := range m.PerClass {
		total := 0
		for _, v := range m.Confusion[c] {
			total += v
		}
		name := ""
		if c < len(names) {
			name = names[c]
		}
		if math.IsNaN(acc) {
			fmt.Fprintf(w, "%-6d %-20s %7d %9s\n", c, name, total, "-")
			continue
		}
		fmt.Fprintf(w, "%-6d %-20s %7d %8.2f%%\n", c, name, total, 100*acc)
	}
}
