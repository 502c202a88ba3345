package devdata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	root := RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("RepoRoot %s has no go.mod: %v", root, err)
	}
}

func TestCat12(t *testing.T) {
	dir := Cat12(t) // skips when absent
	if _, err := os.Stat(filepath.Join(dir, "train_list.txt")); err != nil {
		t.Fatal(err)
	}
}

// TestCIRunsREADMETestCommand keeps the README's test command and CI's the same command, so that a user
// running the README's runs every test CI does (including the vendored compute module's). The README gives
// that one command; CI runs it verbatim, and may run further checks (other build tags, CGO_ENABLED=0) besides.
func TestCIRunsREADMETestCommand(t *testing.T) {
	root := RepoRoot(t)
	const cmd = "GOEXPERIMENT=simd go test ./... github.com/gomlx/compute/..."
	for _, c := range []struct {
		file     string
		onlyThis bool // every "go test" line of the file must be cmd
	}{{"README.md", true}, {".ci/run", false}} {
		b, err := os.ReadFile(filepath.Join(root, c.file))
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == cmd {
				found = true
			} else if c.onlyThis && strings.HasPrefix(line, "GOEXPERIMENT=simd go test") {
				t.Errorf("%s gives %q besides the test command %q", c.file, line, cmd)
			}
		}
		if !found {
			t.Errorf("%s has no %q line", c.file, cmd)
		}
	}
}
