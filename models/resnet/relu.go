package resnet

import (
	. "github.com/gomlx/gomlx/core/graph"
)

// relu returns max(x, 0) with torch's gradient: dL/dx = dL/dy where x > 0, else 0 (also at x == 0).
//
// The gradient is written by hand: GoMLX's Max gradient builds five full-size elementwise ops per
// ReLU, this one two (a comparison and a select), Where(x > 0, dy, 0), which third_party/compute fuses
// into the convolution computing dy. The output's custom gradient records dL/dy and the input's custom
// gradient uses it; the autodiff gradient of Max is left unused (the backend prunes it).
func relu(x *Node) *Node {
	zero := ScalarZero(x.Graph(), x.DType())
	var dy *Node
	xg := IdentityWithCustomGradient(x, func(x, _ *Node) *Node {
		if dy == nil {
			panic("resnet: internal error: ReLU input gradient requested before the output gradient")
		}
		return Where(GreaterThan(x, zero), dy, zero)
	})
	return IdentityWithCustomGradient(Max(xg, zero), func(_, v *Node) *Node {
		dy = v
		return v
	})
}
