package backend

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gocls/gocls/internal/devdata"
	"github.com/stretchr/testify/require"
)

// TestBuildWithoutCgo builds cmd/bench with CGO_ENABLED=0: it must build
// without a C compiler into a static binary that runs the pure-Go backend and
// says, asked for XLA, that it was built without cgo. (.ci/run also
// cross-builds every command for linux/arm64.)
func TestBuildWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	bin := filepath.Join(t.TempDir(), "bench")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/bench")
	build.Dir = devdata.RepoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "CC=/nonexistent-cc")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "a static binary has no dynamic loader")
	}

	out, err = exec.Command(bin, "-backend", "xla:cuda", "-steps", "1").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "built without cgo")
	out, err = exec.Command(bin, "-model", "resnet18", "-size", "32", "-batch", "1", "-steps", "1", "-warmup", "0").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), `"backend":"`)
}
