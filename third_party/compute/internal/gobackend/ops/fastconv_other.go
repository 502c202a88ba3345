// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

//go:build !amd64

package ops

// sgemmKernel is the micro-kernel fastConv uses.
var sgemmKernel = sgemmKernelGo
