package train

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
	"github.com/gocls/gocls/weights"
)

// loadPretrained initialises the network variables under resnet.RootScope from
// cfg.Model.Pretrained and returns the preprocessing those weights expect
// (its resize/crop are then taken from data.eval by the caller):
//
//   - a run directory or checkpoint directory of this project (anything
//     checkpoint.Resolve accepts: best, else the latest): its model.json
//     gives the architecture and preprocessing;
//   - otherwise a weights.Open spec: "imagenet", a .pth/.pt, a .safetensors
//     or a TF.js model.
//
// The architecture and layout must match model.arch / model.layout. The
// classifier (fc) is skipped, and so left to its random initialisation,
// when the class counts differ.
func loadPretrained(cfg Config, store *model.Store, log io.Writer) (preprocess.Convention, error) {
	spec := cfg.Model.Pretrained
	classes := cfg.Data.NumClasses
	if spec != "imagenet" {
		dir, err := checkpoint.Resolve(spec, -1)
		if err == nil {
			return loadOwnCheckpoint(cfg, dir, store, log)
		}
		if _, statErr := os.Stat(spec); statErr != nil {
			return preprocess.Convention{}, fmt.Errorf("train: model.pretrained: %w", statErr)
		}
		if _, infoErr := checkpoint.ReadModelInfo(spec); infoErr == nil {
			return preprocess.Convention{}, fmt.Errorf("train: model.pretrained: %w", err) // a run directory of ours without checkpoints
		}
	}
	set, err := weights.Open(spec, weights.DefaultCacheDir())
	if err != nil {
		return preprocess.Convention{}, fmt.Errorf("train: model.pretrained: %w", err)
	}
	if set.Arch != cfg.Model.Arch || set.Layout != cfg.Model.Layout {
		return preprocess.Convention{}, fmt.Errorf("train: model.pretrained %s holds %s weights in layout %q, but model.arch is %s and model.layout %q: set them to match",
			spec, set.Arch, set.Layout, cfg.Model.Arch, cfg.Model.Layout)
	}
	skipHead := set.NumClasses != classes
	if err := set.Assign(store.Scope(resnet.RootScope), skipHead); err != nil {
		return preprocess.Convention{}, fmt.Errorf("train: model.pretrained: %w", err)
	}
	fmt.Fprintf(log, "initialised from %s (%s, %s)%s\n", set.Source, set.Arch, set.Layout, headNote(skipHead, set.NumClasses, classes))
	return set.Preprocessing, nil
}

// loadOwnCheckpoint copies the network tensors of checkpoint dir (not its
// optimizer state) into store.
func loadOwnCheckpoint(cfg Config, dir string, store *model.Store, log io.Writer) (preprocess.Convention, error) {
	info, err := checkpoint.ReadModelInfo(checkpoint.RunDirOf(dir))
	if err != nil {
		return preprocess.Convention{}, fmt.Errorf("train: model.pretrained: %w", err)
	}
	if info.Arch != cfg.Model.Arch || resnet.Layout(info.Layout) != cfg.Model.Layout {
		return preprocess.Convention{}, fmt.Errorf("train: model.pretrained %s holds %s weights in layout %q, but model.arch is %s and model.layout %q: set them to match",
			dir, info.Arch, info.Layout, cfg.Model.Arch, cfg.Model.Layout)
	}
	ts, err := checkpoint.LoadTensors(dir)
	if err != nil {
		return preprocess.Convention{}, fmt.Errorf("train: model.pretrained: %w", err)
	}
	scope := info.Scope
	if scope == "" {
		scope = resnet.RootScope
	}
	skipHead := info.NumClasses != cfg.Data.NumClasses
	names := make([]string, 0, len(ts))
	for name := range ts {
		names = append(names, name)
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		rel, ok := strings.CutPrefix(name, scope+"/")
		if !ok || (skipHead && resnet.IsHead("/"+rel)) {
			continue
		}
		t := ts[name]
		if _, err := store.CreateVariable(resnet.RootScope+"/"+rel, tensors.FromFlatDataAndDimensions(t.Data, t.Shape...)); err != nil {
			return preprocess.Convention{}, fmt.Errorf("train: model.pretrained %s: %s: %w", dir, name, err)
		}
		n++
	}
	if n == 0 {
		return preprocess.Convention{}, fmt.Errorf("train: model.pretrained %s: no tensors under %s", dir, scope)
	}
	fmt.Fprintf(log, "initialised %d tensors from %s (%s, %s)%s\n", n, dir, info.Arch, info.Layout, headNote(skipHead, info.NumClasses, cfg.Data.NumClasses))
	warnPretrainedSteps(cfg, dir, info, log)
	return info.Preprocessing, nil
}

func headNote(skipped bool, from, to int) string {
	if !skipped {
		return ""
	}
	return fmt.Sprintf("; new %d-class classifier replaces the %d-class one", to, from)
}
