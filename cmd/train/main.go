// Command train trains a ResNet classifier from a YAML config:
//
//	go run ./cmd/train -config configs/quickstart.yaml [-set section.key=value ...]
//
// It prints the settings in effect, then trains into checkpoints/<run.name>/,
// resuming from the latest checkpoint there. Ctrl-C saves and stops cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gocls/gocls/internal/cfgfile"
	"github.com/gocls/gocls/train"
)

func main() { os.Exit(run()) }

type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func run() int {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML config file (see configs/)")
	backendName := fs.String("backend", "", "GoMLX backend: go, xla:cpu, xla:cuda (overrides run.backend)")
	var sets setFlags
	fs.Var(&sets, "set", "override a config value, e.g. -set optim.lr=0.01 (repeatable)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "train: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "train: -config is required (for a first run: -config configs/quickstart.yaml)")
		return 2
	}
	if *backendName != "" {
		sets = append(sets, "run.backend="+*backendName)
	}
	cfg, err := train.LoadConfig(*configPath, sets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		return 2
	}
	settings, _ := cfgfile.Marshal(cfg)
	fmt.Printf("settings in effect (%s):\n%s\n", *configPath, settings)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := train.Run(ctx, cfg, os.Stdout)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "train: interrupted; checkpoint saved, run again to resume")
			return 130
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("done: %d epochs, %d steps, best val top-1 %.4f, run directory %s\n", res.Epochs, res.Steps, res.BestTop1, res.RunDir)
	return 0
}
