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

// TestYCbCrFastMatchesScalar checks the vector YCbCr→RGBA conversion against
// the scalar one (jdcolor.c's tables) on every (Cb, Cr) pair, each with
// several luma values.
func TestYCbCrFastMatchesScalar(t *testing.T) {
	if !useSIMD {
		t.Skip("no vector colour conversion in this build (needs GOEXPERIMENT=simd on amd64 with AVX2)")
	}
	const n = 256 * 256
	for _, luma := range []int{0, 1, 17, 128, 200, 254, 255, -1} {
		yy, cb, cr := make([]uint8, n, n+vecSlack), make([]uint8, n, n+vecSlack), make([]uint8, n, n+vecSlack)
		for i := range n {
			cb[i], cr[i] = uint8(i), uint8(i>>8)
			yy[i] = uint8(luma)
			if luma < 0 {
				yy[i] = uint8(i * 7)
			}
		}
		got, want := make([]uint8, 4*n), make([]uint8, 4*n)
		if k := yccToRGBA(yy, cb, cr, got); k != n {
			t.Fatalf("converted %d of %d pixels", k, n)
		}
		yccToRGBAScalar(yy, cb, cr, want)
		for i := range n {
			if [4]uint8(got[4*i:]) != [4]uint8(want[4*i:]) {
				t.Fatalf("luma %d, Y %d Cb %d Cr %d: got %v, want %v", luma, yy[i], cb[i], cr[i], got[4*i:4*i+4], want[4*i:4*i+4])
			}
		}
	}
}
