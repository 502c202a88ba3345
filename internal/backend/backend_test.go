package backend

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewGo(t *testing.T) {
	for _, name := range []string{"", "go"} {
		b, err := New(name)
		require.NoError(t, err)
		require.Equal(t, "Go Backend", b.Name())
	}
}

func TestNewUnknown(t *testing.T) {
	_, err := New("tpu9")
	require.ErrorContains(t, err, `backend "tpu9" unknown`)
	require.ErrorContains(t, err, "go")
}
