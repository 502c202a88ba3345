//go:build !(goexperiment.simd && amd64)

package dataset

// useSIMD is false without GOEXPERIMENT=simd on amd64.
var useSIMD = false

func pairWeights(c axisCoeffs) ([]int32, []int) { panic("dataset: SIMD kernels not built") }

func horizontalSIMD(out0, out1 []int32, row0 []byte, stride, minX int, cx axisCoeffs, wv []int32, off []int) {
	panic("dataset: SIMD kernels not built")
}

func verticalSIMD(dst []float32, tmp []int32, y0, rowLen int, cy axisCoeffs) {
	panic("dataset: SIMD kernels not built")
}
