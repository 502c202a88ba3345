package train

import (
	"context"
	"math"

	"github.com/gocls/gocls/dataset"
)

// Metrics are classification metrics over a set of images.
type Metrics struct {
	Loss      float64   `json:"loss"`
	Top1      float64   `json:"top1"`
	Top5      float64   `json:"top5"`
	PerClass  []float64 `json:"per_class"` // top-1 accuracy of each true class (NaN when the class is absent)
	Confusion [][]int   `json:"confusion"` // [true][predicted] counts
	N         int       `json:"n"`
}

// evaluate runs the model in inference mode over every batch of the loader.
func evaluate(ctx context.Context, s *steps, l *dataset.Loader, crop, classes int) (Metrics, error) {
	acc := newAccumulator(classes)
	for b := range l.Epoch(ctx, 0) {
		logits, err := s.logits(b, crop)
		if err != nil {
			return Metrics{}, err
		}
		for i := 0; i < b.Size; i++ {
			acc.add(logits[i*classes:(i+1)*classes], int(b.Labels[i]))
		}
		l.Release(b)
	}
	if err := ctx.Err(); err != nil {
		return Metrics{}, err
	}
	return acc.metrics(), nil
}

type accumulator struct {
	classes       int
	loss          float64
	top1, top5, n int
	confusion     [][]int
}

func newAccumulator(classes int) *accumulator {
	c := make([][]int, classes)
	for i := range c {
		c[i] = make([]int, classes)
	}
	return &accumulator{classes: classes, confusion: c}
}

// add records one example's logits and true label.
func (a *accumulator) add(logits []float32, label int) {
	maxL := math.Inf(-1)
	for _, v := range logits {
		maxL = math.Max(maxL, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - maxL)
	}
	a.loss += -(float64(logits[label]) - maxL - math.Log(sum))
	rank, pred := 0, 0
	for j, v := range logits {
		if v > logits[label] || (v == logits[label] && j < label) {
			rank++
		}
		if v > logits[pred] {
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

func (a *accumulator) metrics() Metrics {
	m := Metrics{N: a.n, Confusion: a.confusion, PerClass: make([]float64, a.classes)}
	if a.n == 0 {
		m.Loss, m.Top1, m.Top5 = math.NaN(), 0, 0
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
