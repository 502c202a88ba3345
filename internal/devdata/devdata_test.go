package devdata

import (
	"os"
	"path/filepath"
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
