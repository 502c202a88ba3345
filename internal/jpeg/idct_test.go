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

// TestUpsampleFastMatchesScalar checks the vector parts of fancy upsampling
// against their formulas on random rows, for h2v1 (sums of one row, shift 2)
// and h2v2 (3*near+far column sums, shift 4), lengths around the vector size.
func TestUpsampleFastMatchesScalar(t *testing.T) {
	if !useSIMD {
		t.Skip("no vector upsampling in this build (needs GOEXPERIMENT=simd on amd64 with AVX2)")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, w := range []int{1, 15, 16, 17, 18, 31, 33, 100, 257} {
		near, far := make([]uint8, w), make([]uint8, w)
		for i := range near {
			near[i], far[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
		}
		if w > 2 {
			near[1], far[1] = 255, 255 // the largest sums
		}
		sums := make([]int16, w)
		k := columnSumsSIMD(sums, near, far)
		if w >= 100 && k < w-15 {
			t.Fatalf("w %d: %d column sums done", w, k)
		}
		for i := range k {
			if want := 3*int16(near[i]) + int16(far[i]); sums[i] != want {
				t.Fatalf("w %d: column sum %d = %d, want %d", w, i, sums[i], want)
			}
		}
		for _, tc := range []struct {
			s         []int16
			even, odd int16
			shift     uint
		}{{toInt16(near), 1, 2, 2}, {sums[:k], 8, 7, 4}} {
			out := make([]uint8, 2*len(tc.s))
			n := fancyPairsSIMD(out, tc.s, tc.even, tc.odd, tc.shift)
			if w >= 100 && n < len(tc.s)-2-15 {
				t.Fatalf("w %d shift %d: %d pairs done", w, tc.shift, n)
			}
			for p := range n {
				c := 3 * int32(tc.s[p+1])
				e := uint8((c + int32(tc.s[p]) + int32(tc.even)) >> tc.shift)
				o := uint8((c + int32(tc.s[p+2]) + int32(tc.odd)) >> tc.shift)
				if out[2*p] != e || out[2*p+1] != o {
					t.Fatalf("w %d shift %d: pair %d = %d,%d, want %d,%d", w, tc.shift, p, out[2*p], out[2*p+1], e, o)
				}
			}
		}
	}
}

func toInt16(b []uint8) []int16 {
	s := make([]int16, len(b))
	for i, v := range b {
		s[i] = int16(v)
	}
	return s
}
