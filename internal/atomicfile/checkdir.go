package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// CheckDir reports whether files can be created in dir, by creating and
// removing a hidden probe file, so that a long job can refuse an output it
// could not write before doing the work. The error names dir and is meant to
// be prefixed by the caller with the flag or key that gave it.
func CheckDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("output directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("output directory %s: %w", dir, unwrapPath(err))
	case !st.IsDir():
		return fmt.Errorf("output directory %s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, unwrapPath(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// unwrapPath drops the *fs.PathError wrapping (its path is the probe's or dir).
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
