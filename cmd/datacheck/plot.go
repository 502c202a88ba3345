package main

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gocls/gocls/internal/atomicfile"
)

// plotClasses writes a bar chart of the per-class image counts as a PNG,
// atomically.
func plotClasses(path string, counts []int) error {
	if len(counts) == 0 {
		return fmt.Errorf("plot %s: %w", path, errNoClasses)
	}
	p := plot.New()
	p.Title.Text = "Images per class"
	p.X.Label.Text = "class"
	p.Y.Label.Text = "images"
	vals := make(plotter.Values, len(counts))
	names := make([]string, len(counts))
	for i, c := range counts {
		vals[i] = float64(c)
		names[i] = fmt.Sprint(i)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(max(4, 300/float64(len(counts)))))
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	bars.LineStyle.Width = 0
	bars.Color = color.RGBA{70, 130, 180, 255}
	p.Add(bars)
	p.NominalX(names...)
	p.Y.Min = 0
	c := vgimg.PngCanvas{Canvas: vgimg.New(8*vg.Inch, 4*vg.Inch)}
	p.Draw(draw.New(c))
	err = atomicfile.Write(path, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing plot %s: %w", path, err)
	}
	return nil
}
