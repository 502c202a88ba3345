package jpeg

import (
	"math/rand/v2"
	"testing"
)

// TestIDCTFastMatchesScalar checks the vector inverse DCT against the scalar
// one (jidctint.c's arithmetic) on random blocks: sparse and dense, small
// and large coefficients, outputs past the clamping range included.
func TestIDCTFastMatchesScalar(t *testing.T) {
	if !useSIMD {
		t.Skip("no vector IDCT in this build (needs GOEXPERIMENT=simd on amd64 with AVX2)")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		var in [64]int16
		var q [64]int32
		density := []int{1, 3, 10, 64}[i%4]
		scale := []int{4, 64, 1024, 2047}[i/4%4]
		for k := range in {
			q[k] = int32(1 + rng.IntN(16))
			if k == 0 || rng.IntN(64) < density {
				in[k] = int16(rng.IntN(2*scale+1) - scale)
			}
		}
		var want, got [64]uint8
		idctBlock(&in, &q, want[:], 8)
		idctBlockSIMD(&in, &q, got[:], 8)
		if want != got {
			t.Fatalf("block %d (density %d, scale %d): got %v, want %v", i, density, scale, got, want)
		}
	}
}
