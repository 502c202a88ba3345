// Command predict classifies images with a trained checkpoint and writes the
// competition's result.csv ("NAME.jpg,class" lines, sorted, no header):
//
//	go run ./cmd/predict -checkpoint checkpoints/quickstart -images data/cat12/cat_12_test -out result.csv
//
// Evaluation mode prints top-1, top-5 and per-class accuracy and writes a
// confusion matrix (CSV + PNG):
//
//	go run ./cmd/predict -checkpoint checkpoints/quickstart -labels data/cat12/train_list.txt
//
// Pretrained ImageNet weights, one JSON object per image on stdout:
//
//	go run ./cmd/predict -pretrained imagenet -topk 5 -format jsonl IMG...
//
// Bad flags exit with status 2, failures with 1, an interrupt with 130.
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

	"github.com/gocls/gocls/predict"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runArgs(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stdout))
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

const usage = `usage: predict (-checkpoint DIR | -pretrained SPEC) (-images DIR|LIST|IMG | -labels LIST | IMG...) [flags]

`

func runArgs(ctx context.Context, args []string, stdout, stderr io.Writer, terminal bool) int {
	var o predict.Options
	fs := newFlagSet(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, usage)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "predict: %v (see -h)\n", err)
		return 2
	}
	o.Files = fs.Args()
	if len(o.Files) > 0 && (o.Images != "" || o.Labels != "") {
		fmt.Fprintf(stderr, "predict: image arguments %q given with -images or -labels (use one)\n", o.Files)
		return 2
	}
	if o.Format == "csv" && o.Out == "" && o.Labels == "" {
		_ = fs.Set("out", "result.csv")
	}
	if err := quickCheck(o); err != nil {
		fmt.Fprintf(stderr, "predict: %v (see -h)\n", err)
		return 2
	}

	// With JSON lines on stdout, everything else goes to stderr.
	log := stdout
	if o.Format == "jsonl" && (o.Out == "" || o.Out == "-") {
		log = stderr
	}
	o.Stdout, o.Warn, o.Progress = stdout, stderr, terminal
	printSettings(log, fs)

	sum, err := predict.Run(ctx, o, log)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "predict: interrupted; nothing written")
			return 130
		}
		fmt.Fprintln(stderr, strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
	if sum.Metrics != nil && len(sum.Skipped) > 0 {
		fmt.Fprintf(log, "note: metrics exclude %d skipped image(s)\n", len(sum.Skipped))
	}
	return 0
}

// newFlagSet declares the command's flags, which set the fields of o.
func newFlagSet(o *predict.Options) *flag.FlagSet {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Checkpoint, "checkpoint", "", "run directory or checkpoint directory")
	fs.IntVar(&o.Step, "step", -1, "checkpoint of this epoch (-1: best, else the latest)")
	fs.StringVar(&o.Pretrained, "pretrained", "", `pretrained weights instead of a checkpoint: "imagenet", a .pth, .safetensors or TF.js model`)
	fs.StringVar(&o.CacheDir, "cache", "", "weights cache directory (default $GOCLS_CACHE or ~/.cache/gocls)")
	fs.StringVar(&o.Images, "images", "", `folder of images, one image file, or a list file ("NAME" or "NAME<TAB>label" lines)`)
	fs.StringVar(&o.Root, "root", "", "directory the list's names are relative to (default: the list's directory)")
	fs.StringVar(&o.Out, "out", "", `output file (default result.csv; with -labels none; with -format jsonl stdout)`)
	fs.StringVar(&o.Format, "format", "csv", "csv (result.csv) or jsonl (one JSON object per image)")
	fs.IntVar(&o.TopK, "topk", 0, "also write the K most probable classes per image")
	fs.StringVar(&o.TopKOut, "topk-out", "", "top-K CSV path (default topk.csv next to -out)")
	fs.BoolVar(&o.FlipTTA, "tta", false, "horizontal-flip test-time augmentation (averages image and mirror)")
	fs.BoolVar(&o.SkipBad, "skip-bad", false, "skip unreadable images instead of failing (they are listed)")
	fs.StringVar(&o.Labels, "labels", "", `evaluation mode: list file of "NAME<TAB>label" lines`)
	fs.StringVar(&o.ConfusionOut, "confusion", "", "evaluation mode: confusion CSV path (default confusion.csv next to -out); PNG beside it")
	fs.IntVar(&o.BatchSize, "batch", predict.DefaultBatchSize, "images per batch")
	fs.IntVar(&o.Workers, "workers", 0, "decoding goroutines (0: one per CPU)")
	fs.StringVar(&o.Backend, "backend", "", "GoMLX backend: go (default), xla:cpu, xla:cuda")
	return fs
}

// quickCheck rejects flag combinations that are wrong before anything is loaded.
func quickCheck(o predict.Options) error {
	switch {
	case o.Checkpoint == "" && o.Pretrained == "":
		return errors.New("-checkpoint DIR or -pretrained SPEC is required")
	case o.Checkpoint != "" && o.Pretrained != "":
		return errors.New("-checkpoint and -pretrained exclude each other")
	case o.Images == "" && o.Labels == "" && len(o.Files) == 0:
		return errors.New("no images: give -images DIR|LIST, -labels LIST or image files")
	case o.Images != "" && o.Labels != "":
		return errors.New("-images and -labels exclude each other (-labels lists the images to evaluate)")
	case o.Format != "csv" && o.Format != "jsonl":
		return fmt.Errorf("-format %q: want csv or jsonl", o.Format)
	case o.TopK < 0:
		return fmt.Errorf("-topk %d: want >= 0", o.TopK)
	case o.BatchSize <= 0:
		return fmt.Errorf("-batch %d: want > 0", o.BatchSize)
	case o.Workers < 0:
		return fmt.Errorf("-workers %d: want >= 0", o.Workers)
	case o.Step < -1:
		return fmt.Errorf("-step %d: want -1 (best) or an epoch number", o.Step)
	}
	return nil
}

// printSettings prints every flag with its value in effect.
func printSettings(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "settings in effect:")
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  -%s=%s\n", f.Name, f.Value.String())
	})
	if fs.NArg() > 0 {
		fmt.Fprintf(w, "  images: %d file(s)\n", fs.NArg())
	}
}
