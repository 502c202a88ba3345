package backend

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CUDAInstallHint is what to install when no usable CUDA plugin is found.
const CUDAInstallHint = `pip install "jax[cuda13]"`

// CUDAPlugin is a PJRT CUDA plugin found on disk with what it needs at run
// time: the folders of NVIDIA's pip wheels (nvidia/*/lib) and a CUDA data dir
// holding nvvm/libdevice and bin/ptxas (XLA's --xla_gpu_cuda_data_dir).
type CUDAPlugin struct {
	Path    string   // the plugin file
	Major   int      // CUDA major version it was built for (0: unknown)
	LibDirs []string // nvidia/*/lib folders, in preload order of importance
	DataDir string   // holds nvvm/libdevice and bin/ptxas
}

// searchEnv is what the discovery reads from the environment, so that
// tests can run it on a fake tree.
type searchEnv struct {
	getenv func(string) string
	home   string
	// sitePackages returns the site-packages folders of the python3 on PATH
	// (nil when there is none).
	sitePackages func() []string
}

func osSearchEnv() searchEnv {
	home, _ := os.UserHomeDir()
	return searchEnv{getenv: os.Getenv, home: home, sitePackages: pythonSitePackages}
}

// pythonTimeout bounds the python3 query: a broken interpreter must not hang
// the start of a run.
const pythonTimeout = 5 * time.Second

// pythonSitePackages asks the python3 on PATH for its site-packages folders
// (system and user). It returns nil when there is no python3 or it fails.
func pythonSitePackages() []string {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), pythonTimeout)
	defer cancel()
	const script = "import site,sys\nfor p in site.getsitepackages()+[site.getusersitepackages()]: print(p)"
	out, err := exec.CommandContext(ctx, py, "-c", script).Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// envSitePackages returns the site-packages folders of $VIRTUAL_ENV and
// $CONDA_PREFIX (lib/python3.*/site-packages).
func envSitePackages(getenv func(string) string) []string {
	var dirs []string
	for _, key := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if root := getenv(key); root != "" {
			m, _ := filepath.Glob(filepath.Join(root, "lib", "python3*", "site-packages"))
			dirs = append(dirs, m...)
		}
	}
	return dirs
}

// pjrtDirs are the folders go-xla searches for pjrt_c_api_cuda_plugin.so:
// PJRT_PLUGIN_LIBRARY_PATH when set, else its install folders.
func pjrtDirs(env searchEnv) []string {
	if v := env.getenv("PJRT_PLUGIN_LIBRARY_PATH"); v != "" {
		return slices.DeleteFunc(strings.Split(v, ":"), func(s string) bool { return s == "" })
	}
	var dirs []string
	if env.home != "" {
		dirs = append(dirs, filepath.Join(env.home, ".local/lib/go-xla"), filepath.Join(env.home, ".local/lib/go-xla/nvidia"))
	}
	return append(dirs, "/usr/local/lib/go-xla", "/usr/local/lib/go-xla/nvidia")
}

var reCUDAMajor = regexp.MustCompile(`xla_cuda(\d+)$`)

// findCUDAPluginFile returns the first CUDA plugin file found, in this
// order: PJRT_PLUGIN_LIBRARY_PATH (or go-xla's folders), the site-packages
// of python3, $VIRTUAL_ENV, $CONDA_PREFIX (jax_plugins/xla_cudaNN/
// xla_cuda_plugin.so, the newest CUDA first). It also returns the places
// searched, for the error message.
func findCUDAPluginFile(env searchEnv) (path string, searched []string) {
	for _, dir := range pjrtDirs(env) {
		searched = append(searched, dir)
		for _, name := range []string{"pjrt_c_api_cuda_plugin.so", "xla_cuda_plugin.so"} {
			if p := filepath.Join(dir, name); isFile(p) {
				return p, searched
			}
		}
	}
	var sites []string
	if env.sitePackages != nil {
		sites = env.sitePackages()
	}
	sites = append(sites, envSitePackages(env.getenv)...)
	for _, site := range uniq(sites) {
		searched = append(searched, site)
		m, _ := filepath.Glob(filepath.Join(site, "jax_plugins", "xla_cuda*", "xla_cuda_plugin.so"))
		slices.SortFunc(m, func(a, b string) int { return cudaMajor(b) - cudaMajor(a) })
		if len(m) > 0 {
			return m[0], searched
		}
	}
	return "", searched
}

// cudaMajor reads the CUDA major version from a jax plugin's folder name
// (jax_plugins/xla_cuda13/...); 0 when it does not say.
func cudaMajor(pluginPath string) int {
	m := reCUDAMajor.FindStringSubmatch(filepath.Dir(pluginPath))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// FindCUDAPlugin locates the CUDA plugin and what it needs, and checks that
// they fit together. Errors are one line naming the file and the fix.
func FindCUDAPlugin() (*CUDAPlugin, error) { return findCUDAPlugin(osSearchEnv()) }

func findCUDAPlugin(env searchEnv) (*CUDAPlugin, error) {
	path, searched := findCUDAPluginFile(env)
	if path == "" {
		return nil, fmt.Errorf("no PJRT CUDA plugin found (looked for pjrt_c_api_cuda_plugin.so in %s and jax_plugins/xla_cuda*/xla_cuda_plugin.so in the site-packages of python3, $VIRTUAL_ENV and $CONDA_PREFIX): install it with `%s`",
			strings.Join(searched, ", "), CUDAInstallHint)
	}
	if err := checkELF(path); err != nil {
		return nil, err
	}
	p := &CUDAPlugin{Path: path, Major: cudaMajor(path)}
	nvidia := nvidiaRoot(path)
	if nvidia == "" {
		return nil, fmt.Errorf("PJRT CUDA plugin %s: no nvidia/ folder of NVIDIA libraries beside it (looked in its site-packages or ../nvidia): install them with `%s`", path, CUDAInstallHint)
	}
	p.LibDirs, _ = filepath.Glob(filepath.Join(nvidia, "*", "lib"))
	if err := checkCUDAMajor(p, nvidia); err != nil {
		return nil, err
	}
	p.LibDirs = slices.DeleteFunc(p.LibDirs, func(d string) bool { // another generation's wheels (nvidia/cu12 beside cu13)
		m := reCUDADir.FindStringSubmatch(filepath.Base(filepath.Dir(d)))
		return m != nil && m[1] != strconv.Itoa(p.Major)
	})
	var err error
	if p.DataDir, err = cudaDataDir(p, nvidia); err != nil {
		return nil, err
	}
	return p, nil
}

// checkELF says, in one line, why path cannot be a shared library of this
// machine: not an ELF file, 32-bit, or for another architecture.
func checkELF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("PJRT CUDA plugin %s: %w", path, err)
	}
	defer f.Close()
	var h [20]byte
	reinstall := fmt.Sprintf("reinstall it with `pip install --force-reinstall %s`", strings.TrimPrefix(CUDAInstallHint, "pip install "))
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:4]) != "\x7fELF" {
		return fmt.Errorf("PJRT CUDA plugin %s is not a shared library (not an ELF file; a broken download?): %s", path, reinstall)
	}
	want, ok := elfMachines[runtime.GOARCH]
	if got := binary.LittleEndian.Uint16(h[18:]); h[4] != 2 || (ok && got != want) {
		return fmt.Errorf("PJRT CUDA plugin %s is not a 64-bit library for %s (ELF machine %d): %s", path, runtime.GOARCH, got, reinstall)
	}
	return nil
}

// elfMachines maps GOARCH to ELF e_machine.
var elfMachines = map[string]uint16{"amd64": 62, "arm64": 183}

// nvidiaRoot returns the nvidia/ folder of NVIDIA's pip wheels that belongs
// to a plugin: the site-packages' one for a jax plugin
// (site-packages/jax_plugins/xla_cudaNN/), ../nvidia for go-xla's layout, or
// the plugin's own folder when it is named nvidia (go-xla's installer). Each
// is tried for the path as given and with symbolic links resolved.
func nvidiaRoot(plugin string) string {
	paths := []string{plugin}
	if real, err := filepath.EvalSymlinks(plugin); err == nil && real != plugin {
		paths = append(paths, real)
	}
	for _, p := range paths {
		dir := filepath.Dir(p)
		for _, cand := range []string{filepath.Join(dir, "..", "..", "nvidia"), filepath.Join(dir, "..", "nvidia"), dir} {
			cand = filepath.Clean(cand)
			if filepath.Base(cand) != "nvidia" {
				continue
			}
			if libs, _ := filepath.Glob(filepath.Join(cand, "*", "lib")); len(libs) > 0 {
				return cand
			}
		}
	}
	return ""
}

var reCUDADir = regexp.MustCompile(`^cu(\d+)$`)

var reCudart = regexp.MustCompile(`^libcudart\.so\.(\d+)$`)

// checkCUDAMajor checks that the CUDA runtime among the NVIDIA libraries has
// the plugin's major version (a jax[cuda12] plugin with CUDA 13 wheels, or
// the reverse, fails deep inside XLA otherwise). A plugin whose folder does
// not name its version takes the runtime's.
func checkCUDAMajor(p *CUDAPlugin, nvidia string) error {
	var found []int
	for _, dir := range p.LibDirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if m := reCudart.FindStringSubmatch(e.Name()); m != nil {
				n, _ := strconv.Atoi(m[1])
				found = append(found, n)
			}
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("PJRT CUDA plugin %s: no CUDA runtime (libcudart.so.N) in %s/*/lib: install it with `%s`", p.Path, nvidia, CUDAInstallHint)
	}
	if p.Major == 0 {
		p.Major = slices.Max(found)
		return nil
	}
	if !slices.Contains(found, p.Major) {
		return fmt.Errorf("PJRT CUDA plugin %s is for CUDA %d but %s holds the CUDA %d runtime: install matching packages with `pip install \"jax[cuda%d]\"`",
			p.Path, p.Major, nvidia, slices.Max(found), slices.Max(found))
	}
	return nil
}

// libdevice is the file XLA needs under the CUDA data dir.
const libdevice = "nvvm/libdevice/libdevice.10.bc"

// cudaDataDir returns the folder holding nvvm/libdevice and bin/ptxas: the
// wheels' cu13 (CUDA 13) or cuda_nvcc (CUDA 12) folder, else
// /usr/local/cuda.
func cudaDataDir(p *CUDAPlugin, nvidia string) (string, error) {
	cands := []string{filepath.Join(nvidia, "cu"+strconv.Itoa(p.Major)), filepath.Join(nvidia, "cuda_nvcc"), "/usr/local/cuda"}
	for _, d := range cands {
		if isFile(filepath.Join(d, libdevice)) && isFile(filepath.Join(d, "bin", "ptxas")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("PJRT CUDA plugin %s: no CUDA data dir with %s and bin/ptxas (looked in %s): install the CUDA compiler wheel with `%s`",
		p.Path, libdevice, strings.Join(cands, ", "), CUDAInstallHint)
}

// setupEnv sets what XLA reads at run time: the CUDA data dir in XLA_FLAGS
// (unless the user set one), ptxas on PATH, and go-xla's check for a
// ../nvidia folder off (the libraries are preloaded instead).
func (p *CUDAPlugin) setupEnv() error {
	flags := os.Getenv("XLA_FLAGS")
	if !strings.Contains(flags, "--xla_gpu_cuda_data_dir") {
		flags = strings.TrimSpace(flags + " --xla_gpu_cuda_data_dir=" + p.DataDir)
	}
	path := os.Getenv("PATH")
	bin := filepath.Join(p.DataDir, "bin")
	if !slices.Contains(filepath.SplitList(path), bin) {
		path = strings.TrimPrefix(path+string(os.PathListSeparator)+bin, string(os.PathListSeparator))
	}
	checks := os.Getenv("GOPJRT_CUDA_CHECKS")
	if checks == "" {
		checks = "0"
	}
	return errors.Join(os.Setenv("XLA_FLAGS", flags), os.Setenv("PATH", path), os.Setenv("GOPJRT_CUDA_CHECKS", checks))
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
