// Package backend opens a GoMLX compute backend by name ("go", "xla:cpu",
// "xla:cuda") and turns failures into one clear line that says what is
// missing and how to get it.
//
// XLA's PJRT plugins are never downloaded at run time: GoMLX's auto-installer
// fetches them from the internet, which fails (slowly) on offline machines,
// so it is switched off unless GOCLS_XLA_AUTOINSTALL=1 is set.
package backend

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
	_ "github.com/gomlx/gomlx/backends/default" // registers "go" and "xla"
)

// Default is the backend used when none is configured: GoMLX's pure-Go
// backend, which needs no native library.
const Default = "go"

// AutoInstallEnv, set to 1, lets GoMLX download missing PJRT plugins.
const AutoInstallEnv = "GOCLS_XLA_AUTOINSTALL"

func init() {
	if os.Getenv(AutoInstallEnv) != "1" {
		xla.EnableAutoInstall(false)
	}
}

// goSafeOptions is appended to a plain "go" backend: compute v0.1.6's Go
// backend deadlocks when it runs several ops in parallel and each MatMul tries
// to saturate the shared worker pool (every worker ends up waiting for a free
// worker). Running ops one after the other keeps the parallelism inside each
// op, where almost all the work is.
const goSafeOptions = "ops_sequential"

// New opens the named backend. An empty name means Default. A plain "go"
// gets the "ops_sequential" option (see goSafeOptions); "go:OPTIONS" is
// passed through as given.
func New(name string) (compute.Backend, error) {
	if name == "" {
		name = Default
	}
	config := name
	if name == "go" {
		config = "go:" + goSafeOptions
	}
	kind, plugin, _ := strings.Cut(name, ":")
	known := compute.List()
	sort.Strings(known)
	if !contains(known, kind) {
		return nil, fmt.Errorf("backend %q unknown (available: %s)", name, strings.Join(known, ", "))
	}
	if kind == "xla" {
		if err := checkPlugin(name, plugin); err != nil {
			return nil, err
		}
	}
	b, err := compute.NewWithConfig(config)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		return nil, fmt.Errorf("backend %q failed to load: %s", name, msg)
	}
	return b, nil
}

// checkPlugin verifies that the PJRT plugin of an "xla:PLUGIN" backend is
// installed, and otherwise says which file is missing and how to install it.
func checkPlugin(name, plugin string) error {
	if plugin == "" {
		plugin = "cpu"
	}
	if strings.Contains(plugin, "/") { // an absolute plugin path
		if _, err := os.Stat(plugin); err != nil {
			return fmt.Errorf("backend %q: PJRT plugin file: %w", name, err)
		}
		return nil
	}
	if os.Getenv(AutoInstallEnv) == "1" {
		return nil
	}
	plugin, _, _ = strings.Cut(plugin, ",") // options may follow
	if _, ok := pjrt.AvailablePlugins()[plugin]; ok {
		return nil
	}
	file := "pjrt_c_api_" + plugin + "_plugin.so"
	where := os.Getenv(pjrt.PJRTPluginPathsEnv)
	if where == "" {
		where = "the default search paths (~/.local/lib/go-xla, /usr/local/lib/go-xla, LD_LIBRARY_PATH)"
	}
	hint := "go run github.com/gomlx/go-xla/cmd/pjrt_installer@latest -plugin=" + plugin
	if plugin == "cuda" {
		hint += " (or pip's jax-cuda13-pjrt package, which ships it, plus the NVIDIA libraries)"
	}
	return fmt.Errorf("backend %q: PJRT plugin %s not found in %s; with internet install it with `%s`, or set %s to the folder that holds it (or %s=1 to let GoMLX download it)",
		name, file, where, hint, pjrt.PJRTPluginPathsEnv, AutoInstallEnv)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
