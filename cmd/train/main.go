// Command train trains a ResNet classifier from a YAML config:
//
//	go run ./cmd/train -config configs/quickstart.yaml [-set section.key=value ...] [-backend xla:cuda]
//
// It prints the settings in effect, then trains into run.dir/run.name/
// (checkpoints/<name>/ by default), resuming from the newest checkpoint
// there. Ctrl-C (SIGINT) or SIGTERM saves a mid-epoch checkpoint and exits
// with status 130; running the same command again continues exactly where
// it stopped. Every config key is documented in docs/CONFIG.md.
//
// Exit status: 0 done, 1 training failed, 2 bad usage or config, 130
// interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gocls/gocls/internal/cfgfile"
	"github.com/gocls/gocls/train"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func run(args []string, stdout, stderr io.Writer) int {
	a, code := parseArgs(args, stderr)
	if a == nil {
		return code
	}
	cfg, err := train.LoadConfig(a.config, a.sets)
	if err == nil {
		err = cfg.CheckPaths()
	}
	if err != nil {
		fmt.Fprintln(stderr, "train:", err)
		return 2
	}
	if !a.quiet {
		settings, _ := cfgfile.Marshal(cfg)
		fmt.Fprintf(stdout, "settings in effect (%s):\n%s\n", a.config, settings)
	}
	res, predictions, err := runUntilInterrupted(cfg, stdout, stderr)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "train: interrupted; checkpoint saved, run the same command again to resume")
			return 130
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	best := fmt.Sprintf("best val top-1 %.4f (epoch %d)", res.BestTop1, res.BestEpoch)
	if res.BestEpoch == 0 {
		best = "no validated epoch, so no best/"
	}
	fmt.Fprintf(stdout, "done: %d epochs, %d steps, %s, run directory %s\n", res.Epochs, res.Steps, best, res.RunDir)
	if predictions != "" {
		fmt.Fprintf(stdout, "predictions: %s\n", predictions)
	}
	return 0
}

// cmdArgs is the parsed command line.
type cmdArgs struct {
	config string
	sets   []string // -set overrides, then -backend's
	quiet  bool
}

// parseArgs parses the command line; nil means stop with the exit code
// (0 after -h, 2 on a usage error, reported on stderr).
func parseArgs(args []string, stderr io.Writer) (*cmdArgs, int) {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file (see configs/ and docs/CONFIG.md)")
	backendName := fs.String("backend", "", "GoMLX backend: go, xla:cpu, xla:cuda (overrides run.backend)")
	quiet := fs.Bool("quiet", false, "do not print the settings in effect")
	var sets setFlags
	fs.Var(&sets, "set", "override a config value, e.g. -set optim.lr=0.01 (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: train -config FILE.yaml [-set section.key=value ...] [-backend NAME]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "train: unexpected arguments %q\n", fs.Args())
		return nil, 2
	}
	if *configPath == "" {
		fmt.Fprintln(stderr, "train: -config is required (for a first run: -config configs/quickstart.yaml)")
		return nil, 2
	}
	if *backendName != "" {
		sets = append(sets, "run.backend="+*backendName)
	}
	return &cmdArgs{config: *configPath, sets: sets, quiet: *quiet}, 0
}

// runUntilInterrupted trains, then runs the config's predict section
// (returning the file it wrote); the first SIGINT or SIGTERM cancels the
// run, which then saves a checkpoint and returns context.Canceled, and a
// second one kills the process at once.
func runUntilInterrupted(cfg train.Config, stdout, stderr io.Writer) (*train.Result, string, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			// A second Ctrl-C kills at once: checkpoints are saved atomically.
			stop()
			fmt.Fprintln(stderr, "train: interrupt: saving a checkpoint (Ctrl-C again quits at once)")
		case <-finished:
		}
	}()
	res, err := train.Run(ctx, cfg, stdout)
	if err != nil {
		return nil, "", err
	}
	predictions, err := predictSection(ctx, cfg, res.RunDir, stdout)
	return res, predictions, err
}
