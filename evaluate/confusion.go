package evaluate

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gocls/gocls/internal/atomicfile"
)

// ClassName returns names[i], or the index as text when names is short.
func ClassName(names []string, i int) string {
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
			header = append(header, ClassName(names, i))
		}
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("evaluate: %s: %w", path, err)
		}
		for i, row := range confusion {
			rec := []string{ClassName(names, i)}
			for _, v := range row {
				rec = append(rec, strconv.Itoa(v))
			}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("evaluate: %s: %w", path, err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("evaluate: %s: %w", path, err)
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
		return fmt.Errorf("evaluate: %s: empty confusion matrix", path)
	}
	p, err := confusionPlot(confusion, names, title)
	if err != nil {
		return fmt.Errorf("evaluate: %s: %w", path, err)
	}
	side := vg.Length(max(4, min(16, n))) * vg.Inch / 2
	wt, err := p.WriterTo(side+vg.Inch, side+vg.Inch/2, "png")
	if err != nil {
		return fmt.Errorf("evaluate: %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		if _, err := wt.WriteTo(w); err != nil {
			return fmt.Errorf("evaluate: %s: %w", path, err)
		}
		return nil
	})
}

// confusionPlot is the heat map of confusion with the counts written in its
// cells and the class names on both axes (true class 0 at the top).
func confusionPlot(confusion [][]int, names []string, title string) (*plot.Plot, error) {
	n := len(confusion)
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "predicted class"
	p.Y.Label.Text = "true class"
	p.Add(plotter.NewHeatMap(rowFractions(confusion), palette.Heat(64, 1)))
	lab, err := countLabels(confusion)
	if err != nil {
		return nil, err
	}
	p.Add(lab)
	xNames := make([]string, n)
	yNames := make([]string, n)
	for i := range n {
		xNames[i] = ClassName(names, i)
		yNames[n-1-i] = ClassName(names, i)
	}
	p.NominalX(xNames...)
	p.NominalY(yNames...)
	return p, nil
}

// rowFractions normalises each row of confusion by its total (a row without
// examples stays 0).
func rowFractions(confusion [][]int) confusionGrid {
	grid := confusionGrid{frac: make([][]float64, len(confusion))}
	for i, row := range confusion {
		total := 0
		for _, v := range row {
			total += v
		}
		grid.frac[i] = make([]float64, len(confusion))
		for j, v := range row {
			if total > 0 {
				grid.frac[i][j] = float64(v) / float64(total)
			}
		}
	}
	return grid
}

// countLabels writes each cell's count at its place in the heat map, smaller
// when there are many classes.
func countLabels(confusion [][]int) (*plotter.Labels, error) {
	n := len(confusion)
	var labels plotter.XYLabels
	for i, row := range confusion {
		for j, v := range row {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: float64(n - 1 - i)})
			labels.Labels = append(labels.Labels, strconv.Itoa(v))
		}
	}
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
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
	return lab, nil
}
