package backend

import (
	"reflect"
	"testing"

	"github.com/gomlx/compute"
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

// TestNewGoOptions checks that New opens the pure-Go backend exactly as compute does for the same
// configuration: "" and "go" with compute's default scheduling of ops, "go:OPTIONS" with those options.
// The backend type is internal to compute, so its OpsExecutionType field is read by reflection.
func TestNewGoOptions(t *testing.T) {
	execType := func(b compute.Backend) int64 {
		t.Helper()
		f := reflect.ValueOf(b).Elem().FieldByName("OpsExecutionType")
		require.True(t, f.IsValid(), "%T has no OpsExecutionType field", b)
		return f.Int()
	}
	upstream := func(config string) int64 {
		b, err := compute.NewWithConfig(config)
		require.NoError(t, err)
		defer b.Finalize()
		return execType(b)
	}
	require.NotEqual(t, upstream("go:ops_sequential"), upstream("go:ops_parallel"))
	for _, tc := range []struct{ name, config string }{
		{"", "go"}, {"go", "go"}, {"go:ops_parallel", "go:ops_parallel"}, {"go:ops_sequential", "go:ops_sequential"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.name)
			require.NoError(t, err)
			defer b.Finalize()
			require.Equal(t, upstream(tc.config), execType(b))
		})
	}
}
