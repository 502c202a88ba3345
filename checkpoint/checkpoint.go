// Package checkpoint saves and restores this project's training checkpoints.
//
// A checkpoint is a directory holding model.safetensors (every float32
// variable of a GoMLX model.Store, named by its variable path), state.json
// (the caller's training state plus any non-float32 variables, such as the
// RNG state) and manifest.json (the SHA-256 and size of both, which Load
// verifies). Directories are written under a temporary name and renamed into
// place, so a crash at any instant leaves the previous checkpoint loadable;
// Recover tidies what such a crash leaves.
//
// A run directory (see RunDir) holds numbered checkpoints ckpt-NNNNNNNN (the
// number is the epoch), a "best" checkpoint and model.json (ModelInfo), which
// is all that prediction needs.
package checkpoint

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/internal/safetensors"
)

const (
	weightsFile = "model.safetensors"
	stateFile   = "state.json"
	// ManifestFile lists the SHA-256 and size of every other file of a
	// checkpoint; Save writes it last, Load verifies against it.
	ManifestFile = "manifest.json"
	prefix       = "ckpt-"
	// Best is the name of the best-by-validation checkpoint in a run directory.
	Best = "best"
)

type rawVar struct {
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	Data  string `json:"data"` // base64 of the little-endian bytes
}

type stateDoc struct {
	State     json.RawMessage   `json:"state,omitempty"`
	Variables map[string]rawVar `json:"variables,omitempty"`
}

// Point names a step of a save or a removal at which the run directory is in
// a distinct state on disk; fault tests stop the process there (see Saver).
type Point string

// The points of Saver.Save and Saver.Remove, in order.
const (
	PointTempCreated     Point = "temp-created"     // the temporary directory exists, empty
	PointWeightsWritten  Point = "weights-written"  // it holds model.safetensors
	PointStateWritten    Point = "state-written"    // it holds state.json too
	PointManifestWritten Point = "manifest-written" // it holds manifest.json: complete
	PointOldMovedAside   Point = "old-moved-aside"  // the previous checkpoint is DIR.old; DIR is missing
	PointRenamed         Point = "renamed"          // the new checkpoint is DIR; DIR.old still exists
	PointRemoving        Point = "removing"         // Remove: DIR is renamed to a temporary name, not yet deleted
)

// Saver writes and removes checkpoints. The zero value is what training uses;
// the fields are seams for fault tests and are nil in production.
type Saver struct {
	// AtPoint is called at each Point of a save or removal, with the
	// checkpoint directory concerned.
	AtPoint func(dir string, p Point)
	// WrapWriter wraps the writer of each file a save writes (a test limits
	// the bytes to simulate a full disk).
	WrapWriter func(io.Writer) io.Writer
}

func (s Saver) at(dir string, p Point) {
	if s.AtPoint != nil {
		s.AtPoint(dir, p)
	}
}

// Save writes every variable of store and the JSON encoding of state into the
// checkpoint directory dir, replacing any previous one atomically.
func (s Saver) Save(dir string, store *model.Store, state any) error {
	tensorsOut, stateJSON, err := encode(store, state)
	if err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+tmpInfix)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	s.at(dir, PointTempCreated)
	man := manifest{Files: map[string]fileSum{}}
	files := []struct {
		name  string
		point Point
		write func(w io.Writer) error
	}{
		{weightsFile, PointWeightsWritten, func(w io.Writer) error {
			return safetensors.Write(w, tensorsOut, map[string]string{"format": "gocls"})
		}},
		{stateFile, PointStateWritten, func(w io.Writer) error { _, err := w.Write(stateJSON); return err }},
	}
	for _, f := range files {
		sum, err := s.writeFile(filepath.Join(tmp, f.name), f.write)
		if err != nil {
			return fmt.Errorf("checkpoint: writing %s: %w", filepath.Join(dir, f.name), err)
		}
		man.Files[f.name] = sum
		s.at(dir, f.point)
	}
	manJSON, err := json.MarshalIndent(man, "", " ")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if _, err := s.writeFile(filepath.Join(tmp, ManifestFile), func(w io.Writer) error { _, err := w.Write(manJSON); return err }); err != nil {
		return fmt.Errorf("checkpoint: writing %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	s.at(dir, PointManifestWritten)
	return s.replaceDir(tmp, dir)
}

// manifest is manifest.json: the checksum of every other file.
type manifest struct {
	Files map[string]fileSum `json:"files"`
}

type fileSum struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func sumOf(data []byte) fileSum {
	h := sha256.Sum256(data)
	return fileSum{SHA256: hex.EncodeToString(h[:]), Size: int64(len(data))}
}

// encode returns the float32 variables of store as tensors and everything
// else (other variables, the state) as the state.json document.
func encode(store *model.Store, state any) (map[string]safetensors.Tensor, []byte, error) {
	tensorsOut := map[string]safetensors.Tensor{}
	doc := stateDoc{Variables: map[string]rawVar{}}
	for v := range store.IterVariables() {
		val, err := v.Value()
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint: variable %s: %w", v.Path(), err)
		}
		if val.DType() == dtypes.Float32 {
			data, err := tensors.CopyFlatData[float32](val)
			if err != nil {
				return nil, nil, fmt.Errorf("checkpoint: variable %s: %w", v.Path(), err)
			}
			tensorsOut[v.Path()] = safetensors.Tensor{Shape: val.Shape().Dimensions, Data: data}
			continue
		}
		var raw []byte
		if err := val.ConstBytes(func(b []byte) { raw = append([]byte{}, b...) }); err != nil {
			return nil, nil, fmt.Errorf("checkpoint: variable %s: %w", v.Path(), err)
		}
		doc.Variables[v.Path()] = rawVar{DType: val.DType().String(), Shape: val.Shape().Dimensions, Data: base64.StdEncoding.EncodeToString(raw)}
	}
	if state != nil {
		b, err := json.Marshal(state)
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint: encoding state: %w", err)
		}
		doc.State = b
	}
	stateJSON, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	return tensorsOut, stateJSON, nil
}

// writeFile creates path with the bytes fn writes, synced to disk, and
// returns their checksum.
func (s Saver) writeFile(path string, fn func(w io.Writer) error) (fileSum, error) {
	f, err := os.Create(path)
	if err != nil {
		return fileSum{}, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(bw, h)}
	var w io.Writer = cw
	if s.WrapWriter != nil {
		w = s.WrapWriter(cw)
	}
	err = fn(w)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return fileSum{SHA256: hex.EncodeToString(h.Sum(nil)), Size: cw.n}, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// tmpInfix marks the temporary directories of Save and Remove:
// .NAME.tmp-RANDOM next to the checkpoint NAME.
const tmpInfix = ".tmp-"

// replaceDir renames tmp to dir; an existing dir is moved aside first and
// removed only after the new one is in place.
func (s Saver) replaceDir(tmp, dir string) error {
	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = dir + ".old"
		os.RemoveAll(old)
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		s.at(dir, PointOldMovedAside)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return fmt.Errorf("checkpoint: %w", err)
	}
	if old != "" {
		s.at(dir, PointRenamed)
	}
	os.RemoveAll(dir + ".old") // also a leftover of an earlier crash
	return nil
}

// Remove deletes the checkpoint directory dir (if present) so that no reader
// ever sees it half deleted: it is first renamed to a temporary name.
func (s Saver) Remove(dir string) error {
	tmp := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+tmpInfix+"removing")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(dir, tmp); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("checkpoint: %w", err)
	}
	s.at(dir, PointRemoving)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// Recover tidies a run directory after a process was killed while writing
// it; only the run's single writer (holding its lock) may call it. It
// deletes the temporaries of Save, Remove and atomic file writes (hidden
// ".NAME.tmp-*" entries), and each DIR.old left by a kill between Save's
// two renames: when DIR is missing, DIR.old (the complete previous
// checkpoint) is renamed back to DIR instead. It returns what it did, one
// line per entry.
func Recover(runDir string) ([]string, error) {
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var done []string
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(runDir, name)
		switch {
		case strings.HasPrefix(name, ".") && strings.Contains(name, tmpInfix):
			if err := os.RemoveAll(path); err != nil {
				return done, fmt.Errorf("checkpoint: %w", err)
			}
			done = append(done, "removed "+path)
		case e.IsDir() && strings.HasSuffix(name, ".old"):
			dir := strings.TrimSuffix(path, ".old")
			if Exists(dir) {
				if err := os.RemoveAll(path); err != nil {
					return done, fmt.Errorf("checkpoint: %w", err)
				}
				done = append(done, "removed "+path)
			} else if Exists(path) {
				if err := os.RemoveAll(dir); err != nil {
					return done, fmt.Errorf("checkpoint: %w", err)
				}
				if err := os.Rename(path, dir); err != nil {
					return done, fmt.Errorf("checkpoint: %w", err)
				}
				done = append(done, "restored "+dir+" from "+path)
			}
		}
	}
	return done, nil
}

// ErrDamaged marks the errors of Load and Verify caused by a checkpoint
// whose files are missing, unreadable or do not match its manifest.
var ErrDamaged = errors.New("damaged")

// damaged returns an error wrapping ErrDamaged that names the file.
func damaged(path, format string, args ...any) error {
	return fmt.Errorf("checkpoint: %s is %w: %s", path, ErrDamaged, fmt.Sprintf(format, args...))
}

// readVerified reads the checkpoint files of dir, checking each against the
// manifest when there is one.
func readVerified(dir string, names ...string) (map[string][]byte, error) {
	var man manifest
	verified := false
	mpath := filepath.Join(dir, ManifestFile)
	mb, err := os.ReadFile(mpath)
	switch {
	case err == nil:
		if err := json.Unmarshal(mb, &man); err != nil || man.Files == nil {
			return nil, damaged(mpath, "not a manifest")
		}
		verified = true
	case !errors.Is(err, os.ErrNotExist):
		return nil, damaged(mpath, "%v", err)
	}
	data := map[string][]byte{}
	for _, name := range names {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, damaged(path, "%v", err)
		}
		if verified {
			want, ok := man.Files[name]
			if !ok {
				return nil, damaged(mpath, "%s is not listed", name)
			}
			if got := sumOf(b); got != want {
				return nil, damaged(path, "%d bytes with sha256 %.12s…, %s records %d bytes with sha256 %.12s…",
					got.Size, got.SHA256, ManifestFile, want.Size, want.SHA256)
			}
		}
		data[name] = b
	}
	return data, nil
}

// Verified reports whether dir holds a manifest, that is whether Load
// verifies its files (checkpoints of older versions have none and are
// loaded unverified).
func Verified(dir string) bool { return fileExists(filepath.Join(dir, ManifestFile)) }

// Load reads the checkpoint directory dir: every variable it holds is set in
// store (created when missing, shape-checked when present), and the saved
// state is decoded into state (if not nil). Every file is checked against
// the manifest first (when there is one: see Verified); a damaged
// checkpoint is an error wrapping ErrDamaged, naming the file, and changes
// nothing in store.
func Load(dir string, store *model.Store, state any) error {
	files, err := readVerified(dir, weightsFile, stateFile)
	if err != nil {
		return err
	}
	ts, _, err := safetensors.Parse(files[weightsFile])
	if err != nil {
		return damaged(filepath.Join(dir, weightsFile), "%v", err)
	}
	var doc stateDoc
	if err := json.Unmarshal(files[stateFile], &doc); err != nil {
		return damaged(filepath.Join(dir, stateFile), "%v", err)
	}
	for path, t := range ts {
		if err := setVar(store, path, tensors.FromFlatDataAndDimensions(t.Data, t.Shape...)); err != nil {
			return fmt.Errorf("checkpoint: %s: %w", dir, err)
		}
	}
	for path, rv := range doc.Variables {
		dt, err := dtypes.DTypeString(rv.DType)
		if err != nil {
			return fmt.Errorf("checkpoint: %s: variable %s: %w", dir, path, err)
		}
		raw, err := base64.StdEncoding.DecodeString(rv.Data)
		if err != nil {
			return fmt.Errorf("checkpoint: %s: variable %s: %w", dir, path, err)
		}
		t := tensors.FromShape(shapes.Make(dt, rv.Shape...))
		if int(t.ByteSize()) != len(raw) {
			return fmt.Errorf("checkpoint: %s: variable %s: %d bytes for shape %v", dir, path, len(raw), rv.Shape)
		}
		if err := t.MutableBytes(func(b []byte) { copy(b, raw) }); err != nil {
			return fmt.Errorf("checkpoint: %s: %w", dir, err)
		}
		if err := setVar(store, path, t); err != nil {
			return fmt.Errorf("checkpoint: %s: %w", dir, err)
		}
	}
	if state != nil && len(doc.State) > 0 {
		if err := json.Unmarshal(doc.State, state); err != nil {
			return fmt.Errorf("checkpoint: %s: state: %w", dir, err)
		}
	}
	return nil
}

func setVar(store *model.Store, path string, t *tensors.Tensor) error {
	if v := store.GetVariable(path); v != nil {
		if !v.Shape().Equal(t.Shape()) {
			return fmt.Errorf("variable %s has shape %s in the checkpoint, the model wants %s", path, t.Shape(), v.Shape())
		}
		return v.SetValue(t)
	}
	_, err := store.CreateVariable(path, t)
	return err
}

// LoadTensors reads only the float32 tensors of a checkpoint directory, by
// variable path (used to fine-tune from another run), verified as by Load.
func LoadTensors(dir string) (map[string]safetensors.Tensor, error) {
	files, err := readVerified(dir, weightsFile)
	if err != nil {
		return nil, err
	}
	ts, _, err := safetensors.Parse(files[weightsFile])
	if err != nil {
		return nil, damaged(filepath.Join(dir, weightsFile), "%v", err)
	}
	return ts, nil
}

// Name returns the directory name of the checkpoint for an epoch.
func Name(epoch int) string { return fmt.Sprintf("%s%08d", prefix, epoch) }

// List returns the numbered checkpoints of a run directory, oldest first.
func List(runDir string) ([]string, error) {
	entries, err := os.ReadDir(runDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	type numbered struct {
		n    int
		path string
	}
	var found []numbered
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, prefix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(name, prefix))
		if err != nil {
			continue
		}
		if !Exists(filepath.Join(runDir, name)) {
			continue // incomplete
		}
		found = append(found, numbered{n, filepath.Join(runDir, name)})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].n < found[j].n })
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.path
	}
	return out, nil
}

// Latest returns the newest numbered checkpoint of runDir, or "" if none.
func Latest(runDir string) (string, error) {
	l, err := List(runDir)
	if err != nil || len(l) == 0 {
		return "", err
	}
	return l[len(l)-1], nil
}

// Prune removes all but the newest keep numbered checkpoints (keep <= 0 keeps all).
func (s Saver) Prune(runDir string, keep int) error {
	if keep <= 0 {
		return nil
	}
	l, err := List(runDir)
	if err != nil {
		return err
	}
	for i := 0; i < len(l)-keep; i++ {
		if err := s.Remove(l[i]); err != nil {
			return err
		}
	}
	return nil
}

// Resolve finds a checkpoint directory from a user argument: a checkpoint
// directory itself, or a run directory (then "best" when present, else the
// latest), or with step >= 0 the run directory's ckpt for that epoch.
func Resolve(path string, step int) (string, error) {
	if _, err := os.Stat(filepath.Join(path, weightsFile)); err == nil && step < 0 {
		return path, nil
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if step >= 0 {
		d := filepath.Join(path, Name(step))
		if _, err := os.Stat(filepath.Join(d, weightsFile)); err != nil {
			l, _ := List(path)
			return "", fmt.Errorf("checkpoint: %s: no checkpoint for step %d (have %d numbered checkpoints)", path, step, len(l))
		}
		return d, nil
	}
	if b := filepath.Join(path, Best); fileExists(filepath.Join(b, weightsFile)) {
		return b, nil
	}
	// A crash between Save's two renames leaves the previous best as best.old.
	if b := filepath.Join(path, Best+".old"); Exists(b) {
		return b, nil
	}
	latest, err := Latest(path)
	if err != nil {
		return "", err
	}
	if latest == "" {
		return "", fmt.Errorf("checkpoint: %s: no checkpoint found (want %s/ or %sNNNNNNNN/ holding %s)", path, Best, prefix, weightsFile)
	}
	return latest, nil
}

// Exists reports whether dir holds a complete checkpoint (Save writes
// state.json last, inside a directory renamed into place).
func Exists(dir string) bool {
	return fileExists(filepath.Join(dir, stateFile))
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
