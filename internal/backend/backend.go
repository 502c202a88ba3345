// Package backend opens a GoMLX compute backend by name ("go", "xla:cpu",
// "xla:cuda") and turns failures into one clear line that says what is
// missing and how to get it.
//
// The pure-Go backend is always there. XLA needs cgo: binaries built with
// CGO_ENABLED=0 have only "go" and say so when asked for "xla:*".
//
// "xla:cuda" needs no setup when jax's CUDA plugin is installed
// (pip install "jax[cuda13]"): see FindCUDAPlugin.
//
// XLA's PJRT plugins are never downloaded at run time: GoMLX's auto-installer
// fetches them from the internet, which fails (slowly) on offline machines,
// so it is switched off unless GOCLS_XLA_AUTOINSTALL=1 is set.
package backend

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // registers "go"
)

// Default is the backend used when none is configured: GoMLX's pure-Go
// backend, which needs no native library.
const Default = "go"

// AutoInstallEnv, set to 1, lets GoMLX download missing PJRT plugins.
const AutoInstallEnv = "GOCLS_XLA_AUTOINSTALL"

// New opens the named backend. An empty name means Default; "go:OPTIONS" and
// the other names are passed to compute as given.
func New(name string) (compute.Backend, error) {
	if name == "" {
		name = Default
	}
	config := name
	kind, plugin, _ := strings.Cut(name, ":")
	if kind == "xla" {
		var err error
		if config, err = xlaConfig(name, plugin); err != nil {
			return nil, err
		}
	}
	known := compute.List()
	sort.Strings(known)
	if !contains(known, kind) {
		return nil, fmt.Errorf("backend %q unknown (available: %s)", name, strings.Join(known, ", "))
	}
	b, err := compute.NewWithConfig(config)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		return nil, fmt.Errorf("backend %q failed to load: %s%s", name, msg, loadHint(plugin))
	}
	return b, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
