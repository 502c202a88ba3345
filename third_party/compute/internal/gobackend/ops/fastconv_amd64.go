// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import "golang.org/x/sys/cpu"

// sgemmKernelAVX512 is the AVX-512 micro-kernel (fastconv_amd64.s), same contract as sgemmKernelGo.
//
//go:noescape
func sgemmKernelAVX512(k int, a, b, c *float32, ldc int, accumulate bool)

// sgemmKernel is the micro-kernel fastConv uses.
var sgemmKernel = func() func(k int, a, b, c *float32, ldc int, accumulate bool) {
	if cpu.X86.HasAVX512F {
		return sgemmKernelAVX512
	}
	return sgemmKernelGo
}()
