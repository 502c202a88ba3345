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

type loadResult struct {
	buf []float32 // nil when bad
	err error
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
func (l *Loader) EpochFrom(ctx context.Context, epoch, start int) <-chan Batch {
	out := make(chan Batch, l.o.Prefetch)
	order := l.Order(epoch)
	start = min(max(start, 0), len(order))
	sampleLen := l.t.Len()
	window := l.o.Workers*2 + l.o.Prefetch*l.o.BatchSize

	type job struct {
		idx int
		res chan loadResult
	}
	jobs := make(chan job)
	pending := make(chan chan loadResult, window)
	var bufPool sync.Pool // per-sample float buffers

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := 0; w < l.o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := new(scratch)
			for jb := range jobs {
				var buf []float32
				if p, ok := bufPool.Get().(*[]float32); ok {
					buf = *p
				} else {
					buf = make([]float32, sampleLen)
				}
				err := l.load(buf, jb.idx, epoch, sc)
				if err != nil {
					keep := buf
					bufPool.Put(&keep)
					buf = nil
				}
				jb.res <- loadResult{buf: buf, err: err}
			}
		}()
	}
	// Dispatcher: hands out jobs in order, bounded by the pending window.
	go func() {
		defer close(jobs)
		defer close(pending)
		for _, idx := range order[start:] {
			res := make(chan loadResult, 1)
			select {
			case pending <- res:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{idx: idx, res: res}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Assembler: consumes results in order.
	go func() {
		defer func() {
			cancel()
			wg.Wait()
			close(out)
		}()
		bs := l.o.BatchSize
		var cur Batch
		pos := start
		emit := func() bool {
			select {
			case out <- cur:
				cur = Batch{}
				return true
			case <-ctx.Done():
				return false
			}
		}
		for res := range pending {
			var r loadResult
			select {
			case r = <-res:
			case <-ctx.Done():
				return
			}
			idx := order[pos]
			pos++
			if r.err != nil {
				if l.o.OnBad != nil {
					l.o.OnBad(l.samples[idx].Path, r.err)
				}
				continue
			}
			if cur.Labels == nil {
				if l.o.Pixels {
					cur.Pixels = l.pixelBuffer(bs * sampleLen)
				} else {
					cur.Images = l.batchBuffer(bs * sampleLen)
				}
				cur.Labels = make([]int32, 0, bs)
				cur.Names = make([]string, 0, bs)
				cur.Indices = make([]int, 0, bs)
			}
			if l.o.Pixels {
				quantize(cur.Pixels[cur.Size*sampleLen:(cur.Size+1)*sampleLen], r.buf)
			} else {
				copy(cur.Images[cur.Size*sampleLen:], r.buf)
			}
			buf := r.buf
			bufPool.Put(&buf)
			s := l.samples[idx]
			cur.Labels = append(cur.Labels, int32(s.Label))
			cur.Names = append(cur.Names, s.Name)
			cur.Indices = append(cur.Indices, idx)
			cur.Size++
			cur.End = pos
			if cur.Size == bs && !emit() {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		if cur.Size > 0 && !l.o.DropLast {
			cur.Images = cur.Images[:min(len(cur.Images), cur.Size*sampleLen)]
			cur.Pixels = cur.Pixels[:min(len(cur.Pixels), cur.Size*sampleLen)]
			emit()
		}
	}()
	return out
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
