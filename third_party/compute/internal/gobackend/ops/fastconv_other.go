// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

//go:build !amd64

package ops

// sgemmKernelName names the micro-kernel fastConv uses (see useKernel).
var sgemmKernelName = "go"

// sgemmKernels lists the micro-kernels this CPU can run, by name, for tests and benchmarks.
func sgemmKernels() map[string]func(k int, a, b, c *float32, ldc int, accumulate bool) {
	return map[string]func(k int, a, b, c *float32, ldc int, accumulate bool){"go": sgemmKernelGo}
}

// sgemmKernelDirectA has no assembly version on this architecture: fastConv packs A.
func sgemmKernelDirectA() func(k int, a *float32, lda int, b, c *float32, ldc int, accumulate bool) {
	return nil
}

// epilogueAsm and maskAsm have no assembly version on this architecture.
var (
	epilogueAsm func(dst, a, b, res *float32, n int, relu bool)
	maskAsm     func(dst, mask *float32, n int)
)

// asmEpilogues has no assembly epilogues to return on this architecture.
func asmEpilogues(string) (func(dst, a, b, res *float32, n int, relu bool), func(dst, mask *float32, n int)) {
	return nil, nil
}
