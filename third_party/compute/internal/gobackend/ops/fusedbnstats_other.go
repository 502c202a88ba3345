// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

//go:build !(amd64 && goexperiment.simd)

package ops

// Without GOEXPERIMENT=simd (or off amd64) the batch-norm fusion's row loops are plain Go.

func rowMoments(out []float32, offs []int, sum, sq []float64) { rowMomentsGo(out, offs, sum, sq) }

func normalizeRow(x, y, mean, a, offset, res []float32, relu bool) {
	normalizeRowGo(x, y, mean, a, offset, res, relu)
}

func rowGradientMoments(dy, x []float32, offs []int, mean []float32, sum, sdx []float64) {
	rowGradientMomentsGo(dy, x, offs, mean, sum, sdx)
}

func gradientRow(x, dy, dx, mean, a, k, l []float32) { gradientRowGo(x, dy, dx, mean, a, k, l) }

func addRow(dst, src []float32) { addRowGo(dst, src) }
