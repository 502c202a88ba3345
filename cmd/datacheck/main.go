// Command datacheck scans a list-file dataset once and reports its quality:
// per file the detected format, stored mode, size, conversion and error, plus
// a class-count bar chart.
//
//	datacheck -list FILE [-root DIR] [-classes N] [-report report.json] [-plot classes.png]
//
// Exit status: 0 when every listed file is usable, 1 when any is not (or the
// list cannot be read or has no entries, as training requires, or an output
// cannot be written), 2 for bad flags.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gocls/gocls/dataset"
	"github.com/gocls/gocls/internal/atomicfile"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("datacheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	list := fs.String("list", "", "list file of NAME<TAB>LABEL lines (required)")
	root := fs.String("root", "", "directory the list's names are relative to (default: the list's directory)")
	classes := fs.Int("classes", 0, "number of classes (0: largest label + 1)")
	report := fs.String("report", "", "write the JSON report here")
	plotPath := fs.String("plot", "", "write the class-count bar chart PNG here")
	maxPixels := fs.Int("max-pixels", dataset.DefaultMaxPixels, "reject images whose header declares more pixels (<0: no limit)")
	workers := fs.Int("workers", 0, "decoding goroutines (0: GOMAXPROCS)")
	verbose := fs.Bool("v", false, "print every file, not only the unusable and converted ones")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *list == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "datacheck: -list is required and no positional arguments are accepted")
		fs.Usage()
		return 2
	}
	if *classes < 0 {
		fmt.Fprintln(stderr, "datacheck: -classes must be >= 0")
		return 2
	}
	if *root == "" {
		*root = filepath.Dir(*list)
	}
	rep, err := dataset.ScanList(*list, *root, *classes, dataset.DecodeOptions{MaxPixels: *maxPixels}, *workers)
	if err != nil {
		fmt.Fprintln(stderr, "datacheck:", err)
		return 1
	}
	printSummary(stdout, rep, *verbose)
	failed := false
	if *report != "" {
		if err := writeReport(*report, rep); err != nil {
			fmt.Fprintln(stderr, "datacheck:", err)
			failed = true
		}
	}
	if *plotPath != "" {
		if err := plotClasses(*plotPath, rep.ClassCounts); err != nil {
			fmt.Fprintln(stderr, "datacheck:", err)
			failed = true
		}
	}
	if failed || rep.Unusable > 0 {
		return 1
	}
	return 0
}

func writeReport(path string, rep *dataset.Report) error {
	err := atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(rep)
	})
	if err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return nil
}

func printSummary(w io.Writer, rep *dataset.Report, verbose bool) {
	for _, f := range rep.Files {
		switch {
		case !f.Usable():
			where := f.Path
			if f.Line > 0 {
				where = fmt.Sprintf("%s:%d", rep.List, f.Line)
			}
			fmt.Fprintf(w, "UNUSABLE  %s: %s\n", where, f.Error)
		case f.ConvertedFrom != "" || f.Orientation > 1 || verbose:
			note := ""
			if f.ConvertedFrom != "" {
				note = " converted from " + f.ConvertedFrom
			}
			if f.Orientation > 1 {
				note += fmt.Sprintf(" EXIF orientation %d", f.Orientation)
			}
			fmt.Fprintf(w, "ok        %s: %s %dx%d%s\n", f.Path, f.Format, f.Width, f.Height, note)
		}
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	var formats []string
	for k, n := range rep.Formats {
		formats = append(formats, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(formats)
	fmt.Fprintf(w, "%d entries: %d usable (%d converted), %d unusable\nformats: %s\nclass counts: %v\n",
		rep.Entries, rep.Usable, rep.Converted, rep.Unusable, strings.Join(formats, ", "), rep.ClassCounts)
}

var errNoClasses = errors.New("no classes to plot")
