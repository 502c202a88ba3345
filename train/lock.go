package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// lockFile is the run directory's advisory lock, held by the trainer
// working in it; it holds that trainer's PID for the message of the next.
const lockFile = "train.lock"

// lockRunDir takes the run directory's lock, or fails naming the PID that
// holds it. The kernel drops a lock when its holder exits or is killed, so
// the lock file of a dead trainer never blocks. Readers (predict) do not
// lock: every file of the run directory is replaced atomically.
func lockRunDir(runDir string) (unlock func(), err error) {
	path := filepath.Join(runDir, lockFile)
	fl := flock.New(path)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("train: locking run directory %s: %w", runDir, err)
	}
	if !ok {
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = fmt.Sprintf("PID %d", pid)
			}
		}
		return nil, fmt.Errorf("train: run directory %s is in use by %s (another trainer); wait for it to finish, or choose another run.name", runDir, holder)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		_ = fl.Unlock()
		return nil, fmt.Errorf("train: %w", err)
	}
	return func() { _ = fl.Unlock() }, nil
}
