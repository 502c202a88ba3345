// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package workerspool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNestedFanOutNoDeadlock fills every slot of the pool with tasks that each fan work out on the same
// pool (as the executor's ops do with their MatMuls and convolutions), with Saturate and WaitToStart.
// Upstream compute v0.1.6 deadlocks here: each task waits for a free slot while holding one. The
// deadline turns that hang into a failure.
func TestNestedFanOutNoDeadlock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fanOut func(p *Pool, work func())
	}{
		{"Saturate", func(p *Pool, work func()) { p.Saturate(work) }},
		{"WaitToStart", func(p *Pool, work func()) {
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				p.WaitToStart(func() { defer wg.Done(); work() })
			}
			wg.Wait()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const slots = 2
			pool := New()
			pool.SetMaxParallelism(slots)
			var items atomic.Int32
			items.Store(100)
			work := func() { // work-sharing loop, as Saturate's tasks are
				for items.Add(-1) >= 0 {
				}
			}
			var allStarted, allDone sync.WaitGroup
			allStarted.Add(slots)
			allDone.Add(slots)
			done := make(chan struct{})
			go func() { // the executor's dispatcher: one op per slot
				for range slots {
					pool.StartWhenFree(func() {
						defer allDone.Done()
						allStarted.Done()
						allStarted.Wait() // every slot is taken before any op fans out
						tc.fanOut(pool, work)
					})
				}
				allDone.Wait()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("deadlock: %d ops fanning out on a pool of %d slots did not finish in 10s", slots, slots)
			}
		})
	}
}
