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

// TestNewGoOpsSequential checks the ops_sequential promise of New: a plain "go" backend runs ops one
// after the other, exactly as "go:ops_sequential" does, while "go:OPTIONS" is passed through as given.
// The backend type is internal to compute, so its OpsExecutionType field is read by reflection and
// compared with backends compute configures itself.
func TestNewGoOpsSequential(t *testing.T) {
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
	sequential, dynamic, parallel := upstream("go:ops_sequential"), upstream("go"), upstream("go:ops_parallel")
	require.NotEqual(t, sequential, dynamic, "compute's default is already sequential: ops_sequential would be moot")
	for _, tc := range []struct {
		name string
		want int64
	}{{"", sequential}, {"go", sequential}, {"go:ops_parallel", parallel}, {"go:dependency_order", dynamic}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.name)
			require.NoError(t, err)
			defer b.Finalize()
			require.Equal(t, tc.want, execType(b))
		})
	}
}
