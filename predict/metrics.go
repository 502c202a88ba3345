package predict

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gocls/gocls/internal/atomicfile"
)

// Metrics are classification metrics over a set of labelled images.
type Metrics struct {
	Loss      float64   `json:"loss"`      // mean cross-entropy of the scores' softmax
	Top1      float64   `json:"top1"`      // fraction of images whose true class ranks first
	Top5      float64   `json:"top5"`      // fraction whose true class is among the 5 best
	PerClass  []float64 `json:"per_class"` // top-1 accuracy of each true class (NaN when the class is absent)
	Confusion [][]int   `json:"confusion"` // [true][predicted] counts
	N         int       `json:"n"`
}

// Accumulator collects Metrics one example at a time. The zero value is not
// usable; call NewAccumulator.
type Accumulator struct {
	classes       int
	loss          float64
	top1, top5, n int
	confusion     [][]int
}

// NewAccumulator returns an empty accumulator for a classes-way classifier.
func NewAccumulator(classes int) *Accumulator {
	c := make([][]int, classes)
	for i := range c {
		c[i] = make([]int, classes)
	}
	return &Accumulator{classes: classes, confusion: c}
}

// Add records one example: scores [classes] are logits or log-probabilities
// (any monotone scores whose softmax is the predicted distribution) and label
// the true class. Ties rank the lower class index first, as ArgMax does.
func (a *Accumulator) Add(scores []float32, label int) {
	if len(scores) != a.classes {
		panic(fmt.Sprintf("predict: Accumulator.Add: %d scores for %d classes", len(scores), a.classes))
	}
	if label < 0 || label >= a.classes {
		panic(fmt.Sprintf("predict: Accumulator.Add: label %d out of range [0,%d)", label, a.classes))
	}
	maxL := math.Inf(-1)
	for _, v := range scores {
		maxL = math.Max(maxL, float64(v))
	}
	var sum float64
	for _, v := range scores {
		sum += math.Exp(float64(v) - maxL)
	}
	a.loss += -(float64(scores[label]) - maxL - math.Log(sum))
	rank, pred := 0, 0
	for j, v := range scores {
		if v > scores[label] || (v == scores[label] && j < label) {
			rank++
		}
		if v > scores[pred] {
			pred = j
		}
	}
	if rank == 0 {
		a.top1++
	}
	if rank < 5 {
		a.top5++
	}
	a.confusion[label][pred]++
	a.n++
}

// Metrics returns the metrics of everything added so far (a copy).
func (a *Accumulator) Metrics() Metrics {
	m := Metrics{N: a.n, Confusion: make([][]int, a.classes), PerClass: make([]float64, a.classes)}
	for i, row := range a.confusion {
		m.Confusion[i] = append([]int(nil), row...)
	}
	if a.n == 0 {
		m.Loss = math.NaN()
	} else {
		m.Loss = a.loss / float64(a.n)
		m.Top1 = float64(a.top1) / float64(a.n)
		m.Top5 = float64(a.top5) / float64(a.n)
	}
	for c := range m.PerClass {
		total := 0
		for _, v := range a.confusion[c] {
			total += v
		}
		if total == 0 {
			m.PerClass[c] = math.NaN()
		} else {
			m.PerClass[c] = float64(a.confusion[c][c]) / float64(total)
		}
	}
	return m
}

// className returns names[i], or the index as text when names is short.
func className(names []string, i int) string {
	if i < len(names) && names[i] != "" {
		return names[i]
	}
	return strconv.Itoa(i)
}

// WriteConfusionCSV writes the confusion matrix ([true][predicted] counts)
// atomically to path: a header "true\predicted,NAME0,NAME1,...", then one row
// per true class starting with its name. names may be nil (indices are used).
func WriteConfusionCSV(path string, confusion [][]int, names []string) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		header := []string{`true\predicted`}
		for i := range confusion {
			header = append(header, className(names, i))
		}
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("predict: %s: %w", path, err)
		}
		for i, row := range confusion {
			rec := []string{className(names, i)}
			for _, v := range row {
				rec = append(rec, strconv.Itoa(v))
			}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("predict: %s: %w", path, err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("predict: %s: %w", path, err)
		}
		return nil
	})
}

// confusionGrid shows row-normalised confusion (fraction of each true class)
// with true class 0 at the top: column c is the predicted class, grid row r
// is true class n-1-r.
type confusionGrid struct{ frac [][]float64 }

func (g confusionGrid) Dims() (c, r int)   { return len(g.frac), len(g.frac) }
func (g confusionGrid) Z(c, r int) float64 { return g.frac[len(g.frac)-1-r][c] }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }
func (g confusionGrid) Min() float64       { return 0 }
func (g confusionGrid) Max() float64       { return 1 }

// WriteConfusionPNG draws the confusion matrix as a heat map (colour: the
// fraction of each true class predicted as each class; text: the counts)
// and writes it atomically to path as a PNG. names may be nil.
func WriteConfusionPNG(path string, confusion [][]int, names []string, title string) error {
	n := len(confusion)
	if n == 0 {
		return fmt.Errorf("predict: %s: empty confusion matrix", path)
	}
	grid := confusionGrid{frac: make([][]float64, n)}
	var labels plotter.XYLabels
	for i, row := range confusion {
		total := 0
		for _, v := range row {
			total += v
		}
		grid.frac[i] = make([]float64, n)
		for j, v := range row {
			if total > 0 {
				grid.frac[i][j] = float64(v) / float64(total)
			}
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: float64(n - 1 - i)})
			labels.Labels = append(labels.Labels, strconv.Itoa(v))
		}
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "predicted class"
	p.Y.Label.Text = "true class"
	p.Add(plotter.NewHeatMap(grid, palette.Heat(64, 1)))
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return fmt.Errorf("predict: %s: %w", path, err)
	}
	fontSize := vg.Length(10)
	if n > 20 {
		fontSize = 6
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].Color = color.Gray{Y: 40}
		lab.TextStyle[i].Font.Size = fontSize
		lab.TextStyle[i].XAlign = -0.5
		lab.TextStyle[i].YAlign = -0.5
	}
	p.Add(lab)
	xNames := make([]string, n)
	yNames := make([]string, n)
	for i := range n {
		xNames[i] = className(names, i)
		yNames[n-1-i] = className(names, i)
	}
	p.NominalX(xNames...)
	p.NominalY(yNames...)
	side := vg.Length(max(4, min(16, n))) * vg.Inch / 2
	wt, err := p.WriterTo(side+vg.Inch, side+vg.Inch/2, "png")
	if err != nil {
		return fmt.Errorf("predict: %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		if _, err := wt.WriteTo(w); err != nil {
			return fmt.Errorf("predict: %s: %w", path, err)
		}
		return nil
	})
}
