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
// running the README's runs every test CI does (including the vendored compute module's).
func TestCIRunsREADMETestCommand(t *testing.T) {
	root := RepoRoot(t)
	const cmd = "GOEXPERIMENT=simd go test ./... github.com/gomlx/compute/..."
	for _, f := range []string{"README.md", ".ci/run"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "GOEXPERIMENT=simd go test") {
				if strings.TrimSpace(line) != cmd {
					t.Errorf("%s runs %q, want %q", f, strings.TrimSpace(line), cmd)
				}
				found = true
			}
		}
		if !found {
			t.Errorf("%s has no %q line", f, cmd)
		}
	}
}
