// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package gobackend

import (
	"runtime"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// TestOpsSchedulingDefault checks gocls's default scheduling: ops one after the other unless
// "ops_parallel" is given.
func TestOpsSchedulingDefault(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   gobackend.OpsExecutionType
	}{{"", gobackend.OpsExecutionSequential}, {"parallelism=2", gobackend.OpsExecutionSequential},
		{"ops_parallel", gobackend.OpsExecutionParallel}, {"ops_sequential", gobackend.OpsExecutionSequential}} {
		b, err := New(tc.config)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.(*gobackend.Backend).OpsExecutionType; got != tc.want {
			t.Errorf("New(%q): OpsExecutionType %d, want %d", tc.config, got, tc.want)
		}
		b.Finalize()
	}
}

// TestParallelOpsNoDeadlock runs, with ops in parallel ("ops_parallel") on a small worker pool, a graph of
// many independent matrix products, each large enough to fan out on the pool. Upstream compute v0.1.6
// deadlocked on it (seen with ResNet50 training on 2 cores): every slot held by a product waiting in
// Saturate for a free one. The deadline turns that hang into a failure.
func TestParallelOpsNoDeadlock(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // the products fan out only with 2 or more
	}
	b, err := New("ops_parallel,parallelism=2")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	const n, products = 256, 8 // n^3 over the size threshold of the large, parallel MatMul
	shape := shapes.Make(dtypes.Float32, n, n)
	f := b.Builder(t.Name()).Main()
	var outputs []compute.Value
	for i := range products {
		lhs, err := f.Parameter("lhs"+string(rune('a'+i)), shape, nil)
		if err != nil {
			t.Fatal(err)
		}
		y, err := f.DotGeneral(lhs, []int{1}, nil, lhs, []int{0}, nil, compute.DotGeneralConfig{})
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, y)
	}
	if err := f.Return(outputs, nil); err != nil {
		t.Fatal(err)
	}
	exec, err := f.Builder().Compile()
	if err != nil {
		t.Fatal(err)
	}
	flat := make([]float32, n*n)
	for i := range flat {
		flat[i] = float32(i%7) / 7
	}
	done := make(chan error, 1)
	go func() {
		for range 20 {
			inputs := make([]compute.Buffer, products)
			for i := range inputs {
				if inputs[i], err = b.BufferFromFlatData(0, flat, shape); err != nil {
					done <- err
					return
				}
			}
			if _, err := exec.Execute(inputs, nil, 0); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("deadlock: 20 executions of 8 parallel matrix products did not finish in 60s")
	}
}
