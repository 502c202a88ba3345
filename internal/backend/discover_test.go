package backend

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeELF is the 20-byte start of an ELF shared library for machine.
func fakeELF(machine uint16) []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1 // 64-bit, little-endian, version 1
	binary.LittleEndian.PutUint16(h[16:], 3)
	binary.LittleEndian.PutUint16(h[18:], machine)
	return h
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o755))
}

// siteTree describes a fake site-packages of pip install "jax[cudaNN]".
type siteTree struct {
	pluginMajor int    // jax_plugins/xla_cudaNN
	libMajor    int    // nvidia/cuNN/lib/libcudart.so.NN (CUDA 13 wheel layout)
	plugin      []byte // the plugin file's bytes; nil: a valid ELF header
	noLibdevice bool
	noNvidia    bool
}

// make writes the tree under site and returns the plugin's path.
func (s siteTree) make(t *testing.T, site string) string {
	t.Helper()
	plugin := filepath.Join(site, "jax_plugins", "xla_cuda"+strconv.Itoa(s.pluginMajor), "xla_cuda_plugin.so")
	data := s.plugin
	if data == nil {
		data = fakeELF(elfMachines[runtime.GOARCH])
	}
	writeFile(t, plugin, data)
	if s.noNvidia {
		return plugin
	}
	cu := filepath.Join(site, "nvidia", "cu"+strconv.Itoa(s.libMajor))
	writeFile(t, filepath.Join(cu, "lib", "libcudart.so."+strconv.Itoa(s.libMajor)), nil)
	writeFile(t, filepath.Join(cu, "lib", "libcublas.so."+strconv.Itoa(s.libMajor)), nil)
	writeFile(t, filepath.Join(site, "nvidia", "cudnn", "lib", "libcudnn.so.9"), nil)
	writeFile(t, filepath.Join(cu, "bin", "ptxas"), nil)
	if !s.noLibdevice {
		writeFile(t, filepath.Join(cu, libdevice), nil)
	}
	return plugin
}

// fakeEnv is a search environment with only the given variables and
// python3 site-packages.
func fakeEnv(vars map[string]string, sites ...string) searchEnv {
	return searchEnv{getenv: func(k string) string { return vars[k] }, home: "/nonexistent-home",
		sitePackages: func() []string { return sites }}
}

func TestFindCUDAPlugin(t *testing.T) {
	root := t.TempDir()
	site := filepath.Join(root, "py", "site-packages")
	plugin := siteTree{pluginMajor: 13, libMajor: 13}.make(t, site)
	venvSite := filepath.Join(root, "venv", "lib", "python3.12", "site-packages")
	venvPlugin := siteTree{pluginMajor: 13, libMajor: 13}.make(t, venvSite)
	condaSite := filepath.Join(root, "conda", "lib", "python3.11", "site-packages")
	condaPlugin := siteTree{pluginMajor: 13, libMajor: 13}.make(t, condaSite)
	// Two generations side by side: the newest wins.
	bothSite := filepath.Join(root, "both", "site-packages")
	siteTree{pluginMajor: 12, libMajor: 12}.make(t, bothSite)
	bothPlugin := siteTree{pluginMajor: 13, libMajor: 13}.make(t, bothSite)
	// ../shared/gpu/setup_jax_pjrt.sh's layout: a renamed copy and a link to the wheels.
	gx := filepath.Join(root, "gx")
	writeFile(t, filepath.Join(gx, "jax", "pjrt_c_api_cuda_plugin.so"), fakeELF(elfMachines[runtime.GOARCH]))
	require.NoError(t, os.Symlink(filepath.Join(site, "nvidia"), filepath.Join(gx, "nvidia")))

	for _, tc := range []struct {
		name      string
		env       searchEnv
		want, lib string // plugin, its site-packages
	}{
		{"python3 site-packages", fakeEnv(nil, "/nonexistent", site), plugin, site},
		{"VIRTUAL_ENV", fakeEnv(map[string]string{"VIRTUAL_ENV": filepath.Join(root, "venv")}), venvPlugin, venvSite},
		{"CONDA_PREFIX", fakeEnv(map[string]string{"CONDA_PREFIX": filepath.Join(root, "conda")}), condaPlugin, condaSite},
		{"python3 before VIRTUAL_ENV", fakeEnv(map[string]string{"VIRTUAL_ENV": filepath.Join(root, "venv")}, site), plugin, site},
		{"newest CUDA first", fakeEnv(nil, bothSite), bothPlugin, bothSite},
		{"PJRT_PLUGIN_LIBRARY_PATH first", fakeEnv(map[string]string{"PJRT_PLUGIN_LIBRARY_PATH": "/nonexistent:" + filepath.Join(gx, "jax")}, site),
			filepath.Join(gx, "jax", "pjrt_c_api_cuda_plugin.so"), gx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := findCUDAPlugin(tc.env)
			require.NoError(t, err)
			require.Equal(t, tc.want, p.Path)
			require.Equal(t, 13, p.Major)
			require.Equal(t, filepath.Join(tc.lib, "nvidia", "cu13"), p.DataDir)
			require.ElementsMatch(t, []string{filepath.Join(tc.lib, "nvidia", "cu13", "lib"), filepath.Join(tc.lib, "nvidia", "cudnn", "lib")}, p.LibDirs)
		})
	}
}

func TestFindCUDAPluginErrors(t *testing.T) {
	otherArch := map[string]uint16{"amd64": 183, "arm64": 62}[runtime.GOARCH]
	for _, tc := range []struct {
		name string
		tree *siteTree // nil: no plugin at all
		want []string
	}{
		{"nothing installed", nil, []string{"no PJRT CUDA plugin found", "site-packages", `pip install "jax[cuda13]"`}},
		{"not an ELF file", &siteTree{pluginMajor: 13, libMajor: 13, plugin: []byte("<html>404 Not Found</html>")},
			[]string{"xla_cuda13/xla_cuda_plugin.so is not a shared library", "pip install --force-reinstall"}},
		{"empty file", &siteTree{pluginMajor: 13, libMajor: 13, plugin: []byte{}}, []string{"is not a shared library"}},
		{"other architecture", &siteTree{pluginMajor: 13, libMajor: 13, plugin: fakeELF(otherArch)},
			[]string{"is not a 64-bit library for " + runtime.GOARCH}},
		{"CUDA 12 plugin, CUDA 13 libraries", &siteTree{pluginMajor: 12, libMajor: 13},
			[]string{"xla_cuda12/xla_cuda_plugin.so is for CUDA 12", "CUDA 13 runtime", `pip install "jax[cuda13]"`}},
		{"no libdevice", &siteTree{pluginMajor: 13, libMajor: 13, noLibdevice: true},
			[]string{"xla_cuda_plugin.so: no CUDA data dir with nvvm/libdevice", "nvidia/cu13", `pip install "jax[cuda13]"`}},
		{"no NVIDIA libraries", &siteTree{pluginMajor: 13, noNvidia: true}, []string{"no nvidia/ folder", `pip install "jax[cuda13]"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := filepath.Join(t.TempDir(), "site-packages")
			if tc.tree != nil {
				tc.tree.make(t, site)
			}
			_, err := findCUDAPlugin(fakeEnv(nil, site))
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

// TestPythonSitePackages runs a python3 found on PATH: here a shell script
// standing in for it.
func TestPythonSitePackages(t *testing.T) {
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "python3"), []byte("#!/bin/sh\necho /a/site-packages\necho /b/site-packages\n"))
	t.Setenv("PATH", bin)
	require.Equal(t, []string{"/a/site-packages", "/b/site-packages"}, pythonSitePackages())

	writeFile(t, filepath.Join(bin, "python3"), []byte("#!/bin/sh\nexit 3\n"))
	require.Empty(t, pythonSitePackages(), "a failing python3 is ignored")
	t.Setenv("PATH", t.TempDir())
	require.Empty(t, pythonSitePackages(), "no python3")
}

func TestSetupEnv(t *testing.T) {
	p := &CUDAPlugin{DataDir: "/site/nvidia/cu13"}
	t.Setenv("XLA_FLAGS", "--xla_gpu_autotune_level=2")
	t.Setenv("PATH", "/usr/bin")
	t.Setenv("GOPJRT_CUDA_CHECKS", "")
	require.NoError(t, p.setupEnv())
	require.Equal(t, "--xla_gpu_autotune_level=2 --xla_gpu_cuda_data_dir=/site/nvidia/cu13", os.Getenv("XLA_FLAGS"))
	require.Equal(t, "/usr/bin:/site/nvidia/cu13/bin", os.Getenv("PATH"))
	require.Equal(t, "0", os.Getenv("GOPJRT_CUDA_CHECKS"))
	require.NoError(t, p.setupEnv(), "twice changes nothing")
	require.Equal(t, "/usr/bin:/site/nvidia/cu13/bin", os.Getenv("PATH"))

	t.Setenv("XLA_FLAGS", "--xla_gpu_cuda_data_dir=/mine")
	require.NoError(t, p.setupEnv())
	require.Equal(t, "--xla_gpu_cuda_data_dir=/mine", os.Getenv("XLA_FLAGS"), "the user's data dir is kept")
}
