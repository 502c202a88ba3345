package resnet

import . "github.com/gomlx/gomlx/core/graph"

// goBackendName is compute/gobackend.BackendName, the String() of the pure-Go backend.
const goBackendName = "go"

// onGoBackend reports whether g runs on the pure-Go backend (see fusedBatchNorm).
func onGoBackend(g *Graph) bool {
	b := g.Backend()
	return b != nil && b.String() == goBackendName
}
