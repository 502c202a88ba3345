package dataset

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// EpochFrom continues an epoch at a batch's End with any batch size: the
// samples served before and after are the epoch's order, each once, bad
// files skipped; with the same batch size the batches are those of Epoch.
func TestLoaderEpochFrom(t *testing.T) {
	bad := map[int][]byte{3: []byte("not an image"), 7: {}}
	s := loaderFixture(t, 17, bad)
	tr := TrainTransform(DefaultConfig().Augment, 8, imageNetNormalize())
	opts := LoaderOptions{BatchSize: 4, Workers: 2, Seed: 1, Shuffle: true}
	l := NewLoader(s, tr, opts)
	full := collect(t, l, 2)
	var want []int
	for _, idx := range l.Order(2) {
		if _, isBad := bad[idx]; !isBad {
			want = append(want, idx)
		}
	}
	from := full[1].End
	for _, bs := range []int{2, 3, 4, 5} {
		var got []int
		for _, b := range full[:2] {
			got = append(got, b.Indices...)
		}
		o := opts
		o.BatchSize = bs
		var rest []Batch
		for b := range NewLoader(s, tr, o).EpochFrom(context.Background(), 2, from) {
			got = append(got, b.Indices...)
			rest = append(rest, b)
		}
		require.Equal(t, want, got, "batch size %d", bs)
		if bs == opts.BatchSize {
			require.Equal(t, full[2:], rest)
		}
	}
}
