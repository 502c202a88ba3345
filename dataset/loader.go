package dataset

import (
	"bytes"
	"context"
	"fmt"
	"github.com/gocls/gocls/internal/jpeg"
	"image"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
)

// Batch is one batch of transformed images. Images is [Size, H, W, 3]
// float32, channels-last and normalised; Labels [Size] int32 (-1 for
// unlabelled samples); Names the samples' Name fields; Indices their
// positions in the loader's sample slice. End is the position in the
// epoch's order (see Order) just after the batch's last sample: the epoch
// continues from there (EpochFrom), whatever the batch size.
// With LoaderOptions.Pixels, Pixels holds the images instead: [Size, H, W,
// 3] uint8 RGB, not normalised.
type Batch struct {
	Images  []float32
	Pixels  []uint8
	Labels  []int32
	Names   []string
	Indices []int
	Size    int
	End     int
}

// LoaderOptions configures NewLoader.
//
// BatchSize defaults to 32, Workers to GOMAXPROCS, Prefetch (batches prepared
// ahead of the consumer) to 2. Shuffle permutes the samples each epoch with a
// permutation that is a pure function of (Seed, epoch). DropLast drops a final
// partial batch. Pixels makes batches carry Pixels instead of Images (see
// pixels.go). Decode sets the decoding options. OnBad, when set, is called
// (from a single goroutine, in sample order) for each file that cannot be
// used; the file is skipped and the batch filled from the following samples.
type LoaderOptions struct {
	BatchSize, Workers, Prefetch int
	Seed                         int64
	Shuffle, DropLast, Pixels    bool
	Decode                       DecodeOptions
	OnBad                        func(path string, err error)
}

// Loader decodes and transforms samples in parallel into batches.
//
// Reproducibility: the order of an epoch depends only on (Seed, epoch) and
// each sample's augmentation RNG only on (Seed, epoch, sample index), so the
// batches of an epoch are identical whatever the number of workers or their
// scheduling, and a resumed run reproduces a straight one.
type Loader struct {
	samples []Sample
	t       Transform
	o       LoaderOptions
	pool    sync.Pool // *[]float32 batch image buffers
	pixPool sync.Pool // *[]uint8 batch pixel buffers
}

// NewLoader returns a loader over samples (not copied; do not modify them
// while an epoch runs).
func NewLoader(samples []Sample, t Transform, o LoaderOptions) *Loader {
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 2
	}
	if o.Pixels {
		t = t.unnormalized()
	}
	return &Loader{samples: samples, t: t, o: o}
}

// Len returns the number of samples.
func (l *Loader) Len() int { return len(l.samples) }

// NumBatches is the number of batches of an epoch when no file is bad.
func (l *Loader) NumBatches() int {
	n := len(l.samples) / l.o.BatchSize
	if !l.o.DropLast && len(l.samples)%l.o.BatchSize != 0 {
		n++
	}
	return n
}

// Order returns the sample indices of epoch in the order they are served.
func (l *Loader) Order(epoch int) []int {
	n := len(l.samples)
	if !l.o.Shuffle {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	rng := rand.New(rand.NewPCG(mix64(uint64(l.o.Seed)), mix64(uint64(int64(epoch))^0xe90c)))
	return rng.Perm(n)
}

// SampleRNG returns the augmentation RNG of sample index i in epoch.
func (l *Loader) SampleRNG(epoch, i int) *rand.Rand {
	s1 := mix64(uint64(l.o.Seed) ^ mix64(uint64(int64(epoch))))
	s2 := mix64(uint64(int64(i)) + 0x51)
	return rand.New(rand.NewPCG(s1, s2))
}

// Release gives a batch's image buffer back for reuse by later batches. It is
// optional; do not touch b.Images afterwards.
func (l *Loader) Release(b Batch) {
	if cap(b.Images) > 0 {
		imgs := b.Images[:0]
		l.pool.Put(&imgs)
	}
	if cap(b.Pixels) > 0 {
		pix := b.Pixels[:0]
		l.pixPool.Put(&pix)
	}
}

func (l *Loader) batchBuffer(n int) []float32 {
	if p, ok := l.pool.Get().(*[]float32); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]float32, n)
}

// scratch holds one worker's reusable buffers (never shared between
// goroutines): the file bytes, the JPEG decoder with its buffers and the
// RGBA region of the libjpeg build.
type scratch struct {
	file, rgba []byte
	jpeg       jpeg.Decoder
}

// readFileInto reads a whole file reusing *buf.
func readFileInto(path string, buf *[]byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bb := bytes.NewBuffer((*buf)[:0])
	if _, err := bb.ReadFrom(f); err != nil {
		return nil, err
	}
	*buf = bb.Bytes()
	return *buf, nil
}

// Epoch starts producing the batches of epoch and returns the channel they
// arrive on; it is closed after the last batch or when ctx is cancelled.
// Consumers that stop early must cancel ctx so the workers exit. Workers decode
// and transform up to Workers*2+Prefetch*BatchSize samples ahead; batches are
// assembled in order and at most Prefetch wait in the channel.
func (l *Loader) Epoch(ctx context.Context, epoch int) <-chan Batch {
	return l.EpochFrom(ctx, epoch, 0)
}

// EpochFrom is Epoch starting at position start of the epoch's order (the
// End of the last batch consumed before): the batches hold the samples not
// yet served, however the earlier ones were batched.
//
// Three stages run concurrently: a dispatcher hands the samples out in
// order (epochRun.dispatch), Workers goroutines load them (work), and an
// assembler packs the results into batches in the same order (assemble).
// The dispatcher queues each sample's result channel in pending, whose
// capacity bounds how far the workers run ahead of the assembler.
func (l *Loader) EpochFrom(ctx context.Context, epoch, start int) <-chan Batch {
	ctx, cancel := context.WithCancel(ctx)
	order := l.Order(epoch)
	e := &epochRun{
		l: l, ctx: ctx, epoch: epoch, order: order,
		start:     min(max(start, 0), len(order)),
		sampleLen: l.t.Len(),
		jobs:      make(chan loadJob),
		pending:   make(chan chan loadResult, l.o.Workers*2+l.o.Prefetch*l.o.BatchSize),
		out:       make(chan Batch, l.o.Prefetch),
	}
	var wg sync.WaitGroup
	for range l.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.work()
		}()
	}
	go e.dispatch()
	go func() {
		defer func() {
			cancel()
			wg.Wait()
			close(e.out)
		}()
		e.assemble()
	}()
	return e.out
}

// epochRun is the state one EpochFrom call shares between its goroutines.
type epochRun struct {
	l         *Loader
	ctx       context.Context // cancelled when the consumer's is or the assembler stops
	epoch     int
	order     []int // the epoch's sample order; the run serves order[start:]
	start     int
	sampleLen int                  // float32 values per sample
	jobs      chan loadJob         // dispatcher -> workers
	pending   chan chan loadResult // dispatcher -> assembler, in sample order
	out       chan Batch
	bufs      sync.Pool // *[]float32 per-sample buffers, from the assembler back to the workers
}

// loadJob asks a worker to load sample idx and send the result on res.
type loadJob struct {
	idx int
	res chan loadResult
}

type loadResult struct {
	buf []float32 // nil when bad
	err error
}

// dispatch hands out the samples in order, each after queueing its result
// channel in pending (so at most cap(pending) are ahead of the assembler),
// until the order is done or the run is cancelled.
func (e *epochRun) dispatch() {
	defer close(e.jobs)
	defer close(e.pending)
	for _, idx := range e.order[e.start:] {
		res := make(chan loadResult, 1)
		select {
		case e.pending <- res:
		case <-e.ctx.Done():
			return
		}
		select {
		case e.jobs <- loadJob{idx: idx, res: res}:
		case <-e.ctx.Done():
			return
		}
	}
}

// work loads the jobs' samples until the dispatcher closes jobs, with its
// own scratch buffers.
func (e *epochRun) work() {
	sc := new(scratch)
	for jb := range e.jobs {
		jb.res <- e.loadSample(jb.idx, sc)
	}
}

// loadSample loads sample idx into a pooled buffer; a bad sample's buffer
// goes straight back to the pool.
func (e *epochRun) loadSample(idx int, sc *scratch) loadResult {
	buf := e.sampleBuffer()
	if err := e.l.load(buf, idx, e.epoch, sc); err != nil {
		keep := buf // only a bad sample pays for moving a slice header to the heap
		e.bufs.Put(&keep)
		return loadResult{err: err}
	}
	return loadResult{buf: buf}
}

func (e *epochRun) sampleBuffer() []float32 {
	if p, ok := e.bufs.Get().(*[]float32); ok {
		return *p
	}
	return make([]float32, e.sampleLen)
}

// assemble takes the results in sample order, passes bad files to OnBad and
// sends the good samples on out in batches of BatchSize, then the partial
// last batch unless DropLast. It returns early when the run is cancelled.
func (e *epochRun) assemble() {
	var cur Batch
	pos := e.start
	for res := range e.pending {
		var r loadResult
		select {
		case r = <-res:
		case <-e.ctx.Done():
			return
		}
		idx := e.order[pos]
		pos++
		if r.err != nil {
			if e.l.o.OnBad != nil {
				e.l.o.OnBad(e.l.samples[idx].Path, r.err)
			}
			continue
		}
		e.add(&cur, idx, r.buf)
		cur.End = pos
		if cur.Size == e.l.o.BatchSize {
			if !e.send(cur) {
				return
			}
			cur = Batch{}
		}
	}
	if e.ctx.Err() != nil || cur.Size == 0 || e.l.o.DropLast {
		return
	}
	cur.Images = cur.Images[:min(len(cur.Images), cur.Size*e.sampleLen)]
	cur.Pixels = cur.Pixels[:min(len(cur.Pixels), cur.Size*e.sampleLen)]
	e.send(cur)
}

// add appends sample idx, loaded into buf, to b (whose buffers are made at
// its first sample) and gives buf back to the workers.
func (e *epochRun) add(b *Batch, idx int, buf []float32) {
	bs, n := e.l.o.BatchSize, e.sampleLen
	if b.Labels == nil {
		if e.l.o.Pixels {
			b.Pixels = e.l.pixelBuffer(bs * n)
		} else {
			b.Images = e.l.batchBuffer(bs * n)
		}
		b.Labels = make([]int32, 0, bs)
		b.Names = make([]string, 0, bs)
		b.Indices = make([]int, 0, bs)
	}
	if e.l.o.Pixels {
		quantize(b.Pixels[b.Size*n:(b.Size+1)*n], buf)
	} else {
		copy(b.Images[b.Size*n:], buf)
	}
	e.bufs.Put(&buf)
	s := e.l.samples[idx]
	b.Labels = append(b.Labels, int32(s.Label))
	b.Names = append(b.Names, s.Name)
	b.Indices = append(b.Indices, idx)
	b.Size++
}

// send delivers b unless the run is cancelled first.
func (e *epochRun) send(b Batch) bool {
	select {
	case e.out <- b:
		return true
	case <-e.ctx.Done():
		return false
	}
}

// load decodes sample idx and transforms it into buf.
func (l *Loader) load(buf []float32, idx, epoch int, sc *scratch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("dataset: %s: panic while loading: %v", l.samples[idx].Path, r)
		}
	}()
	path := l.samples[idx].Path
	data, err := readFileInto(path, &sc.file)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	newRNG := func() *rand.Rand {
		if l.t.train {
			return l.SampleRNG(epoch, idx)
		}
		return nil
	}
	if isJPEG(data) && jpegOrientation(data) <= 1 && l.t.pre == nil {
		// Plan first, then decode only the rows and columns the crop reads
		// (preprocessing steps need the whole image).
		var job resampleJob
		var rng *rand.Rand
		img, handled, err := decodeJPEGFor(data, l.o.Decode, sc, func(w, h int) image.Rectangle {
			rng = newRNG()
			job = l.t.plan(w, h, rng)
			return job.sourceRect()
		})
		if handled {
			if err != nil {
				return fmt.Errorf("dataset: %s: %w", path, err)
			}
			l.t.render(buf, img, job, rng)
			return nil
		}
	}
	img, _, err := decodeRGB(data, l.o.Decode, sc)
	if err != nil {
		return fmt.Errorf("dataset: %s: %w", path, err)
	}
	l.t.Apply(buf, img, newRNG())
	return nil
}
