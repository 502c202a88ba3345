//go:build !(goexperiment.simd && amd64)

package jpeg

const useSIMD = false

func idctBlockSIMD(in *[64]int16, q *[64]int32, out []uint8, stride int) {
	idctBlock(in, q, out, stride)
}

func yccToRGBA(yy, cb, cr []uint8, out []uint8) int { return 0 }

func fancyPairsSIMD(out []uint8, s []int16, even, odd int16, shift uint) int { return 0 }

func columnSumsSIMD(inner []int16, near, far []uint8) int { return 0 }
