//go:build cgo

package backend

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/go-xla/pjrt"
	"github.com/stretchr/testify/require"
)

// isolateCUDASearch points every place the CUDA plugin is looked for at
// empty folders, and python3 at a script that prints site.
func isolateCUDASearch(t *testing.T, site string) {
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "python3"), []byte("#!/bin/sh\necho "+site+"\n"))
	t.Setenv("PATH", bin)
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv("VIRTUAL_ENV", "")
	t.Setenv("CONDA_PREFIX", "")
	t.Setenv("XLA_FLAGS", "")
}

func TestNewXLAErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		plugin string // skip when this PJRT plugin is installed
		want   []string
	}{
		{"xla:cuda", "cuda", []string{"pjrt_c_api_cuda_plugin.so", "site-packages", `pip install "jax[cuda13]"`}},
		{"xla:cpu", "cpu", []string{"pjrt_c_api_cpu_plugin.so", "PJRT_PLUGIN_LIBRARY_PATH"}},
		{"xla:/nonexistent/libpjrt.so", "", []string{"/nonexistent/libpjrt.so"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := pjrt.AvailablePlugins()[tc.plugin]; tc.plugin != "" && ok {
				t.Skipf("plugin %s is installed here", tc.plugin)
			}
			isolateCUDASearch(t, "/nonexistent")
			_, err := New(tc.name)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

// TestNewCUDABrokenPlugin loads, through the whole discovery, a plugin that
// passes the header checks but is no library: one line naming it, no crash.
func TestNewCUDABrokenPlugin(t *testing.T) {
	if _, ok := pjrt.AvailablePlugins()["cuda"]; ok {
		t.Skip("a CUDA plugin is installed here")
	}
	site := filepath.Join(t.TempDir(), "site-packages")
	plugin := siteTree{pluginMajor: 13, libMajor: 13}.make(t, site)
	isolateCUDASearch(t, site)
	_, err := New("xla:cuda")
	require.Error(t, err)
	t.Log(err)
	require.Contains(t, err.Error(), plugin)
	require.Contains(t, err.Error(), "libcudart.so.13", "the NVIDIA libraries that failed to preload are named")
	require.NotContains(t, err.Error(), "\n")
}
