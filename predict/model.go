package predict

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/checkpoint"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/preprocess"
	"github.com/gocls/gocls/weights"
)

// Classifier is a network with its weights, ready for inference.
type Classifier struct {
	Net           *resnet.Model
	Store         *model.Store
	Scope         string                // variable scope passed to Logits, e.g. "/model"
	Classes       []string              // class names (may be empty or shorter than Net.NumClasses)
	Preprocessing preprocess.Convention // input convention of the weights
	Source        string                // checkpoint directory or weights source
	// Steps are the image operations the run trained with (model.json
	// "preprocess"), applied to each decoded image before the resize.
	Steps []preprocess.StepConfig
}

// LoadCheckpoint resolves path (a run directory or a checkpoint directory;
// step -1 picks "best", else the latest; step N the checkpoint of epoch N),
// reads the run's model.json (architecture, class count and names,
// preprocessing and steps) and restores the weights.
func LoadCheckpoint(path string, step int) (*Classifier, error) {
	dir, err := checkpoint.Resolve(path, step)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	info, err := checkpoint.ReadModelInfo(checkpoint.RunDirOf(dir))
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	net, err := resnet.New(info.Arch, info.NumClasses, resnet.Layout(info.Layout))
	if err != nil {
		return nil, fmt.Errorf("predict: %s: %w", dir, err)
	}
	store := model.NewStore()
	if err := checkpoint.Load(dir, store, nil); err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	if err := requireFinite(dir, store); err != nil {
		return nil, err
	}
	scope := info.Scope
	if scope == "" {
		scope = resnet.RootScope
	}
	return &Classifier{Net: net, Store: store, Scope: scope, Classes: info.Classes, Preprocessing: info.Preprocessing, Source: dir,
		Steps: info.Preprocess}, nil
}

// requireFinite refuses weights holding NaN or infinity: they would give
// the same class for every image.
func requireFinite(dir string, store *model.Store) error {
	for v := range store.IterVariables() {
		val, err := v.Value()
		if err != nil || val.DType() != dtypes.Float32 {
			continue
		}
		for i, x := range tensors.MustCopyFlatData[float32](val) {
			if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("predict: %s: damaged weights: variable %s holds %v (element %d)", dir, v.Path(), x, i)
			}
		}
	}
	return nil
}

// LoadPretrained opens pretrained weights with weights.Open (spec
// "imagenet", a .pth, .safetensors or TF.js model) and builds the network
// they fit, with their own head, labels and preprocessing. cacheDir "" means
// weights.DefaultCacheDir().
func LoadPretrained(spec, cacheDir string) (*Classifier, error) {
	if cacheDir == "" {
		cacheDir = weights.DefaultCacheDir()
	}
	set, err := weights.Open(spec, cacheDir)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	net, err := resnet.New(set.Arch, set.NumClasses, set.Layout)
	if err != nil {
		return nil, fmt.Errorf("predict: %s: %w", set.Source, err)
	}
	store := model.NewStore()
	if err := set.Assign(store.Scope(resnet.RootScope), false); err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	return &Classifier{Net: net, Store: store, Scope: resnet.RootScope, Classes: set.Labels, Preprocessing: set.Preprocessing, Source: set.Source}, nil
}

// Engine runs a Classifier on fixed-size batches of preprocessed images.
type Engine struct {
	c       *Classifier
	exec    *model.Exec
	batch   int
	crop    int
	classes int
}

// NewEngine compiles the inference graph (BatchNorm in inference mode) for
// batches of batch images [batch, crop, crop, 3]. With flip, each image is
// also classified mirrored left-right and the two softmax distributions are
// averaged. It fails when the weights do not cover every variable the
// network needs (nothing is silently initialised at random).
func NewEngine(be compute.Backend, c *Classifier, batch, crop int, flip bool) (e *Engine, err error) {
	defer recoverErr(&err)
	if batch <= 0 || crop <= 0 {
		return nil, fmt.Errorf("predict: batch (%d) and crop (%d) must be positive", batch, crop)
	}
	before := map[string]bool{}
	for v := range c.Store.IterVariables() {
		before[v.Path()] = true
	}
	net, store := c.Net, c.Store
	exec, err := model.NewExec(be, store, func(root *model.Scope, images *Node) *Node {
		store.SetTraining(images.Graph(), false)
		return inferenceGraph(net, store.Scope(c.Scope), images, flip)
	})
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	if _, err := exec.Compile(shapes.Make(dtypes.Float32, batch, crop, crop, 3)); err != nil {
		return nil, fmt.Errorf("predict: building the %s graph: %w", net.Name, err)
	}
	var missing []string
	for v := range store.IterVariables() {
		if !before[v.Path()] {
			missing = append(missing, v.Path())
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		if len(missing) > 5 {
			missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
		}
		return nil, fmt.Errorf("predict: %s: weights lack variables of %s (wrong scope or architecture?): %s",
			c.Source, net.Name, strings.Join(missing, ", "))
	}
	return &Engine{c: c, exec: exec, batch: batch, crop: crop, classes: net.NumClasses}, nil
}

// inferenceGraph returns log-probabilities [batch, classes]; with flip the
// log of the mean of the softmax of images and their mirror images.
func inferenceGraph(net *resnet.Model, scope *model.Scope, images *Node, flip bool) *Node {
	if !flip {
		return LogSoftmax(net.Logits(scope, images), -1)
	}
	b := images.Shape().Dimensions[0]
	both := Concatenate([]*Node{images, Reverse(images, 2)}, 0)
	lp := LogSoftmax(net.Logits(scope, both), -1)
	l1 := SliceAxis(lp, 0, AxisRange(0, b))
	l2 := SliceAxis(lp, 0, AxisRange(b, 2*b))
	m := Max(l1, l2)
	// log((exp(l1)+exp(l2))/2), stable.
	return AddScalar(Add(m, Log(Add(Exp(Sub(l1, m)), Exp(Sub(l2, m))))), -math.Ln2)
}

// BatchSize returns the batch size the engine was compiled for.
func (e *Engine) BatchSize() int { return e.batch }

// Run classifies n <= BatchSize() images held in images ([n, crop, crop, 3]
// float32, normalised) and returns n*classes log-probabilities, row-major.
// A short batch (n < BatchSize(), the tail of a run) compiles a graph for
// its size once instead of computing padding: ~50 ms on the Go backend
// against ~1 s per padded ResNet50 image.
func (e *Engine) Run(images []float32, n int) (out []float32, err error) {
	defer recoverErr(&err)
	per := e.crop * e.crop * 3
	if n <= 0 || n > e.batch || len(images) < n*per {
		return nil, fmt.Errorf("predict: Engine.Run: %d images in %d values (batch %d)", n, len(images), e.batch)
	}
	res, err := e.exec.Exec(tensors.FromFlatDataAndDimensions(images[:n*per], n, e.crop, e.crop, 3))
	if err != nil {
		return nil, fmt.Errorf("predict: running %s: %w", e.c.Net.Name, err)
	}
	flat, err := tensors.CopyFlatData[float32](res[0])
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	if len(flat) != n*e.classes {
		return nil, fmt.Errorf("predict: %s returned %d values for %d images of %d classes", e.c.Net.Name, len(flat), n, e.classes)
	}
	for i, x := range flat {
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 1) {
			return nil, fmt.Errorf("predict: %s: the network's output is %v (image %d of the batch): damaged weights", e.c.Source, x, i/e.classes+1)
		}
	}
	return flat, nil
}

func recoverErr(err *error) {
	if r := recover(); r != nil {
		if e, ok := r.(error); ok {
			*err = fmt.Errorf("predict: %w", e)
		} else {
			*err = fmt.Errorf("predict: %v", r)
		}
	}
}
