//go:build cgo

package backend

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
	_ "github.com/gomlx/gomlx/backends/default" // registers "xla" (and "onnxruntime" with -tags onnx)
)

func init() {
	if os.Getenv(AutoInstallEnv) != "1" {
		xla.EnableAutoInstall(false)
	}
}

// cudaLoadNote says, after a failure to load the CUDA backend, which plugin
// was tried and which NVIDIA libraries could not be preloaded.
var cudaLoadNote string

// xlaConfig returns the compute config of an "xla:PLUGIN[,options]" backend
// after checking that its PJRT plugin is installed. "cuda" is looked for
// beyond go-xla's folders (see FindCUDAPlugin) and gets its NVIDIA libraries
// preloaded and its CUDA data dir set.
func xlaConfig(name, plugin string) (string, error) {
	if plugin == "" {
		plugin = "cpu"
	}
	pluginName, options, _ := strings.Cut(plugin, ",") // options may follow
	if options != "" {
		options = "," + options
	}
	if strings.Contains(pluginName, "/") { // an absolute plugin path
		if _, err := os.Stat(pluginName); err != nil {
			return "", fmt.Errorf("backend %q: PJRT plugin file: %w", name, err)
		}
		return name, nil
	}
	if os.Getenv(AutoInstallEnv) == "1" {
		return name, nil
	}
	if pluginName == "cuda" {
		return cudaConfig(name, options)
	}
	if _, ok := pjrt.AvailablePlugins()[pluginName]; ok {
		return name, nil
	}
	file := "pjrt_c_api_" + pluginName + "_plugin.so"
	where := os.Getenv(pjrt.PJRTPluginPathsEnv)
	if where == "" {
		where = "the default search paths (~/.local/lib/go-xla, /usr/local/lib/go-xla, LD_LIBRARY_PATH)"
	}
	hint := "go run github.com/gomlx/go-xla/cmd/pjrt_installer@latest -plugin=" + pluginName
	return "", fmt.Errorf("backend %q: PJRT plugin %s not found in %s; with internet install it with `%s`, or set %s to the folder that holds it (or %s=1 to let GoMLX download it)",
		name, file, where, hint, pjrt.PJRTPluginPathsEnv, AutoInstallEnv)
}

// cudaConfig finds the CUDA plugin, prepares the process for it and returns
// the config that loads it by absolute path.
func cudaConfig(name, options string) (string, error) {
	p, err := FindCUDAPlugin()
	if err != nil {
		if _, ok := pjrt.AvailablePlugins()["cuda"]; ok {
			return name, nil // somewhere only go-xla knows (LD_LIBRARY_PATH, ld.so.conf)
		}
		return "", fmt.Errorf("backend %q: %w", name, err)
	}
	if err := p.setupEnv(); err != nil {
		return "", fmt.Errorf("backend %q: %w", name, err)
	}
	cudaLoadNote = " (plugin " + p.Path
	if failed := preloadNVIDIA(p.LibDirs); len(failed) > 0 {
		cudaLoadNote += "; NVIDIA libraries that failed to load: " + strings.Join(failed, "; ")
	}
	cudaLoadNote += "; check the NVIDIA driver with `nvidia-smi`, or reinstall with `pip install --force-reinstall \"jax[cuda13]\"`)"
	return "xla:" + p.Path + options, nil
}

func loadHint(plugin string) string {
	if pluginName, _, _ := strings.Cut(plugin, ","); pluginName == "cuda" {
		return cudaLoadNote
	}
	return ""
}
