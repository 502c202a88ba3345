// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

// fastpool: float32 max pooling (ReduceWindow with ReduceOpMax) and its gradient (SelectAndScatterMax)
// for windows over two adjacent axes, e.g. [batch, H, W, C]. Added by gocls to its vendored
// github.com/gomlx/compute v0.1.6, whose generic executors walk every window element through an
// allocating iterator. Same semantics as those executors: padding is never selected, the first maximum
// in window order wins, a NaN wins over numbers. Anything else falls back to the upstream executors.

import (
	"math"
	"runtime"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

func init() {
	if !fastEnabled() {
		return
	}
	gobackend.SetNodeExecutor(compute.OpTypeReduceWindow, gobackend.PriorityArch, execReduceWindowFast)
	gobackend.SetNodeExecutor(compute.OpTypeSelectAndScatterMax, gobackend.PriorityArch, execSelectAndScatterFast)
}

// poolPlan is a window over axes a, a+1 of an operand seen as [outer, d0, d1, inner].
type poolPlan struct {
	outer, inner       int
	inDim, outDim, win [2]int
	stride, padLow     [2]int
}

// newPoolPlan returns the plan, or false if the window is not confined to two adjacent axes or uses
// dilations.
func newPoolPlan(operand, output shapes.Shape, window, strides []int, paddings [][2]int, inDil, winDil []int) (poolPlan, bool) {
	rank := operand.Rank()
	if operand.DType != dtypes.Float32 || rank < 2 || len(window) != rank {
		return poolPlan{}, false
	}
	for _, s := range [][]int{inDil, winDil} {
		for _, v := range s {
			if v > 1 {
				return poolPlan{}, false
			}
		}
	}
	stride := func(ax int) int {
		if len(strides) > ax {
			return strides[ax]
		}
		return window[ax]
	}
	pad := func(ax int) [2]int {
		if len(paddings) > ax {
			return paddings[ax]
		}
		return [2]int{}
	}
	first := -1
	for ax := range rank {
		if window[ax] != 1 || stride(ax) != 1 || pad(ax) != [2]int{} {
			if first < 0 {
				first = ax
			} else if ax > first+1 {
				return poolPlan{}, false
			}
		}
	}
	if first < 0 {
		return poolPlan{}, false
	}
	first = min(first, rank-2)
	p := poolPlan{outer: 1, inner: 1}
	for ax := range first {
		p.outer *= operand.Dimensions[ax]
	}
	for ax := first + 2; ax < rank; ax++ {
		p.inner *= operand.Dimensions[ax]
	}
	for d := range 2 {
		ax := first + d
		p.inDim[d], p.outDim[d], p.win[d] = operand.Dimensions[ax], output.Dimensions[ax], window[ax]
		p.stride[d], p.padLow[d] = stride(ax), pad(ax)[0]
		if p.stride[d] < 1 {
			return poolPlan{}, false
		}
	}
	return p, p.outer*p.inner > 0
}

// windowRange returns the window offsets [lo, hi) of output position q along d that fall inside the input.
func (p *poolPlan) windowRange(d, q int) (lo, hi int) {
	start := q*p.stride[d] - p.padLow[d]
	lo, hi = max(0, -start), min(p.win[d], p.inDim[d]-start)
	return lo, max(lo, hi)
}

// parallelFor runs fn(i) for i in [0, n) on up to GOMAXPROCS goroutines, in contiguous chunks.
func parallelFor(n int, fn func(lo, hi int)) { parallelForN(runtime.GOMAXPROCS(0), n, fn) }

// parallelForN is parallelFor on up to workers goroutines.
func parallelForN(workers, n int, fn func(lo, hi int)) {
	workers = min(workers, n)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

func execReduceWindowFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, owned []bool) (*gobackend.Buffer, error) {
	data := node.Data.(*reduceWindowNode)
	operand := inputs[0]
	if data.reductionType != compute.ReduceOpMax {
		return execReduceWindow(backend, node, inputs, owned)
	}
	p, ok := newPoolPlan(operand.RawShape, node.Shape, data.windowDimensions, data.strides, data.paddings,
		data.inputDilations, data.windowDilations)
	if !ok {
		return execReduceWindow(backend, node, inputs, owned)
	}
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	p.maxPool(operand.Flat.([]float32), output.Flat.([]float32))
	return output, nil
}

// maxPool writes the window maxima of in to out (-Inf for windows entirely in padding).
func (p *poolPlan) maxPool(in, out []float32) {
	inner := p.inner
	parallelFor(p.outer*p.outDim[0], func(lo, hi int) {
		for row := lo; row < hi; row++ {
			o, q0 := row/p.outDim[0], row%p.outDim[0]
			lo0, hi0 := p.windowRange(0, q0)
			r0 := q0*p.stride[0] - p.padLow[0]
			for q1 := range p.outDim[1] {
				lo1, hi1 := p.windowRange(1, q1)
				r1 := q1*p.stride[1] - p.padLow[1]
				dst := out[((row)*p.outDim[1]+q1)*inner : ((row)*p.outDim[1]+q1+1)*inner]
				for c := range dst {
					dst[c] = float32(math.Inf(-1))
				}
				for w0 := lo0; w0 < hi0; w0++ {
					for w1 := lo1; w1 < hi1; w1++ {
						base := ((o*p.inDim[0]+r0+w0)*p.inDim[1] + r1 + w1) * inner
						src := in[base : base+inner]
						for c, v := range src {
							if v > dst[c] || v != v {
								dst[c] = v
							}
						}
					}
				}
			}
		}
	})
}

func execSelectAndScatterFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, owned []bool) (*gobackend.Buffer, error) {
	data := node.Data.(*selectAndScatterNode)
	operand, source := inputs[0], inputs[1]
	if data.isMin || source.RawShape.DType != dtypes.Float32 {
		return execSelectAndScatter(backend, node, inputs, owned)
	}
	p, ok := newPoolPlan(operand.RawShape, source.RawShape, data.windowDimensions, data.strides, data.paddings, nil, nil)
	if !ok {
		return execSelectAndScatter(backend, node, inputs, owned)
	}
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	p.maxPoolGrad(operand.Flat.([]float32), source.Flat.([]float32), output.Flat.([]float32))
	return output, nil
}

// maxPoolGrad adds each source value to the operand position that won its window (see maxPool), into
// out, which it zeroes first. Windows of different outer indices never overlap, so those run in parallel.
func (p *poolPlan) maxPoolGrad(in, src, out []float32) {
	inner := p.inner
	plane := p.inDim[0] * p.inDim[1] * inner
	parallelFor(p.outer, func(lo, hi int) {
		clear(out[lo*plane : hi*plane])
		best := make([]float32, inner)
		bestIdx := make([]int, inner)
		for o := lo; o < hi; o++ {
			for q0 := range p.outDim[0] {
				lo0, hi0 := p.windowRange(0, q0)
				r0 := q0*p.stride[0] - p.padLow[0]
				for q1 := range p.outDim[1] {
					lo1, hi1 := p.windowRange(1, q1)
					if lo0 >= hi0 || lo1 >= hi1 {
						continue
					}
					r1 := q1*p.stride[1] - p.padLow[1]
					first := true
					for w0 := lo0; w0 < hi0; w0++ {
						for w1 := lo1; w1 < hi1; w1++ {
							base := ((o*p.inDim[0]+r0+w0)*p.inDim[1] + r1 + w1) * inner
							vals := in[base : base+inner]
							if first {
								copy(best, vals)
								for c := range bestIdx {
									bestIdx[c] = base + c
								}
								first = false
								continue
							}
							for c, v := range vals {
								if v > best[c] || v != v {
									best[c], bestIdx[c] = v, base+c
								}
							}
						}
					}
					s := src[((o*p.outDim[0]+q0)*p.outDim[1]+q1)*inner:]
					for c, idx := range bestIdx {
						out[idx] += s[c]
					}
				}
			}
		}
	})
}
