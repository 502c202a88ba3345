package train

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/predict"
)

// Two trainers on one run directory: the second fails at once naming the
// first's PID and changes nothing; predict reads the run meanwhile; the
// first finishes normally.
func TestConcurrentTrainers(t *testing.T) {
	cfg := tinyConfig(t)
	runDir := filepath.Join(cfg.Run.Dir, cfg.Run.Name)
	paused, resume := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := run(context.Background(), cfg, io.Discard, hooks{afterStep: func(step int) {
			if step == 4 { // the first step of epoch 2: ckpt-1 and best exist
				close(paused)
				<-resume
			}
		}})
		done <- err
	}()
	select {
	case <-paused:
	case err := <-done:
		t.Fatalf("the first trainer ended before pausing: %v", err)
	}
	configBefore, err := os.ReadFile(filepath.Join(runDir, "config.yaml"))
	require.NoError(t, err)
	varsBefore := loadVars(t, filepath.Join(runDir, checkpoint.Name(1)))

	second := cfg
	second.Optim.LR = 0.5
	second.Run.Resume = false // would delete the first's checkpoints if it got in
	_, err = run(context.Background(), second, io.Discard, hooks{})
	require.ErrorContains(t, err, fmt.Sprintf("run directory %s is in use by PID %d", runDir, os.Getpid()))

	out := filepath.Join(t.TempDir(), "result.csv")
	_, err = predict.Run(context.Background(), predict.Options{Checkpoint: runDir, Step: -1, Images: cfg.Data.TestPath(),
		Out: out, Backend: "go", BatchSize: 4, Workers: 1}, io.Discard)
	require.NoError(t, err, "predict while training")
	require.FileExists(t, out)

	configAfter, err := os.ReadFile(filepath.Join(runDir, "config.yaml"))
	require.NoError(t, err)
	require.Equal(t, string(configBefore), string(configAfter))
	require.Equal(t, varsBefore, loadVars(t, filepath.Join(runDir, checkpoint.Name(1))))
	close(resume)
	require.NoError(t, <-done)
	require.DirExists(t, filepath.Join(runDir, checkpoint.Name(2)))
}

// The lock of a trainer that was killed (SIGKILL) does not block the next
// one; while it lived, it blocked naming its PID.
func TestLockOfKilledTrainerDoesNotBlock(t *testing.T) {
	runDir := filepath.Join(t.TempDir(), "run")
	_, _, stopped := saverProcess(t, runDir, func(pid int) {
		_, err := lockRunDir(runDir)
		require.ErrorContains(t, err, fmt.Sprintf("in use by PID %d", pid))
	}, killAtEnv+"=ckpt/weights-written")
	require.True(t, stopped)
	unlock, err := lockRunDir(runDir)
	require.NoError(t, err)
	unlock()
}
