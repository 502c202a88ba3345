// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// testFunction returns the main function of a fresh builder on a fresh Go backend.
func testFunction(t testing.TB) (*gobackend.Backend, *gobackend.Function) {
	t.Helper()
	b, err := gobackend.New("")
	if err != nil {
		t.Fatal(err)
	}
	backend := b.(*gobackend.Backend)
	t.Cleanup(backend.Finalize)
	return backend, backend.Builder(t.Name()).Main().(*gobackend.Function)
}

func testParameter(t testing.TB, f *gobackend.Function, name string, shape shapes.Shape) compute.Value {
	t.Helper()
	v, err := f.Parameter(name, shape, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testBuffer(t testing.TB, backend *gobackend.Backend, shape shapes.Shape, flat []float32) *gobackend.Buffer {
	t.Helper()
	buf, err := backend.BufferFromFlatData(0, flat, shape)
	if err != nil {
		t.Fatal(err)
	}
	return buf.(*gobackend.Buffer)
}

// compareExecutors runs node with the fast and the upstream executor and wants bit-identical results
// (tol 0) or results within tol relative error.
func compareExecutors(t *testing.T, backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer,
	fast, upstream gobackend.NodeExecutor, tol float64) {
	t.Helper()
	got, err := fast(backend, node, inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := upstream(backend, node, inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, w := got.Flat.([]float32), want.Flat.([]float32)
	for i := range w {
		same := g[i] == w[i] || (g[i] != g[i] && w[i] != w[i])
		if !same && (tol == 0 || math.Abs(float64(g[i]-w[i])) > tol*(1+math.Abs(float64(w[i])))) {
			t.Fatalf("element %d of %s: fast %g, upstream %g", i, node.Shape, g[i], w[i])
		}
	}
}

// TestFastConvMatchesUpstream runs every fcCases convolution through ConvGeneral's node and compares the
// fast executor with the upstream one.
func TestFastConvMatchesUpstream(t *testing.T) {
	for _, c := range fcCases() {
		t.Run(c.name, func(t *testing.T) {
			backend, f := testFunction(t)
			inShape := shapes.Make(dtypes.Float32, c.inDims...)
			kShape := shapes.Make(dtypes.Float32, c.kDims...)
			v, err := ConvGeneral(f, testParameter(t, f, "x", inShape), testParameter(t, f, "k", kShape), c.axes,
				c.strides, c.paddings, c.inputDilations, c.kDilate, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, uint64(len(c.name))))
			inputs := []*gobackend.Buffer{
				testBuffer(t, backend, inShape, randFloat32s(rng, inShape.Size())),
				testBuffer(t, backend, kShape, randFloat32s(rng, kShape.Size())),
			}
			// Both sides round in float32 (upstream in a different order): 1e-3 here; the precise check
			// is TestFastConvMatchesNaive's, against float64.
			compareExecutors(t, backend, v.(*gobackend.Node), inputs, execConvGeneralFast, execConvGeneral, 1e-3)
		})
	}
}

// TestFastPoolMatchesUpstream compares max pooling and its gradient with the upstream executors, with ties
// (values rounded to few levels), NaNs and windows partly or wholly in padding.
func TestFastPoolMatchesUpstream(t *testing.T) {
	type poolCase struct {
		dims, window, strides []int
		paddings              [][2]int
	}
	cases := []poolCase{
		{[]int{2, 9, 8, 5}, []int{1, 3, 3, 1}, []int{1, 2, 2, 1}, [][2]int{{0, 0}, {1, 1}, {1, 1}, {0, 0}}}, // ResNet stem
		{[]int{2, 3, 7, 6}, []int{1, 1, 2, 2}, []int{1, 1, 2, 2}, nil},                                      // NCHW 2x2
		{[]int{3, 6, 5, 2}, []int{1, 3, 2, 1}, []int{1, 1, 2, 1}, [][2]int{{0, 0}, {2, 3}, {0, 1}, {0, 0}}}, // wide padding
		{[]int{1, 7, 7, 4}, []int{1, 7, 7, 1}, []int{1, 1, 1, 1}, nil},                                      // global, one window
		{[]int{10, 12}, []int{3, 3}, []int{2, 3}, [][2]int{{1, 1}, {0, 2}}},                                 // rank 2
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			backend, f := testFunction(t)
			shape := shapes.Make(dtypes.Float32, c.dims...)
			rng := rand.New(rand.NewPCG(7, uint64(i)))
			vals := randFloat32s(rng, shape.Size())
			for j := range vals {
				vals[j] = float32(math.Round(float64(vals[j]) * 2)) // many ties
				if j%17 == 3 {
					vals[j] = float32(math.NaN())
				}
			}
			x := testParameter(t, f, "x", shape)
			pooled, err := ReduceWindow(f, x, compute.ReduceOpMax, c.window, c.strides, nil, nil, c.paddings)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := newPoolPlan(shape, pooled.(*gobackend.Node).Shape, c.window, c.strides, c.paddings, nil, nil); !ok {
				t.Fatal("fast pooling does not handle this case")
			}
			xBuf := testBuffer(t, backend, shape, vals)
			compareExecutors(t, backend, pooled.(*gobackend.Node), []*gobackend.Buffer{xBuf},
				execReduceWindowFast, execReduceWindow, 0)

			outShape := pooled.(*gobackend.Node).Shape
			src := testParameter(t, f, "src", outShape)
			grad, err := SelectAndScatterMax(f, x, src, c.window, c.strides, c.paddings)
			if err != nil {
				t.Fatal(err)
			}
			srcBuf := testBuffer(t, backend, outShape, randFloat32s(rng, outShape.Size()))
			compareExecutors(t, backend, grad.(*gobackend.Node), []*gobackend.Buffer{xBuf, srcBuf},
				execSelectAndScatterFast, execSelectAndScatter, 1e-6)
		})
	}
}
