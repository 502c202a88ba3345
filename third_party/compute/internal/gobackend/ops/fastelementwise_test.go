// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// TestFastElementwiseMatchesUpstream compares the parallel elementwise executors with the upstream ones,
// bit for bit, for full-size and scalar operands on either side, NaNs included, with and without
// donated (owned) inputs.
func TestFastElementwiseMatchesUpstream(t *testing.T) {
	saved := parallelElementwiseMin
	parallelElementwiseMin = 64
	defer func() { parallelElementwiseMin = saved }()

	full := shapes.Make(dtypes.Float32, 3, 37, 5)
	scalar := shapes.Make(dtypes.Float32)
	ops := map[string]func(*gobackend.Function, compute.Value, compute.Value) (compute.Value, error){
		"add": Add, "sub": Sub, "mul": Mul, "div": Div, "max": Max, "min": Min, "greater": GreaterThan,
	}
	fast := map[string]gobackend.NodeExecutor{
		"add": parallelF32Binary(compute.OpTypeAdd, execAdd), "sub": parallelF32Binary(compute.OpTypeSub, execSub),
		"mul": parallelF32Binary(compute.OpTypeMul, execMul), "div": parallelF32Binary(compute.OpTypeDiv, execDiv),
		"max": parallelF32Binary(compute.OpTypeMax, execMax), "min": parallelF32Binary(compute.OpTypeMin, execMin),
		"greater": execGreaterThanFast,
	}
	upstream := map[string]gobackend.NodeExecutor{
		"add": execAdd, "sub": execSub, "mul": execMul, "div": execDiv, "max": execMax, "min": execMin, "greater": execGreaterThan,
	}
	rng := rand.New(rand.NewPCG(9, 9))
	values := func(s shapes.Shape) []float32 {
		v := randFloat32s(rng, s.Size())
		for i := range v {
			if i%13 == 5 {
				v[i] = float32(math.NaN())
			}
		}
		return v
	}
	for name, build := range ops {
		for _, sh := range [][2]shapes.Shape{{full, full}, {full, scalar}, {scalar, full}} {
			for _, owned := range []bool{false, true} {
				t.Run(name, func(t *testing.T) {
					backend, f := testFunction(t)
					v, err := build(f, testParameter(t, f, "l", sh[0]), testParameter(t, f, "r", sh[1]))
					if err != nil {
						t.Fatal(err)
					}
					node := v.(*gobackend.Node)
					l, r := values(sh[0]), values(sh[1])
					run := func(exec gobackend.NodeExecutor) *gobackend.Buffer {
						in := []*gobackend.Buffer{testBuffer(t, backend, sh[0], l), testBuffer(t, backend, sh[1], r)}
						out, err := exec(backend, node, in, []bool{owned, owned})
						if err != nil {
							t.Fatal(err)
						}
						return out
					}
					got, want := run(fast[name]), run(upstream[name])
					if name == "greater" {
						g, w := got.Flat.([]bool), want.Flat.([]bool)
						for i := range w {
							if g[i] != w[i] {
								t.Fatalf("%v element %d: fast %v, upstream %v", sh, i, g[i], w[i])
							}
						}
						return
					}
					g, w := got.Flat.([]float32), want.Flat.([]float32)
					for i := range w {
						if math.Float32bits(g[i]) != math.Float32bits(w[i]) && !(g[i] != g[i] && w[i] != w[i]) {
							t.Fatalf("%v element %d: fast %g, upstream %g", sh, i, g[i], w[i])
						}
					}
				})
			}
		}
	}

	t.Run("where", func(t *testing.T) {
		backend, f := testFunction(t)
		condShape := shapes.Make(dtypes.Bool, full.Dimensions...)
		for _, sh := range [][2]shapes.Shape{{full, full}, {full, scalar}, {scalar, full}} {
			v, err := Where(f, testParameter(t, f, "c", condShape), testParameter(t, f, "t", sh[0]), testParameter(t, f, "f", sh[1]))
			if err != nil {
				t.Fatal(err)
			}
			cond := make([]bool, full.Size())
			for i := range cond {
				cond[i] = rng.IntN(2) == 0
			}
			tv, fv := values(sh[0]), values(sh[1])
			inputs := func() []*gobackend.Buffer {
				c, err := backend.BufferFromFlatData(0, cond, condShape)
				if err != nil {
					t.Fatal(err)
				}
				return []*gobackend.Buffer{c.(*gobackend.Buffer), testBuffer(t, backend, sh[0], tv), testBuffer(t, backend, sh[1], fv)}
			}
			compareExecutorsWith(t, backend, v.(*gobackend.Node), inputs, execWhereFast, execWhere)
		}
	})
}

// compareExecutorsWith is compareExecutors with fresh, owned inputs for each executor.
func compareExecutorsWith(t *testing.T, backend *gobackend.Backend, node *gobackend.Node, inputs func() []*gobackend.Buffer,
	fast, upstream gobackend.NodeExecutor) {
	t.Helper()
	owned := []bool{true, true, true}
	got, err := fast(backend, node, inputs(), owned)
	if err != nil {
		t.Fatal(err)
	}
	want, err := upstream(backend, node, inputs(), owned)
	if err != nil {
		t.Fatal(err)
	}
	g, w := got.Flat.([]float32), want.Flat.([]float32)
	for i := range w {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) && !(g[i] != g[i] && w[i] != w[i]) {
			t.Fatalf("element %d of %s: fast %g, upstream %g", i, node.Shape, g[i], w[i])
		}
	}
}
