// Command bench measures ResNet training or inference throughput on synthetic data, like timm's
// benchmark.py: it builds the model, warms up (compilation + first runs), times -steps steps and prints
// one JSON line:
//
//	{"model":"resnet50","size":224,"batch":8,"mode":"train","backend":"go","precision":"float32",
//	 "img_per_s":..,"step_ms_median":..,"step_ms_mean":..,"peak_mem_mb":..,...}
//
// Train mode runs forward + backward + a plain SGD update of every trainable variable (written inline
// with graph.Gradient); infer mode runs the forward pass with running BN statistics.
//
// Usage:
//
//	bench -model resnet50 -size 224 -batch 8 -mode train|infer [-steps N] [-warmup N] [-backend B]
//	      [-precision float32|bfloat16] [-cpuprofile file]
//	      [-data DIR [-epochs N] [-workers N]]
//
// -data DIR also trains on a dataset in the list-file layout (DIR/train_list.txt, as cat12 or one made by
// internal/synth) with the real loader and training loop (train.Run, with -model, -size as the crop, -batch,
// -precision, -backend) and adds the last epoch's training img/s and its ratio to the model-only img/s:
// "loop_img_per_s", "loop_over_model". The run's log goes to stderr.
//
// -backend is opened like the trainer does (internal/backend): "go" by default, the pure-Go backend,
// run with ops_sequential (compute v0.1.6 can deadlock running ops in parallel); "go:OPTIONS",
// "xla:cpu", ... are passed through.
// Build with GOEXPERIMENT=simd as the README does (GoMLX's own matrix products use it; the convolutions,
// this repository's assembly kernels in third_party/compute, do not). GOMLX_FASTCONV=false measures
// GoMLX's original executors; GOMLX_FASTCONV_KERNEL=avx2 the kernel a CPU without AVX-512 gets.
//
// The ONNX Runtime backend (build tag onnx) is also supported, with the CPU library from npm:
//
//	npm pack onnxruntime-node@1.30.0 && tar xzf onnxruntime-node-1.30.0.tgz package/bin/napi-v6/linux/x64
//	export ONNXRUNTIME_SHARED_LIBRARY_PATH=$PWD/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 GOMLX_NO_AUTO_INSTALL=1
//	GOEXPERIMENT=simd go run -tags onnx ./cmd/bench -backend onnxruntime -mode train
//
// The PyTorch reference with the same shapes and output is torch_bench.py in this directory.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	openbackend "github.com/gocls/gocls/internal/backend"
	"github.com/gocls/gocls/models/resnet"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// config holds the parsed flags.
type config struct {
	model, mode, backend, layout, cpuProfile    string
	precision, data                             string
	size, batch, steps, warmup, classes, epochs int
	workers                                     int
	learningRate                                float64
}

// result is the JSON line printed on success.
type result struct {
	Model        string    `json:"model"`
	Size         int       `json:"size"`
	Batch        int       `json:"batch"`
	Mode         string    `json:"mode"`
	Backend      string    `json:"backend"`
	Precision    string    `json:"precision"`
	ImgPerS      float64   `json:"img_per_s"`
	StepMsMedian float64   `json:"step_ms_median"`
	StepMsMean   float64   `json:"step_ms_mean"`
	StepMsMin    float64   `json:"step_ms_min"`
	PeakMemMB    float64   `json:"peak_mem_mb"`
	Steps        int       `json:"steps"`
	Warmup       int       `json:"warmup"`
	CompileS     float64   `json:"compile_and_first_step_s"`
	GOMAXPROCS   int       `json:"gomaxprocs"`
	GoVersion    string    `json:"go_version"`
	StepsMs      []float64 `json:"steps_ms"`
	// With -data: the training img/s of the real loader and loop (last
	// epoch) and its ratio to the model-only img/s above.
	Data          string  `json:"data,omitempty"`
	LoopImgPerS   float64 `json:"loop_img_per_s,omitempty"`
	LoopOverModel float64 `json:"loop_over_model,omitempty"`
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.model, "model", "resnet50", "model name: "+strings.Join(resnet.Names(), ", "))
	fs.IntVar(&c.size, "size", 224, "image height and width")
	fs.IntVar(&c.batch, "batch", 8, "batch size")
	fs.StringVar(&c.mode, "mode", "train", "train (forward+backward+SGD) or infer (forward)")
	fs.IntVar(&c.steps, "steps", 10, "timed steps")
	fs.IntVar(&c.warmup, "warmup", 2, "untimed steps before timing (the first one compiles)")
	fs.StringVar(&c.backend, "backend", "go", "backend: go (ops_sequential), go:OPTIONS, xla:cpu, onnxruntime (build tag onnx)")
	fs.StringVar(&c.precision, "precision", "float32", "activations: float32, or bfloat16 (convolutions in bfloat16, float32 master weights, batch norm and loss)")
	fs.StringVar(&c.layout, "layout", string(resnet.LayoutTorchvision), "weight layout: v1.5 (torchvision) or v1 (keras)")
	fs.IntVar(&c.classes, "classes", 1000, "number of classes")
	fs.Float64Var(&c.learningRate, "lr", 1e-3, "SGD learning rate of the train step")
	fs.StringVar(&c.data, "data", "", "also train on this list-file dataset (DIR/train_list.txt) with the real loader and loop, and report its img/s")
	fs.IntVar(&c.epochs, "epochs", 2, "with -data: epochs to train (the last one is timed)")
	fs.IntVar(&c.workers, "workers", 0, "with -data: loader workers (0: GOMAXPROCS)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	switch {
	case c.mode != "train" && c.mode != "infer":
		return c, fmt.Errorf("bench: -mode %q: want train or infer", c.mode)
	case c.precision != "float32" && c.precision != "bfloat16":
		return c, fmt.Errorf("bench: -precision %q: want float32 or bfloat16", c.precision)
	case c.data != "" && (c.mode != "train" || c.epochs < 2):
		return c, fmt.Errorf("bench: -data needs -mode train and -epochs >= 2")
	case c.size < 32 || c.batch < 1 || c.steps < 1 || c.warmup < 0:
		return c, fmt.Errorf("bench: need -size >= 32, -batch >= 1, -steps >= 1, -warmup >= 0 (got %d, %d, %d, %d)",
			c.size, c.batch, c.steps, c.warmup)
	}
	if c.data != "" {
		classes, err := listClasses(c.data)
		if err != nil {
			return c, err
		}
		c.classes = classes
	}
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		var res result
		res, err = bench(c)
		if err == nil && c.data != "" {
			res.Data = c.data
			res.LoopImgPerS, err = loopBench(c, stderr)
			res.LoopImgPerS = round(res.LoopImgPerS, 3)
			res.LoopOverModel = round(res.LoopImgPerS/res.ImgPerS, 3)
		}
		if err == nil {
			line, _ := json.Marshal(res)
			fmt.Fprintln(stdout, string(line))
			return 0
		}
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// bench builds and times the step; graph-building panics are returned as errors.
func bench(c config) (res result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bench: %v", r)
		}
	}()
	m, err := resnet.New(c.model, c.classes, resnet.Layout(c.layout))
	if err != nil {
		return res, err
	}
	backend, err := openbackend.New(c.backend)
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	defer backend.Finalize()

	store := model.NewStore()
	store.RootScope().SetParam(model.ParamInitialSeed, int64(1))
	if c.mode == "infer" {
		if err := initVariables(c, backend, store, m); err != nil {
			return res, err
		}
	}
	exec, err := model.NewExec(backend, store, stepGraph(c, store, m))
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	images, labels := syntheticBatch(c)
	step := func() error {
		out, err := exec.Call1(images, labels)
		if err != nil {
			return fmt.Errorf("bench: step: %w", err)
		}
		tensors.MustCopyFlatData[float32](out) // wait for the result on the host.
		out.FinalizeAll()
		return nil
	}
	t, err := timeSteps(c, step)
	if err != nil {
		return res, err
	}
	return newResult(c, backend.String(), t), nil
}

// initVariables creates and initialises the model's variables in a scratch training graph: backends
// that embed non-trainable variables as constants in inference graphs (ONNX Runtime) need every
// variable to hold a value first.
func initVariables(c config, backend compute.Backend, store *model.Store, m *resnet.Model) error {
	g := NewGraph(backend, "create_variables")
	store.SetTraining(g, true)
	model.SetStore(g, store)
	m.Logits(store.RootScope().In("model"), Parameter(g, "images", shapes.Make(dtypes.Float32, c.batch, c.size, c.size, 3)))
	g.Finalize()
	if err := store.InitializeVariables(backend, nil); err != nil {
		return fmt.Errorf("bench: initialising variables: %w", err)
	}
	return nil
}

// stepGraph returns the graph of one step: the logits (infer), or the loss after a plain SGD update of
// every trainable variable (train).
func stepGraph(c config, store *model.Store, m *resnet.Model) func(scope *model.Scope, images, labels *Node) *Node {
	training := c.mode == "train"
	return func(scope *model.Scope, images, labels *Node) *Node {
		g := images.Graph()
		store.SetTraining(g, training)
		modelScope := scope.In("model")
		input := images
		if c.precision == "bfloat16" {
			input = ConvertDType(images, dtypes.BFloat16)
		}
		logits := m.Logits(modelScope, input)
		if !training {
			return logits
		}
		onehot := OneHot(labels, c.classes, dtypes.Float32)
		loss := Neg(ReduceAllMean(ReduceSum(Mul(onehot, LogSoftmax(logits, -1)), -1)))
		var vars []*model.Variable
		var nodes []*Node
		for v := range modelScope.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				vars = append(vars, v)
				nodes = append(nodes, v.NodeValue(g))
			}
		}
		grads := Gradient(loss, nodes...)
		for i, v := range vars {
			v.SetNodeValue(Sub(nodes[i], MulScalar(grads[i], c.learningRate)))
		}
		return loss
	}
}

// timing is what timeSteps measures.
type timing struct {
	compileS float64   // the first warm-up step, which compiles
	totalS   float64   // the timed steps
	stepsMs  []float64 // each timed step
}

// timeSteps runs the warm-up steps (at least one), then times c.steps steps, under the CPU profiler
// with -cpuprofile.
func timeSteps(c config, step func() error) (t timing, err error) {
	start := time.Now()
	for i := range max(c.warmup, 1) {
		if err := step(); err != nil {
			return t, err
		}
		if i == 0 {
			t.compileS = time.Since(start).Seconds()
		}
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return t, fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return t, fmt.Errorf("bench: %s: %w", c.cpuProfile, err)
		}
		defer pprof.StopCPUProfile()
	}
	t.stepsMs = make([]float64, 0, c.steps)
	t0 := time.Now()
	for range c.steps {
		s := time.Now()
		if err := step(); err != nil {
			return t, err
		}
		t.stepsMs = append(t.stepsMs, float64(time.Since(s).Microseconds())/1e3)
	}
	t.totalS = time.Since(t0).Seconds()
	return t, nil
}

// newResult returns the JSON line's fields for the measured timing t.
func newResult(c config, backend string, t timing) result {
	return result{
		Model: c.model, Size: c.size, Batch: c.batch, Mode: c.mode, Backend: backend, Precision: c.precision,
		ImgPerS: round(float64(c.batch*c.steps)/t.totalS, 3), StepMsMean: round(t.totalS*1e3/float64(c.steps), 1),
		StepMsMedian: round(median(t.stepsMs), 1), StepMsMin: round(slices.Min(t.stepsMs), 1),
		PeakMemMB: round(peakMemMB(), 1), Steps: c.steps, Warmup: c.warmup, CompileS: round(t.compileS, 2),
		GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), StepsMs: t.stepsMs,
	}
}

// syntheticBatch returns images [batch, size, size, 3] float32 ~ U[-1,1) and labels [batch] int32.
func syntheticBatch(c config) (*tensors.Tensor, *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(1, 2))
	pix := make([]float32, c.batch*c.size*c.size*3)
	for i := range pix {
		pix[i] = rng.Float32()*2 - 1
	}
	labels := make([]int32, c.batch)
	for i := range labels {
		labels[i] = int32(i % c.classes)
	}
	return tensors.FromFlatDataAndDimensions(pix, c.batch, c.size, c.size, 3),
		tensors.FromFlatDataAndDimensions(labels, c.batch)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func round(v float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return f
}

// peakMemMB returns the process' peak resident set size (VmHWM from /proc/self/status) in MiB, or the
// Go runtime's total obtained memory where /proc is unavailable.
func peakMemMB() float64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.Sys) / (1 << 20)
}
