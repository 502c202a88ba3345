// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

// fastelementwise: multi-threaded float32 Add, Sub, Mul, Div, Max, Min, GreaterThan and Where for large
// tensors without broadcasting (operands shaped like the output, or scalars). Added by gocls to its
// vendored github.com/gomlx/compute v0.1.6, whose elementwise executors run on one core; with
// sequential op execution a training step spends about a third of its time in them. Everything else
// (other dtypes, broadcasting, small tensors) goes to the upstream executors.

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
)

// parallelElementwiseMin is the output size from which the elementwise executors split the work.
var parallelElementwiseMin = 1 << 15

func init() {
	if !fastEnabled() {
		return
	}
	binary := map[compute.OpType]gobackend.NodeExecutor{
		compute.OpTypeAdd: execAdd, compute.OpTypeMul: execMul, compute.OpTypeSub: execSub,
		compute.OpTypeDiv: execDiv, compute.OpTypeMax: execMax, compute.OpTypeMin: execMin,
	}
	for op, orig := range binary {
		gobackend.SetNodeExecutor(op, gobackend.PriorityArch, parallelF32Binary(op, orig))
	}
	gobackend.SetNodeExecutor(compute.OpTypeGreaterThan, gobackend.PriorityArch, execGreaterThanFast)
	gobackend.SetNodeExecutor(compute.OpTypeWhere, gobackend.PriorityArch, execWhereFast)
}

// f32Binary sets o[i] = op(l[i], r[i]); l or r may be a single value (a scalar operand). Written out per
// op so that the loops have no calls.
func f32Binary(op compute.OpType, l, r, o []float32) {
	switch {
	case len(r) == 1:
		b := r[0]
		l = l[:len(o)]
		switch op { //nolint:exhaustive
		case compute.OpTypeAdd:
			for i, a := range l {
				o[i] = a + b
			}
		case compute.OpTypeMul:
			for i, a := range l {
				o[i] = a * b
			}
		case compute.OpTypeSub:
			for i, a := range l {
				o[i] = a - b
			}
		case compute.OpTypeDiv:
			for i, a := range l {
				o[i] = a / b
			}
		case compute.OpTypeMax:
			for i, a := range l {
				o[i] = max(a, b)
			}
		case compute.OpTypeMin:
			for i, a := range l {
				o[i] = min(a, b)
			}
		}
	case len(l) == 1:
		a := l[0]
		r = r[:len(o)]
		switch op { //nolint:exhaustive
		case compute.OpTypeAdd:
			for i, b := range r {
				o[i] = a + b
			}
		case compute.OpTypeMul:
			for i, b := range r {
				o[i] = a * b
			}
		case compute.OpTypeSub:
			for i, b := range r {
				o[i] = a - b
			}
		case compute.OpTypeDiv:
			for i, b := range r {
				o[i] = a / b
			}
		case compute.OpTypeMax:
			for i, b := range r {
				o[i] = max(a, b)
			}
		case compute.OpTypeMin:
			for i, b := range r {
				o[i] = min(a, b)
			}
		}
	default:
		l, r = l[:len(o)], r[:len(o)]
		switch op { //nolint:exhaustive
		case compute.OpTypeAdd:
			for i, a := range l {
				b := r[i]
				o[i] = a + b
			}
		case compute.OpTypeMul:
			for i, a := range l {
				b := r[i]
				o[i] = a * b
			}
		case compute.OpTypeSub:
			for i, a := range l {
				b := r[i]
				o[i] = a - b
			}
		case compute.OpTypeDiv:
			for i, a := range l {
				b := r[i]
				o[i] = a / b
			}
		case compute.OpTypeMax:
			for i, a := range l {
				b := r[i]
				o[i] = max(a, b)
			}
		case compute.OpTypeMin:
			for i, a := range l {
				b := r[i]
				o[i] = min(a, b)
			}
		}
	}
}

// chunk returns s[lo:hi], or s itself when it is a single (broadcast) value.
func chunk[T any](s []T, lo, hi int) []T {
	if len(s) == 1 {
		return s
	}
	return s[lo:hi]
}

// elementwiseFits reports whether the float32 operands are each shaped like the output or scalar,
// and the output large enough to split.
func elementwiseFits(node *gobackend.Node, operands ...*gobackend.Buffer) bool {
	out := node.Shape
	if out.IsDynamic() || out.Size() < parallelElementwiseMin {
		return false
	}
	for _, b := range operands {
		if b.RawShape.Size() != 1 && !b.RawShape.EqualDimensions(out) {
			return false
		}
	}
	return true
}

func parallelF32Binary(op compute.OpType, orig gobackend.NodeExecutor) gobackend.NodeExecutor {
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, owned []bool) (*gobackend.Buffer, error) {
		if node.Shape.DType != dtypes.Float32 || inputs[0].RawShape.DType != dtypes.Float32 || !elementwiseFits(node, inputs[0], inputs[1]) {
			return orig(backend, node, inputs, owned)
		}
		lhs, rhs, output, _, _ := binaryOperandsAndOutputForExecution(backend, node, inputs, owned, node.Shape)
		l, r, o := lhs.Flat.([]float32), rhs.Flat.([]float32), output.Flat.([]float32)
		parallelFor(len(o), func(lo, hi int) { f32Binary(op, chunk(l, lo, hi), chunk(r, lo, hi), o[lo:hi]) })
		return output, nil
	}
}

func execGreaterThanFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, owned []bool) (*gobackend.Buffer, error) {
	lhs, rhs := inputs[0], inputs[1]
	if lhs.RawShape.DType != dtypes.Float32 || !elementwiseFits(node, lhs, rhs) {
		return execGreaterThan(backend, node, inputs, owned)
	}
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	l, r, o := lhs.Flat.([]float32), rhs.Flat.([]float32), output.Flat.([]bool)
	parallelFor(len(o), func(lo, hi int) {
		l, r, o := chunk(l, lo, hi), chunk(r, lo, hi), o[lo:hi]
		switch {
		case len(r) == 1:
			c := r[0]
			for i, v := range l[:len(o)] {
				o[i] = v > c
			}
		case len(l) == 1:
			c := l[0]
			for i, v := range r[:len(o)] {
				o[i] = c > v
			}
		default:
			r = r[:len(l)]
			for i, v := range l[:len(o)] {
				o[i] = v > r[i]
			}
		}
	})
	return output, nil
}

func execWhereFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, owned []bool) (*gobackend.Buffer, error) {
	cond, onTrue, onFalse := inputs[0], inputs[1], inputs[2]
	if node.Shape.DType != dtypes.Float32 || cond.RawShape.Size() == 1 || !elementwiseFits(node, cond, onTrue, onFalse) {
		return execWhere(backend, node, inputs, owned)
	}
	var output *gobackend.Buffer
	switch {
	case onTrue.RawShape.Equal(node.Shape) && owned[1]:
		output, inputs[1] = onTrue, nil
	case onFalse.RawShape.Equal(node.Shape) && owned[2]:
		output, inputs[2] = onFalse, nil
	default:
		var err error
		if output, err = backend.GetBuffer(node.Shape); err != nil {
			return nil, err
		}
	}
	c, t, f, o := cond.Flat.([]bool), onTrue.Flat.([]float32), onFalse.Flat.([]float32), output.Flat.([]float32)
	parallelFor(len(o), func(lo, hi int) {
		c, t, f, o := c[lo:hi], chunk(t, lo, hi), chunk(f, lo, hi), o[lo:hi]
		switch {
		case len(t) > 1 && len(f) == 1: // e.g. a ReLU gradient: Where(x > 0, dy, 0)
			fv := f[0]
			t = t[:len(c)]
			for i, b := range c {
				v := fv
				if b {
					v = t[i]
				}
				o[i] = v
			}
		case len(t) > 1 && len(f) > 1:
			t, f = t[:len(c)], f[:len(c)]
			for i, b := range c {
				v := f[i]
				if b {
					v = t[i]
				}
				o[i] = v
			}
		default:
			for i, b := range c {
				if b {
					o[i] = t[min(i, len(t)-1)]
				} else {
					o[i] = f[min(i, len(f)-1)]
				}
			}
		}
	})
	return output, nil
}
