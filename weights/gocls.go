package weights

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/internal/safetensors"
	"github.com/gocls/gocls/models/resnet"
)

// goclsFormat is the safetensors metadata "format" of this project's checkpoints.
const goclsFormat = "gocls"

// openCheckpointDir opens a checkpoint directory of this project (or a run
// directory, resolved by checkpoint.Resolve to best, else the latest).
func openCheckpointDir(dir string) (*Set, error) {
	raw, err := checkpoint.LoadTensors(dir)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	return newCheckpointSet(dir, dir, raw)
}

// newCheckpointSet turns the tensors of one of this project's checkpoints
// (model.safetensors in ckptDir, metadata format=gocls) into a Set: the
// network's variables (under the run's scope: model.json's, else
// resnet.RootScope) are kept with the scope removed, the optimizer state is
// left out. The run's model.json, when
// present, gives the layout, preprocessing and class names, and must agree
// with the architecture the tensors show; without it they are inferred as for
// any safetensors file of this project's names.
func newCheckpointSet(source, ckptDir string, raw map[string]safetensors.Tensor) (*Set, error) {
	info, err := checkpoint.ReadModelInfo(checkpoint.RunDirOf(ckptDir))
	haveInfo := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("weights: %s: %w", source, err)
	}
	scope := resnet.RootScope
	if haveInfo && info.Scope != "" {
		scope = info.Scope
	}
	ts := make(map[string]safetensors.Tensor, len(raw))
	for name, t := range raw {
		if rel, ok := strings.CutPrefix(name, scope+"/"); ok {
			ts[rel] = t
		}
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("weights: %s: no tensors under the model scope %s", source, scope)
	}
	if !haveInfo {
		return newSafetensorsSet(source, ts, nil)
	}
	s, err := newSet(source, ts, resnet.Layout(info.Layout), info.Preprocessing)
	if err != nil {
		return nil, err
	}
	modelJSON := filepath.Join(checkpoint.RunDirOf(ckptDir), checkpoint.ModelInfoFile)
	if s.Arch != info.Arch || s.NumClasses != info.NumClasses {
		return nil, fmt.Errorf("weights: %s holds a %d-class %s, but %s says a %d-class %s", source, s.NumClasses, s.Arch, modelJSON, info.NumClasses, info.Arch)
	}
	if len(info.Classes) > 0 {
		if len(info.Classes) != s.NumClasses {
			return nil, fmt.Errorf("weights: %s: %d class names for %d classes", modelJSON, len(info.Classes), s.NumClasses)
		}
		s.Labels = info.Classes
	}
	return s, nil
}
