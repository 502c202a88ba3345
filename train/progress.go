package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is the per-epoch progress bar (images done, img/s, loss, ETA),
// drawn on the run's log only when it is wanted; otherwise every method is a
// no-op.
type progress struct {
	bar *progressbar.ProgressBar
}

// ProgressBars decides from run.progress whether to draw progress bars on
// log: "auto" draws only when log is a terminal.
func (c RunConfig) ProgressBars(log io.Writer) bool {
	switch c.Progress {
	case "on":
		return true
	case "off":
		return false
	}
	f, ok := log.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts a bar of total images for an epoch (done already done,
// when resuming mid-epoch); nil-safe when enabled is false.
func newProgress(enabled bool, log io.Writer, epoch, epochs, total, done int) *progress {
	if !enabled {
		return &progress{}
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(log),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, epochs)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("img"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	if done > 0 {
		_ = bar.Set(done)
	}
	return &progress{bar: bar}
}

// add advances the bar by n images and shows the running loss.
func (p *progress) add(n int, epoch, epochs int, loss float64) {
	if p.bar == nil {
		return
	}
	p.bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f", epoch, epochs, loss))
	_ = p.bar.Add(n)
}

// done removes the bar from the terminal.
func (p *progress) done() {
	if p.bar == nil {
		return
	}
	_ = p.bar.Finish()
	_ = p.bar.Clear()
}
