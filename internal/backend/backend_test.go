package backend

import (
	"testing"

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
