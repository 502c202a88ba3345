// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

//go:build !amd64 || !goexperiment.simd

package ops

// The Winograd transforms in use: Go (the AVX2 ones need amd64 and GOEXPERIMENT=simd).
var wgInputTransform, wgOutputTransform, wgKernelTransform = wgTransforms(true)

// wgTransforms returns the Go transforms (there are no others on this build).
func wgTransforms(bool) (func(d, res *[wgXi][wgL]float32), func(m []float32, stride int, res *[wgOut * wgOut][wgL]float32),
	func(g *[9][wgL]float32, res *[wgXi][wgL]float32)) {
	return wgInputTransformGo, wgOutputTransformGo, wgKernelTransformGo
}
