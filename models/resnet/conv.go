package resnet

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
)

// Conv2D convolves x [batch, H, W, Cin] with kernel [kh, kw, Cin, Cout] of the same dtype, using the
// given stride and symmetric zero padding on both spatial axes, and returns [batch, H', W', Cout] with
// H' = (H+2*padding-kh)/stride+1. No bias.
//
// It is GoMLX's Convolve: autodiff builds its gradients as two more convolutions (ConvGeneral with
// kernel and input dilation), which every backend runs -- the pure-Go one with the fast float32 and
// bfloat16 executors of third_party/compute. The one exception is ONNX Runtime, whose Conv lacks input
// dilation: built with -tags onnx, its graphs get the gather convolution of conv_onnx.go.
//
// It panics on programmer errors (ranks, channel or dtype mismatch, non-positive stride, negative
// padding, kernel larger than the padded input).
func Conv2D(x, kernel *Node, stride, padding int) *Node {
	checkConv2D(x, kernel, stride, padding)
	if y, ok := onnxConv2D(x, kernel, stride, padding); ok {
		return y
	}
	pad := [2]int{padding, padding}
	return Convolve(x, kernel).Strides(stride).PaddingPerDim([][2]int{pad, pad}).Done()
}

// checkConv2D panics with a message naming the problem when Conv2D's arguments do not fit together.
func checkConv2D(x, kernel *Node, stride, padding int) {
	if x.Rank() != 4 || kernel.Rank() != 4 {
		panic(fmt.Sprintf("resnet.Conv2D: want x [batch,H,W,Cin] and kernel [kh,kw,Cin,Cout], got %s and %s",
			x.Shape(), kernel.Shape()))
	}
	d, kd := x.Shape().Dimensions, kernel.Shape().Dimensions
	if kd[2] != d[3] {
		panic(fmt.Sprintf("resnet.Conv2D: x has %d channels but kernel %s expects %d", d[3], kernel.Shape(), kd[2]))
	}
	if x.DType() != kernel.DType() {
		panic(fmt.Sprintf("resnet.Conv2D: x dtype %s != kernel dtype %s", x.DType(), kernel.DType()))
	}
	if stride < 1 || padding < 0 {
		panic(fmt.Sprintf("resnet.Conv2D: stride %d must be >= 1 and padding %d >= 0", stride, padding))
	}
	if d[1]+2*padding < kd[0] || d[2]+2*padding < kd[1] {
		panic(fmt.Sprintf("resnet.Conv2D: kernel %dx%d larger than padded input %dx%d",
			kd[0], kd[1], d[1]+2*padding, d[2]+2*padding))
	}
}
