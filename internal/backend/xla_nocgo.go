//go:build !cgo

package backend

import "fmt"

// xlaConfig refuses: XLA's PJRT plugins are C libraries, loaded through cgo.
func xlaConfig(name, _ string) (string, error) {
	return "", fmt.Errorf("backend %q: this binary was built without cgo (CGO_ENABLED=0) and has only the pure-Go backend \"go\"; for XLA rebuild it with CGO_ENABLED=1 and a C compiler", name)
}

func loadHint(string) string { return "" }
