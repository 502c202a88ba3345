package train

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"unsafe"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gocls/gocls/dataset"
)

// metricsEvery is how many micro-batches run between reads of the training
// loss and top-1 count: they stay on the device meanwhile, so that an
// accelerator is not stopped after every step to send back a scalar. A
// non-finite loss therefore stops the run at most metricsEvery steps late
// (no checkpoint is written in between: every save reads them first).
const metricsEvery = 20

type stopReason int

const (
	stopEpochEnd stopReason = iota
	stopCancelled
	stopMaxSteps
)

// fed is a loader batch with its inputs already on the device.
type fed struct {
	b              dataset.Batch // its image buffer is released once uploaded
	images, labels *tensors.Tensor
	err            error
}

func (f fed) free() {
	for _, t := range []*tensors.Tensor{f.images, f.labels} {
		if t != nil {
			t.FinalizeAll()
		}
	}
}

// feed uploads the batches of ch to the device one step ahead: while step N
// runs, batch N+1 is copied over. The channel closes after ch does, or when
// ctx is cancelled.
func (r *runner) feed(ctx context.Context, ch <-chan dataset.Batch) <-chan fed {
	out := make(chan fed, 1)
	go func() {
		defer close(out)
		defer func() { // after a cancellation: let the loader finish
			for b := range ch {
				r.trainLoader.Release(b)
			}
		}()
		for {
			var b dataset.Batch
			var ok bool
			select {
			case b, ok = <-ch:
			case <-ctx.Done():
				return
			}
			if !ok {
				return
			}
			f := fed{b: b}
			f.images, f.labels, f.err = uploadBatch(r.steps.be, b, r.cfg.Data.TrainCrop())
			r.trainLoader.Release(b)
			f.b.Images, f.b.Pixels = nil, nil // released: Release(f.b) is now a no-op
			select {
			case out <- f:
			case <-ctx.Done():
				f.free()
				r.trainLoader.Release(f.b)
				return
			}
		}
	}()
	return out
}

// uploadBatch puts a batch's images [Size, crop, crop, 3] (uint8 Pixels, or
// float32 Images) and labels [Size] on the device straight from the loader's
// buffers (no intermediate host tensor).
func uploadBatch(be compute.Backend, b dataset.Batch, crop int) (images, labels *tensors.Tensor, err error) {
	defer recoverErr(&err)
	n := b.Size * crop * crop * 3
	if b.Pixels != nil {
		images, err = tensors.FromRaw(be, 0, shapes.Make(dtypes.Uint8, b.Size, crop, crop, 3), b.Pixels[:n])
	} else {
		images, err = tensors.FromRaw(be, 0, shapes.Make(dtypes.Float32, b.Size, crop, crop, 3), asBytes(b.Images[:n]))
	}
	if err != nil {
		return nil, nil, err
	}
	labels, err = tensors.FromRaw(be, 0, shapes.Make(dtypes.Int32, b.Size), asBytes(b.Labels[:b.Size]))
	if err != nil {
		images.FinalizeAll()
		return nil, nil, err
	}
	return images, labels, nil
}

// normalizePixels wraps forward so that uint8 images [batch, H, W, 3] (the
// training batches, dataset.LoaderOptions.Pixels) are normalised in the graph
// as the loader normalises float images (norm); float images pass through.
func normalizePixels(forward forwardFn, norm dataset.Normalize) forwardFn {
	return func(scope *model.Scope, images *Node) *Node {
		if images.DType() == dtypes.Uint8 {
			images = normalizeNode(images, norm)
		}
		return forward(scope, images)
	}
}

// normalizeNode is norm applied to uint8 pixels [..., 3]: float32
// pixel*scale + offset per channel, channels reordered for BGR.
func normalizeNode(pixels *Node, norm dataset.Normalize) *Node {
	g := pixels.Graph()
	scale, offset, src := norm.Affine()
	x := ConvertDType(pixels, dtypes.Float32)
	if src != [3]int{0, 1, 2} {
		channels := make([]*Node, 3)
		for c, s := range src {
			channels[c] = SliceAxis(x, -1, AxisElem(s))
		}
		x = Concatenate(channels, -1)
	}
	dims := make([]int, x.Rank()) // [1, ..., 1, 3]: per channel
	for i := range dims {
		dims[i] = 1
	}
	dims[len(dims)-1] = 3
	return Add(Mul(x, Reshape(Const(g, scale[:]), dims...)), Reshape(Const(g, offset[:]), dims...))
}

func asBytes[T float32 | int32](s []T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*4)
}

// pendingStep is a step whose loss and top-1 count are still on the device.
type pendingStep struct {
	loss, correct            *tensors.Tensor
	size, step, epoch, batch int
}

// trainEpoch trains epoch (0-based) from micro-batch st.Batch (sample
// st.Consumed of the epoch's order) on. The position in the run (step,
// batch, accumulation) is updated after every micro-batch; the loss and
// top-1 sums every metricsEvery micro-batches and before returning, so the
// state is whole whenever it can be saved.
func (r *runner) trainEpoch(ctx context.Context, epoch int) (stopReason, error) {
	e := r.startEpoch(ctx, epoch)
	defer e.close()
	k := r.cfg.Optim.AccumSteps
	f, ok := <-e.feed
	for idx := r.st.Batch; ok; idx++ {
		var next fed
		nextOK := true
		if k > 1 {
			next, nextOK = <-e.feed // read ahead: the last micro-batch of the epoch always ends a group
		}
		if stop, stopped := r.stopRequested(ctx); stopped {
			f.free()
			next.free()
			return stop, e.read()
		}
		applyStep := k == 1 || (idx+1)%k == 0 || !nextOK
		if err := e.train(f, idx, applyStep); err != nil {
			next.free()
			return 0, err
		}
		if k > 1 {
			f, ok = next, nextOK
		} else {
			f, ok = <-e.feed
		}
	}
	if ctx.Err() != nil {
		return stopCancelled, e.read()
	}
	return stopEpochEnd, e.read()
}

// stopRequested says whether training stops before the next micro-batch:
// ctx is cancelled, or run.max_steps is reached at the end of an
// accumulation group.
func (r *runner) stopRequested(ctx context.Context) (stopReason, bool) {
	if ctx.Err() != nil {
		return stopCancelled, true
	}
	if limit := r.cfg.Run.MaxSteps; limit > 0 && r.st.Step >= limit && r.st.AccumExamples == 0 {
		return stopMaxSteps, true
	}
	return 0, false
}

// epochPass is a training pass over one epoch in progress: the batches on
// their way to the device and the steps whose metrics are not read yet.
type epochPass struct {
	r       *runner
	epoch   int
	feed    <-chan fed
	cancel  context.CancelFunc
	pending []pendingStep
	bar     *progress
	every   int  // read the metrics once this many steps are pending
	frozen  bool // model.freeze_backbone_epochs covers this epoch
}

// startEpoch starts the loader and the feeder at the run's position in
// epoch and draws its progress bar.
func (r *runner) startEpoch(ctx context.Context, epoch int) *epochPass {
	cfg, st := r.cfg, r.st
	ectx, cancel := context.WithCancel(ctx)
	total := min(r.trainLoader.Len(), r.trainLoader.NumBatches()*cfg.Run.BatchSize)
	return &epochPass{r: r, epoch: epoch, cancel: cancel,
		feed:   r.feed(ectx, r.trainLoader.EpochFrom(ectx, epoch, st.Consumed)),
		bar:    newProgress(r.bar, r.log, epoch+1, cfg.Run.Epochs, total, st.Seen),
		every:  cmp.Or(r.hk.readEvery, metricsEvery),
		frozen: epoch < cfg.Model.FreezeBackboneEpochs}
}

// close stops the pass: the loader and feeder stop, and the batches and
// metrics still on the device are freed.
func (e *epochPass) close() {
	e.bar.done()
	e.cancel()
	for f := range e.feed {
		f.free()
		e.r.trainLoader.Release(f.b)
	}
	for _, p := range e.pending {
		p.loss.FinalizeAll()
		p.correct.FinalizeAll()
	}
}

// train runs micro-batch idx (see runner.step) and reads the pending
// metrics when enough have gathered.
func (e *epochPass) train(f fed, idx int, applyStep bool) error {
	r := e.r
	p, err := r.step(f, e.epoch, idx, applyStep, e.frozen)
	if err != nil {
		return err
	}
	e.pending = append(e.pending, p)
	if r.hk.trained != nil {
		r.hk.trained(e.epoch, f.b.Indices)
	}
	if len(e.pending) >= e.every {
		if err := e.read(); err != nil {
			return err
		}
	}
	if r.hk.afterStep != nil {
		r.hk.afterStep(r.st.Step)
	}
	return nil
}

// read adds the pending steps' metrics to the epoch's sums.
func (e *epochPass) read() error {
	return e.r.readMetrics(&e.pending, e.bar, e.epoch, e.every)
}

// step trains micro-batch idx of epoch: an optimizer step when applyStep,
// else an accumulation micro-step. It updates the position in the run and
// returns the step's metrics, unread. The inputs' device buffers are donated
// to the step, which frees them as soon as it no longer needs them.
func (r *runner) step(f fed, epoch, idx int, applyStep, frozen bool) (pendingStep, error) {
	cfg, st := r.cfg, r.st
	stepNo := st.Step + 1
	fail := func(err error) (pendingStep, error) {
		return pendingStep{}, fmt.Errorf("train: step %d (epoch %d, batch %d): %w", stepNo, epoch+1, idx+1, err)
	}
	if f.err != nil {
		return fail(f.err)
	}
	images, err := DonateTensorBuffer(f.images, r.steps.be, 0)
	if err != nil {
		f.free()
		return fail(err)
	}
	labels, err := DonateTensorBuffer(f.labels, r.steps.be, 0)
	if err != nil {
		f.free()
		return fail(err)
	}
	examples := st.AccumExamples + f.b.Size
	var loss, correct *tensors.Tensor
	if applyStep {
		k, nb := cfg.Optim.AccumSteps, r.trainLoader.NumBatches()
		groupStart := idx - idx%k
		lr := cfg.Schedule.LearningRate(float64(epoch)+float64(groupStart)/float64(max(nb, 1)), cfg.Run.Epochs, cfg.Optim.LR)
		in := stepInputs{LR: lr, BackboneLR: lr * cfg.Optim.BackboneLRMult, Examples: examples, Frozen: frozen}
		if cfg.Mixup.enabled() {
			p := cfg.Mixup.draw(mixRNG(cfg.Run.Seed, epoch, idx), cfg.Data.TrainCrop(), cfg.Data.TrainCrop())
			in.Mix = &p
		}
		loss, correct, err = r.steps.train(images, labels, in)
		st.LR = lr
	} else {
		loss, correct, err = r.steps.accumulate(images, labels, frozen)
	}
	if err != nil {
		return fail(err)
	}
	if applyStep {
		st.Step++
		st.AccumExamples = 0
		if r.ema != nil {
			if err := r.ema.update(st.Step); err != nil {
				return fail(err)
			}
		}
	} else {
		st.AccumExamples = examples
	}
	st.Batch, st.Consumed = idx+1, f.b.End
	return pendingStep{loss: loss, correct: correct, size: f.b.Size, step: stepNo, epoch: epoch + 1, batch: idx + 1}, nil
}

// readMetrics reads the pending steps' losses and top-1 counts, in order,
// into the epoch's running sums (the same float64 sums of float32 values as
// reading after every step). A non-finite loss is an error naming its step
// and the steps that ran before it was read.
func (r *runner) readMetrics(pending *[]pendingStep, bar *progress, epoch, every int) (err error) {
	defer recoverErr(&err)
	st, ps := r.st, *pending
	defer func() {
		for _, p := range ps {
			p.loss.FinalizeAll()
			p.correct.FinalizeAll()
		}
		*pending = (*pending)[:0]
	}()
	for _, p := range ps {
		loss := float64(tensors.ToScalar[float32](p.loss))
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			late := ""
			if last := ps[len(ps)-1].step; last > p.step {
				late = fmt.Sprintf("; step %d", last)
				if last > p.step+1 {
					late = fmt.Sprintf("; steps %d-%d", p.step+1, last)
				}
				late += fmt.Sprintf(" ran before it was read (the loss is read every %d steps)", every)
			}
			return fmt.Errorf("train: loss is %v at step %d (epoch %d, batch %d)%s: stopping; the last good checkpoint is kept in %s (lower optim.lr?)",
				loss, p.step, p.epoch, p.batch, late, r.runDir)
		}
		st.LossSum += loss * float64(p.size)
		st.Correct += int(tensors.ToScalar[int32](p.correct))
		st.Seen += p.size
		bar.add(p.size, epoch+1, r.cfg.Run.Epochs, st.LossSum/float64(st.Seen))
	}
	return nil
}
