// Package predicttest builds tiny run directories for tests of prediction
// (and of anything that reads checkpoints): a randomly initialised ResNet
// saved exactly as training saves it.
package predicttest

import (
	"fmt"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
)

// TinyPreprocessing is a cheap input convention: resize 32, crop 32.
var TinyPreprocessing = preprocess.Convention{Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.25, 0.25, 0.25}, Scale: 1, Resize: 32, Crop: 32}

// ClassName is the name SaveRun gives class i in model.json: "acat", "bcat", ...
func ClassName(i int) string { return string(rune('a'+i%26)) + "cat" }

// SaveRun initialises arch (torchvision layout) with classes outputs from
// seed, multiplies the classifier weights by 20 so that predictions are
// decisive, and writes run/best, run/ckpt-00000001 (the same network with
// the classifier weights negated, so its best class is best's worst) and
// run/model.json with prep and class names ClassName(i).
func SaveRun(run, arch string, classes int, prep preprocess.Convention, seed int64) error {
	net, err := resnet.New(arch, classes, resnet.LayoutTorchvision)
	if err != nil {
		return err
	}
	be, err := backend.New("go")
	if err != nil {
		return err
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(seed); err != nil {
		return err
	}
	exec, err := model.NewExec(be, store, func(root *model.Scope, images *Node) *Node {
		return net.Logits(store.Scope(resnet.RootScope), images)
	})
	if err != nil {
		return err
	}
	if _, err := exec.Exec(tensors.FromShape(shapes.Make(dtypes.Float32, 1, prep.Crop, prep.Crop, 3))); err != nil {
		return fmt.Errorf("predicttest: %w", err)
	}
	scale := func(f float32) error {
		v := store.GetVariable(resnet.RootScope + "/fc/weights")
		vals, err := tensors.CopyFlatData[float32](v.MustValue())
		if err != nil {
			return err
		}
		for i := range vals {
			vals[i] *= f
		}
		return v.SetValue(tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...))
	}
	if err := scale(20); err != nil {
		return err
	}
	if err := (checkpoint.Saver{}).Save(filepath.Join(run, checkpoint.Best), store, nil); err != nil {
		return err
	}
	if err := scale(-1); err != nil {
		return err
	}
	if err := (checkpoint.Saver{}).Save(filepath.Join(run, checkpoint.Name(1)), store, nil); err != nil {
		return err
	}
	names := make([]string, classes)
	for i := range names {
		names[i] = ClassName(i)
	}
	return checkpoint.WriteModelInfo(run, checkpoint.ModelInfo{Arch: arch, Layout: string(resnet.LayoutTorchvision),
		NumClasses: classes, Classes: names, Scope: resnet.RootScope, Preprocessing: prep})
}

// NewStore returns arch (torchvision layout, classes outputs) with every
// variable under resnet.RootScope initialised from seed on be (use the store with that
// backend only), for benchmarks that need a network but no run directory.
func NewStore(be compute.Backend, arch string, classes, crop int, seed int64) (*model.Store, *resnet.Model, error) {
	net, err := resnet.New(arch, classes, resnet.LayoutTorchvision)
	if err != nil {
		return nil, nil, err
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(seed); err != nil {
		return nil, nil, err
	}
	exec, err := model.NewExec(be, store, func(root *model.Scope, images *Node) *Node {
		return net.Logits(store.Scope(resnet.RootScope), images)
	})
	if err != nil {
		return nil, nil, err
	}
	if _, err := exec.Exec(tensors.FromShape(shapes.Make(dtypes.Float32, 1, crop, crop, 3))); err != nil {
		return nil, nil, fmt.Errorf("predicttest: %w", err)
	}
	return store, net, nil
}
