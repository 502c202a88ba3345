package resnet

import (
	. "github.com/gomlx/gomlx/core/graph"
)

// Conv2D convolves x [batch, H, W, Cin] with kernel [kh, kw, Cin, Cout] using
// the given stride and symmetric zero padding on both spatial axes, and
// returns [batch, H', W', Cout]. No bias.
//
// It is the single convolution entry point of the model: it picks the fastest
// correct implementation for the graph's backend.
func Conv2D(x, kernel *Node, stride, padding int) *Node {
	return Convolve(x, kernel).Strides(stride).
		PaddingPerDim([][2]int{{padding, padding}, {padding, padding}}).Done()
}
