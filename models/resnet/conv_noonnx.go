//go:build !onnx

package resnet

import . "github.com/gomlx/gomlx/core/graph"

// onnxConv2D is, with the onnx build tag, Conv2D for ONNX Runtime graphs (conv_onnx.go). Without it there
// is no ONNX Runtime backend, and Conv2D is always GoMLX's Convolve.
func onnxConv2D(_, _ *Node, _, _ int) (*Node, bool) { return nil, false }
