// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

import "golang.org/x/sys/cpu"

// sgemmKernelAVX512 is the AVX-512 micro-kernel (fastconv_amd64.s), same contract as sgemmKernelGo.
//
//go:noescape
func sgemmKernelAVX512(k int, a, b, c *float32, ldc int, accumulate bool)

// sgemmKernelAVX2 is the AVX2+FMA micro-kernel (fastconv_amd64.s), same contract as sgemmKernelGo.
//
//go:noescape
func sgemmKernelAVX2(k int, a, b, c *float32, ldc int, accumulate bool)

// sgemmKernelName names the micro-kernel fastConv uses (see useKernel): AVX-512 where available, else
// AVX2 with FMA, else Go.
var sgemmKernelName = func() string {
	switch {
	case cpu.X86.HasAVX512F:
		return "avx512"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return "avx2"
	}
	return "go"
}()

// sgemmKernels lists the micro-kernels this CPU can run, by name, for tests and benchmarks.
func sgemmKernels() map[string]func(k int, a, b, c *float32, ldc int, accumulate bool) {
	m := map[string]func(k int, a, b, c *float32, ldc int, accumulate bool){"go": sgemmKernelGo}
	if cpu.X86.HasAVX512F {
		m["avx512"] = sgemmKernelAVX512
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		m["avx2"] = sgemmKernelAVX2
	}
	return m
}

// epilogueAVX512 applies a fused batch norm (residual, ReLU) to n values, n a multiple of 16
// (fastconv_amd64.s); see fastConvPlan.applyEpilogue.
//
//go:noescape
func epilogueAVX512(dst, a, b, res *float32, n int, relu bool)

// sgemmKernelAVX512DirectA is sgemmKernelAVX512 reading A in place with row stride lda
// (fastconv_amd64.s).
//
//go:noescape
func sgemmKernelAVX512DirectA(k int, a *float32, lda int, b, c *float32, ldc int, accumulate bool)

// sgemmKernelDirectA is the micro-kernel reading A in place, set only while the AVX-512 kernel is the
// one in use (nil otherwise: fastConv then packs A).
func sgemmKernelDirectA() func(k int, a *float32, lda int, b, c *float32, ldc int, accumulate bool) {
	if sgemmKernelName == "avx512" {
		return sgemmKernelAVX512DirectA
	}
	return nil
}

// maskAVX512 zeroes dst[i] where mask[i] is not > 0, for i < n, n a multiple of 16 (fastconv_amd64.s).
//
//go:noescape
func maskAVX512(dst, mask *float32, n int)

// epilogueAsm and maskAsm are the AVX-512 epilogues while the AVX-512 micro-kernel is in use (see
// useKernel), nil otherwise (the Go loops run): GOMLX_FASTCONV_KERNEL=avx2 then runs no AVX-512 at all.
var epilogueAsm, maskAsm = asmEpilogues(sgemmKernelName)

// asmEpilogues returns the assembly epilogues that go with the named micro-kernel (nil where none).
func asmEpilogues(kernel string) (func(dst, a, b, res *float32, n int, relu bool), func(dst, mask *float32, n int)) {
	if kernel == "avx512" {
		return epilogueAVX512, maskAVX512
	}
	return nil, nil
}
