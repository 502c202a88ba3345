//go:build !cgo

package backend

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestXLAWithoutCgo(t *testing.T) {
	for _, name := range []string{"xla:cpu", "xla:cuda", "xla"} {
		_, err := New(name)
		require.ErrorContains(t, err, "built without cgo")
		require.ErrorContains(t, err, "CGO_ENABLED=1")
	}
}
