// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

//go:build !amd64 || !goexperiment.simd

package ops

// wgTransforms returns the Go transforms (the AVX2 ones need amd64 and GOEXPERIMENT=simd).
func wgTransforms(bool) wgFuncs { return wgFuncsGo }
