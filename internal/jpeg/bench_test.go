package jpeg

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gocls/gocls/internal/devdata"
)

// BenchmarkDecodeVsPillow decodes 200 cat12 photos on one core and, in the
// same run, times Pillow's Image.open(f).convert("RGB") on the same bytes
// (testdata/pil_bench.py, CPU time, best of 3). Ours is the best of b.N
// passes (use -benchtime 3x for the same statistic). It reports img/s for both
// and their ratio (pillow_x > 1: faster than Pillow).
func BenchmarkDecodeVsPillow(b *testing.B) {
	dir := devdata.Cat12(b)
	files := cat12JPEGs(&testing.T{}, dir, true)
	files = files[:min(200, len(files))]
	datas := make([][]byte, len(files))
	pixels := 0
	for i, f := range files {
		var err error
		if datas[i], err = os.ReadFile(f); err != nil {
			b.Fatal(err)
		}
		cfg, err := DecodeConfig(datas[i])
		if err != nil {
			b.Fatal(f, err)
		}
		pixels += cfg.Width * cfg.Height
	}
	pil := pillowRate(b, files)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var d Decoder
	b.ResetTimer()
	// The best pass by CPU time, the statistic of the Pillow figure: CPU
	// time is steadier than wall time on a shared machine.
	rate := 0.0
	for range b.N {
		cpu0 := cpuTime()
		for _, data := range datas {
			if _, _, err := d.Decode(data, Options{}); err != nil {
				b.Fatal(err)
			}
		}
		rate = max(rate, float64(len(datas))/(cpuTime()-cpu0))
	}
	b.ReportMetric(rate, "img/s")
	b.ReportMetric(rate*float64(pixels)/float64(len(datas))/1e6, "MP/s")
	if pil > 0 {
		b.ReportMetric(pil, "pillow_img/s")
		b.ReportMetric(rate/pil, "pillow_x")
	}
}

// cpuTime returns the CPU seconds this process has used.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// pillowRate returns Pillow's decoding rate on files, or 0 when Debian's
// python3 with Pillow is absent.
func pillowRate(b *testing.B, files []string) float64 {
	cmd := exec.Command("/usr/bin/python3", "testdata/pil_bench.py")
	cmd.Stdin = strings.NewReader(strings.Join(files, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		b.Logf("no Pillow reference: %v", err)
		return 0
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}
