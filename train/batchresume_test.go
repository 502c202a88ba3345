package train

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// A run cancelled mid-epoch and resumed with another run.batch_size trains
// every sample of that epoch exactly once: the resume continues at the first
// sample not yet trained, not at a batch count.
func TestResumeMidEpochWithOtherBatchSize(t *testing.T) {
	tests := []struct {
		name          string
		before, after int // batch sizes
		cancelAfter   int // micro-batches trained before the cancel
	}{
		{"smaller", 4, 2, 1},
		{"larger", 2, 4, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t) // 12 training images
			cfg.Run.Epochs = 1
			cfg.Run.BatchSize = tc.before
			var trained []int
			record := func(epoch int, indices []int) { trained = append(trained, indices...) }
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			micro := 0
			_, err := run(ctx, cfg, io.Discard, hooks{trained: record, afterStep: func(int) {
				if micro++; micro == tc.cancelAfter {
					cancel()
				}
			}})
			require.ErrorIs(t, err, context.Canceled)
			require.Len(t, trained, tc.before*tc.cancelAfter)

			cfg.Run.BatchSize = tc.after
			mustRun(t, cfg, hooks{trained: record})
			slices.Sort(trained)
			require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, trained)
		})
	}
}
