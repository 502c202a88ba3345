// Package devdata locates, for tests and benchmarks, the module root and the
// development dataset that lives next to the checkout
// (../shared/data/cat12: train_list.txt, cat_12_train/, cat_12_test/).
// Tests that need the dataset skip cleanly when it is absent.
package devdata

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, walking up from the test's
// working directory; it fails the test when there is none.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("devdata: go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Cat12 returns the cat12 development dataset directory, or skips the test
// when it (its train_list.txt, cat_12_train/ and cat_12_test/) is absent.
func Cat12(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(RepoRoot(t)), "shared", "data", "cat12")
	for _, p := range []string{"train_list.txt", "cat_12_train", "cat_12_test"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Skipf("cat12 development data not found at %s", dir)
		}
	}
	return dir
}
