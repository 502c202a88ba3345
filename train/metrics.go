package train

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/evaluate"
	"github.com/gocls/gocls/internal/atomicfile"
)

// Float is a float64 that encodes as JSON null when it is NaN or infinite
// (encoding/json refuses those) and decodes null back to NaN.
type Float float64

// MarshalJSON writes null for NaN and ±Inf.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads a number, or null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// EpochRecord is one line of metrics.jsonl / metrics.csv: the training and
// validation metrics of an epoch. Values that do not exist (no validation
// images, an absent class) are NaN, written as null in JSON and as an empty
// CSV cell.
type EpochRecord struct {
	Epoch     int   `json:"epoch"`
	Step      int   `json:"step"` // optimizer steps done at the end of the epoch
	LR        Float `json:"lr"`   // learning rate of the epoch's last step
	TrainLoss Float `json:"train_loss"`
	TrainTop1 Float `json:"train_top1"` // on the augmented training batches, with the weights of each step
	ValLoss   Float `json:"val_loss"`
	ValTop1   Float `json:"val_top1"`
	// ValTop5 is reported only when there are more than 5 classes.
	ValTop5     *Float  `json:"val_top5,omitempty"`
	ValPerClass []Float `json:"val_per_class"` // top-1 accuracy of each true class
	ValN        int     `json:"val_n"`
	Seconds     Float   `json:"seconds"`         // wall time of the epoch (training and evaluation)
	ImgPerSec   Float   `json:"train_img_per_s"` // training throughput
}

// validate runs the model in inference mode over every batch of the loader
// and returns evaluate's metrics of its logits.
func validate(ctx context.Context, s *steps, l *dataset.Loader, crop, classes int) (evaluate.Metrics, error) {
	acc := evaluate.NewAccumulator(classes)
	ectx, cancel := context.WithCancel(ctx) // stops the loader's workers on an early return
	defer cancel()
	for b := range l.Epoch(ectx, 0) {
		images, _ := batchTensors(b, crop)
		logits, err := s.logits(images)
		if err != nil {
			l.Release(b)
			return evaluate.Metrics{}, err
		}
		for i := 0; i < b.Size; i++ {
			acc.Add(logits[i*classes:(i+1)*classes], int(b.Labels[i]))
		}
		l.Release(b)
	}
	if err := ctx.Err(); err != nil {
		return evaluate.Metrics{}, err
	}
	return acc.Metrics(), nil
}

// writeMetrics rewrites metrics.jsonl and metrics.csv of runDir from the
// whole history (atomically, so they always match the latest checkpoint).
func writeMetrics(runDir string, history []EpochRecord, classes int) error {
	var jl bytes.Buffer
	for _, r := range history {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("train: metrics: %w", err)
		}
		jl.Write(append(b, '\n'))
	}
	if err := atomicfile.WriteFile(filepath.Join(runDir, "metrics.jsonl"), jl.Bytes()); err != nil {
		return err
	}
	var cb bytes.Buffer
	w := csv.NewWriter(&cb)
	header := []string{"epoch", "step", "lr", "train_loss", "train_top1", "val_loss", "val_top1"}
	if classes > 5 {
		header = append(header, "val_top5")
	}
	header = append(header, "seconds", "train_img_per_s")
	for c := range classes {
		header = append(header, "val_acc_class_"+strconv.Itoa(c))
	}
	_ = w.Write(header)
	num := func(f Float) string {
		v := float64(f)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 8, 64)
	}
	for _, r := range history {
		rec := []string{strconv.Itoa(r.Epoch), strconv.Itoa(r.Step), num(r.LR), num(r.TrainLoss), num(r.TrainTop1), num(r.ValLoss), num(r.ValTop1)}
		if classes > 5 {
			top5 := Float(math.NaN())
			if r.ValTop5 != nil {
				top5 = *r.ValTop5
			}
			rec = append(rec, num(top5))
		}
		rec = append(rec, num(r.Seconds), num(r.ImgPerSec))
		for c := range classes {
			v := Float(math.NaN())
			if c < len(r.ValPerClass) {
				v = r.ValPerClass[c]
			}
			rec = append(rec, num(v))
		}
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("train: metrics.csv: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(runDir, "metrics.csv"), cb.Bytes())
}

// writeCurves draws the training curves (top: training and validation loss;
// bottom: training top-1, validation top-1 and top-5, per epoch) into path as
// a PNG.
func writeCurves(path string, history []EpochRecord) error {
	lossPlot, err := curvePlot("loss", "cross-entropy", []string{"train", "val"}, []plotter.XYs{
		series(history, func(r EpochRecord) Float { return r.TrainLoss }), series(history, func(r EpochRecord) Float { return r.ValLoss })})
	if err != nil {
		return fmt.Errorf("train: %s: %w", path, err)
	}
	accPlot, err := curvePlot("accuracy", "accuracy", []string{"train top-1", "val top-1", "val top-5"}, []plotter.XYs{
		series(history, func(r EpochRecord) Float { return r.TrainTop1 }), series(history, func(r EpochRecord) Float { return r.ValTop1 }),
		series(history, func(r EpochRecord) Float {
			if r.ValTop5 == nil {
				return Float(math.NaN())
			}
			return *r.ValTop5
		})})
	if err != nil {
		return fmt.Errorf("train: %s: %w", path, err)
	}
	accPlot.Y.Min, accPlot.Y.Max = 0, 1
	accPlot.Legend.Top = false
	img := vgimg.New(7*vg.Inch, 7*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(8)}
	plots := [][]*plot.Plot{{lossPlot}, {accPlot}}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
			return fmt.Errorf("train: %s: %w", path, err)
		}
		return nil
	})
}

// series is one curve: get of each epoch of history, leaving out the epochs
// where it is NaN or infinite.
func series(history []EpochRecord, get func(EpochRecord) Float) plotter.XYs {
	var xys plotter.XYs
	for _, r := range history {
		v := float64(get(r))
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			xys = append(xys, plotter.XY{X: float64(r.Epoch), Y: v})
		}
	}
	return xys
}

// curveColors are the curves' colours, in order (matplotlib's first three).
var curveColors = []color.Color{color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255}}

// curvePlot is a plot over epochs with one line (and points) per series,
// named in the legend; empty series are left out.
func curvePlot(title, ylabel string, names []string, data []plotter.XYs) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for i, xys := range data {
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color = curveColors[i%len(curveColors)]
		points.Color = line.Color
		points.Shape = draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(names[i], line, points)
	}
	return p, nil
}

// valSummary is the validation part of a log line: loss, top-1 and (with
// more than 5 classes) top-5, or "no validation set" when there were no
// validation images (data.val_ratio 0), whose metrics would be NaN.
func valSummary(val evaluate.Metrics, classes int) string {
	if val.N == 0 {
		return "no validation set"
	}
	s := fmt.Sprintf("val loss %.4f, top-1 %.4f", val.Loss, val.Top1)
	if classes > 5 {
		s += fmt.Sprintf(", top-5 %.4f", val.Top5)
	}
	return s
}

// record builds the EpochRecord of an epoch from its validation metrics.
func record(epoch, step int, lr, trainLoss, trainTop1 float64, val evaluate.Metrics, classes int) EpochRecord {
	r := EpochRecord{Epoch: epoch, Step: step, LR: Float(lr), TrainLoss: Float(trainLoss), TrainTop1: Float(trainTop1),
		ValLoss: Float(val.Loss), ValTop1: Float(val.Top1), ValN: val.N, ValPerClass: make([]Float, classes)}
	if val.N == 0 {
		r.ValLoss, r.ValTop1 = Float(math.NaN()), Float(math.NaN())
	}
	if classes > 5 {
		top5 := Float(val.Top5)
		if val.N == 0 {
			top5 = Float(math.NaN())
		}
		r.ValTop5 = &top5
	}
	for c := range r.ValPerClass {
		r.ValPerClass[c] = Float(math.NaN())
		if c < len(val.PerClass) {
			r.ValPerClass[c] = Float(val.PerClass[c])
		}
	}
	return r
}
