package backend

import (
	"reflect"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/pjrt"
	"github.com/stretchr/testify/require"
)

func TestNewGo(t *testing.T) {
	for _, name := range []string{"", "go"} {
		b, err := New(name)
		require.NoError(t, err)
		require.Equal(t, "Go Backend", b.Name())
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		plugin string // skip when this PJRT plugin is installed
		want   []string
	}{
		{"tpu9", "", []string{`backend "tpu9" unknown`, "go"}},
		{"xla:cuda", "cuda", []string{"pjrt_c_api_cuda_plugin.so", "PJRT_PLUGIN_LIBRARY_PATH", "pjrt_installer"}},
		{"xla:cpu", "cpu", []string{"pjrt_c_api_cpu_plugin.so", "PJRT_PLUGIN_LIBRARY_PATH"}},
		{"xla:/nonexistent/libpjrt.so", "", []string{"/nonexistent/libpjrt.so"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := pjrt.AvailablePlugins()[tc.plugin]; tc.plugin != "" && ok {
				t.Skipf("plugin %s is installed here", tc.plugin)
			}
			_, err := New(tc.name)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "\n")
		})
	}
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
