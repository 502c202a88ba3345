// Package backend opens a GoMLX compute backend by name ("go", "xla:cpu",
// "xla:cuda") and turns failures into one clear line that says what is
// missing.
package backend

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/gomlx/backends/default" // registers "go" and "xla"
)

// Default is the backend used when none is configured: GoMLX's pure-Go
// backend, which needs no native library.
const Default = "go"

// New opens the named backend. An empty name means Default.
func New(name string) (compute.Backend, error) {
	if name == "" {
		name = Default
	}
	kind, _, _ := strings.Cut(name, ":")
	known := compute.List()
	found := false
	for _, k := range known {
		if k == kind {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("backend %q unknown (available: %s)", name, strings.Join(known, ", "))
	}
	b, err := compute.NewWithConfig(name)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		return nil, fmt.Errorf("backend %q failed to load: %s", name, msg)
	}
	return b, nil
}
