package dataset

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

// FileReport is the data-quality record of one file: its decoded Info (format,
// stored mode, size, converted-from, EXIF orientation) and, for an unusable
// file, Error.
type FileReport struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Label int    `json:"label"`
	Line  int    `json:"line,omitempty"` // line in the list file, for list problems
	Bytes int64  `json:"bytes"`
	Info
	Error string `json:"error,omitempty"`
}

// Usable reports whether the file decoded.
func (r FileReport) Usable() bool { return r.Error == "" }

// Report is the result of ScanList, written by cmd/datacheck as JSON.
type Report struct {
	List         string         `json:"list"`
	Root         string         `json:"root"`
	NumClasses   int            `json:"num_classes"`
	Entries      int            `json:"entries"`   // list lines with a sample
	Usable       int            `json:"usable"`    // decodable files
	Unusable     int            `json:"unusable"`  // bad list lines + undecodable files
	Converted    int            `json:"converted"` // usable files that needed a mode conversion
	ClassCounts  []int          `json:"class_counts"`
	Formats      map[string]int `json:"formats"` // "jpeg/RGB": n
	Warnings     []string       `json:"warnings,omitempty"`
	ListProblems []ListProblem  `json:"list_problems,omitempty"`
	Files        []FileReport   `json:"files"`
}

// Scan decodes every sample once, whole, with the loader's decoder
// (DecodeBytes), with workers goroutines (<= 0: GOMAXPROCS), and reports
// each file, in the order of samples.
func Scan(samples []Sample, o DecodeOptions, workers int) []FileReport {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]FileReport, len(samples))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = scanOne(samples[i], o)
			}
		}()
	}
	for i := range samples {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func scanOne(s Sample, o DecodeOptions) (r FileReport) {
	r = FileReport{Name: s.Name, Path: s.Path, Label: s.Label}
	defer func() {
		if p := recover(); p != nil {
			r.Error = fmt.Sprintf("panic: %v", p)
		}
	}()
	data, err := os.ReadFile(s.Path)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Bytes = int64(len(data))
	_, info, err := DecodeBytes(data, o)
	r.Info = info
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// ScanList parses a list file leniently (ParseList) and scans every listed
// file. Bad list lines become unusable entries of the report (with Line set).
// numClasses <= 0 takes the class count as the largest label + 1. The error is
// only for a list that cannot be read or has no entries (as for ReadList).
func ScanList(listPath, root string, numClasses int, o DecodeOptions, workers int) (*Report, error) {
	samples, problems, warnings, err := ParseList(listPath, root, numClasses)
	if err != nil {
		return nil, err
	}
	if err := checkEntries(listPath, len(samples)+len(problems)); err != nil {
		return nil, err
	}
	if numClasses <= 0 {
		for _, s := range samples {
			numClasses = max(numClasses, s.Label+1)
		}
		counts := make([]int, numClasses)
		for _, s := range samples {
			counts[s.Label]++
		}
		for c, n := range counts {
			if n == 0 {
				warnings = append(warnings, fmt.Sprintf("dataset: %s: class %d has no images", listPath, c))
			}
		}
	}
	rep := &Report{List: listPath, Root: root, NumClasses: numClasses, Warnings: warnings, ListProblems: problems,
		ClassCounts: make([]int, numClasses), Formats: map[string]int{}}
	rep.Files = Scan(samples, o, workers)
	for _, p := range problems {
		rep.Files = append(rep.Files, FileReport{Name: p.Name, Label: -1, Line: p.Line, Error: p.Msg})
	}
	rep.Entries = len(rep.Files)
	for _, f := range rep.Files {
		if !f.Usable() {
			rep.Unusable++
			continue
		}
		rep.Usable++
		rep.ClassCounts[f.Label]++
		rep.Formats[f.Format+"/"+f.Mode]++
		if f.ConvertedFrom != "" || f.Orientation > 1 {
			rep.Converted++
		}
	}
	return rep, nil
}
