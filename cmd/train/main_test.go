package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
)

func TestUsageErrors(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("run:\n  epochs: 1\n"), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no config", nil, 2, "-config is required"},
		{"extra argument", []string{"-config", cfg, "extra"}, 2, "unexpected arguments"},
		{"missing file", []string{"-config", filepath.Join(t.TempDir(), "none.yaml")}, 2, "none.yaml"},
		{"bad set", []string{"-config", cfg, "-set", "optim.lr"}, 2, "want section.key=value"},
		{"unknown key", []string{"-config", cfg, "-set", "optim.speed=1"}, 2, "speed"},
		{"bad value", []string{"-config", cfg, "-set", "run.epochs=-1"}, 2, "run.epochs must be positive"},
		{"unknown flag", []string{"-epochs", "3"}, 2, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, tc.code, run(tc.args, &out, &errOut))
			require.Contains(t, errOut.String(), tc.want)
		})
	}
}

// TestInterruptAndResume sends SIGINT to the running command: it saves a
// checkpoint and exits with 130; the same command then resumes and
// finishes, writing result.csv.
func TestInterruptAndResume(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tiny.yaml")
	result := filepath.Join(dir, "result.csv")
	yaml := fmt.Sprintf(`run:
  name: tiny
  dir: %[1]s/runs
  epochs: 40
  batch_size: 4
synthetic:
  enabled: true
  classes: 3
  per_class: 5
  test: 2
  size: 20
data:
  root: %[1]s/data
  num_classes: 3
  val_ratio: 0.2
  workers: 2
  augment:
    scale: [0.5, 1]
  eval:
    resize_shorter: 18
    crop: 16
model:
  arch: resnet18
optim:
  lr: 0.01
predict:
  images: %[1]s/data/cat_12_test
  out: %[2]s
`, dir, result)
	require.NoError(t, os.WriteFile(cfgPath, []byte(yaml), 0o644))
	runDir := filepath.Join(dir, "runs", "tiny")

	// Interrupt once the first epoch's line is printed (its evaluation is done; its checkpoint is
	// being written or written): the run stops early in the next epoch.
	out := newLineSignal("epoch 1/")
	var errOut bytes.Buffer
	done := make(chan int)
	go func() { done <- run([]string{"-config", cfgPath, "-quiet"}, out, &errOut) }()
	select {
	case <-out.seen:
	case code := <-done:
		t.Fatalf("exited with %d before finishing epoch 1; stdout:\n%s\nstderr:\n%s", code, out, errOut.String())
	}
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
	code := <-done
	require.Equal(t, 130, code, "stdout:\n%s\nstderr:\n%s", out, errOut.String())
	require.FileExists(t, filepath.Join(runDir, checkpoint.Name(1), "state.json"))
	require.Contains(t, errOut.String(), "interrupted; checkpoint saved")
	require.NoFileExists(t, result)

	// Resume and finish with 3 epochs in total (the interrupted checkpoint
	// is a little into epoch 2, or 3 if the signal came late).
	var resumed bytes.Buffer
	errOut.Reset()
	code = run([]string{"-config", cfgPath, "-quiet", "-set", "run.epochs=3"}, &resumed, &errOut)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", resumed.String(), errOut.String())
	require.Contains(t, resumed.String(), "resuming from")
	require.Contains(t, resumed.String(), "backend: ", "the backend opened is printed (on xla: the plugin file and PJRT version)")
	require.Contains(t, resumed.String(), "done: 3 epochs")
	b, err := os.ReadFile(result)
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(string(b)), "\n"), 2)
}

// lineSignal is an io.Writer that keeps what is written and closes seen once a line starting with
// prefix has been written: the event the interrupt test waits for, instead of polling with a deadline.
type lineSignal struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	prefix string
	seen   chan struct{}
}

func newLineSignal(prefix string) *lineSignal {
	return &lineSignal{prefix: prefix, seen: make(chan struct{})}
}

func (w *lineSignal) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	select {
	case <-w.seen:
	default:
		if strings.Contains("\n"+w.buf.String(), "\n"+w.prefix) {
			close(w.seen)
		}
	}
	return len(p), nil
}

func (w *lineSignal) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
