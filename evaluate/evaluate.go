// Package evaluate holds the classification metrics that training's
// validation and predict's evaluation mode share: an Accumulator of top-1,
// top-5, cross-entropy, per-class accuracy and the confusion matrix, and the
// confusion.csv / confusion.png writers. It plays the part of torchvision's
// references/classification/utils.py (accuracy) and timm's
// timm/utils/metrics.py: train and predict both import it, neither imports
// the other.
package evaluate

import (
	"fmt"
	"math"
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
		panic(fmt.Sprintf("evaluate: Accumulator.Add: %d scores for %d classes", len(scores), a.classes))
	}
	if label < 0 || label >= a.classes {
		panic(fmt.Sprintf("evaluate: Accumulator.Add: label %d out of range [0,%d)", label, a.classes))
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
