package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Sample is one image. Path is the resolved file path, Name the path as written
// in the list (e.g. "cat_12_train/x.jpg") or the file name for unlabelled
// folders, and Label the class index (-1 when unlabelled).
type Sample struct {
	Path  string `json:"path"`
	Name  string `json:"name"`
	Label int    `json:"label"`
}

// maxListErrors bounds how many problems ReadList reports at once.
const maxListErrors = 20

// ListProblem is one rejected line of a list file.
type ListProblem struct {
	Line int    `json:"line"`
	Name string `json:"name,omitempty"` // the image path as written, when the line had one
	Msg  string `json:"error"`
}

// ReadList parses a list file of "NAME<TAB>LABEL" lines (any run of spaces or
// tabs separates the two fields; CRLF line ends, blank lines and a UTF-8 BOM are
// accepted; lines starting with '#' are comments). NAME is relative to root.
//
// Each problem is reported as "dataset: FILE:LINE: ..." (label not an integer,
// label outside [0, numClasses), missing image file, duplicate entry); up to 20
// problems are joined into the returned error, and no samples are returned
// then. Classes without any image are not errors: they come back as warnings.
func ReadList(listPath, root string, numClasses int) (samples []Sample, warnings []string, err error) {
	if numClasses <= 0 {
		return nil, nil, fmt.Errorf("dataset: %s: num_classes must be positive, got %d", listPath, numClasses)
	}
	samples, problems, warnings, err := ParseList(listPath, root, numClasses)
	if err != nil {
		return nil, nil, err
	}
	if len(problems) > 0 {
		var errs []error
		for i, p := range problems {
			if i == maxListErrors {
				errs = append(errs, fmt.Errorf("dataset: %s: %d more errors not shown", listPath, len(problems)-i))
				break
			}
			errs = append(errs, fmt.Errorf("dataset: %s:%d: %s", listPath, p.Line, p.Msg))
		}
		return nil, nil, errors.Join(errs...)
	}
	if len(samples) == 0 {
		return nil, nil, fmt.Errorf("dataset: %s: no samples", listPath)
	}
	return samples, warnings, nil
}

// ParseList is the lenient form of ReadList used by data-quality scans: it
// returns the usable samples together with every rejected line, and an error
// only when the list itself cannot be read. numClasses <= 0 accepts any
// label >= 0 (and gives no empty-class warnings).
func ParseList(listPath, root string, numClasses int) (samples []Sample, problems []ListProblem, warnings []string, err error) {
	f, err := os.Open(listPath)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dataset: reading list: %w", err)
	}
	defer f.Close()
	seen := make(map[string]int)
	counts := make(map[int]int)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexAny(line, " \t")
		if cut < 0 {
			problems = append(problems, ListProblem{lineNo, "", fmt.Sprintf("want \"NAME<TAB>LABEL\", got %q", line)})
			continue
		}
		name := strings.TrimSpace(line[:cut])
		labelText := line[cut+1:]
		bad := func(format string, args ...any) {
			problems = append(problems, ListProblem{lineNo, name, fmt.Sprintf(format, args...)})
		}
		label, convErr := strconv.Atoi(labelText)
		if convErr != nil {
			bad("label %q is not an integer", labelText)
			continue
		}
		if label < 0 || (numClasses > 0 && label >= numClasses) {
			if numClasses > 0 {
				bad("label %d out of range [0,%d)", label, numClasses)
			} else {
				bad("label %d is negative", label)
			}
			continue
		}
		key := filepath.ToSlash(filepath.Clean(name))
		if first, dup := seen[key]; dup {
			bad("duplicate entry %q (first on line %d)", name, first)
			continue
		}
		seen[key] = lineNo
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, filepath.FromSlash(name))
		}
		st, statErr := os.Stat(path)
		if statErr != nil {
			bad("missing image file %s", path)
			continue
		}
		if !st.Mode().IsRegular() {
			bad("%s is not a regular file", path)
			continue
		}
		counts[label]++
		samples = append(samples, Sample{Path: path, Name: name, Label: label})
	}
	if scanErr := sc.Err(); scanErr != nil {
		return nil, nil, nil, fmt.Errorf("dataset: %s:%d: %w", listPath, lineNo+1, scanErr)
	}
	for c := 0; c < numClasses; c++ {
		if counts[c] == 0 {
			warnings = append(warnings, fmt.Sprintf("dataset: %s: class %d has no images", listPath, c))
		}
	}
	return samples, problems, warnings, nil
}

// ListImages returns every regular, non-hidden file of dir (not recursive),
// sorted by file name, as unlabelled samples (Label -1, Name the file name).
// Files are not checked here: decoding is by content, so a bad file is reported
// by the loader (OnBad) or by Scan.
func ListImages(dir string) ([]Sample, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: listing images: %w", err)
	}
	var out []Sample
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		st, err := os.Stat(path) // follows symlinks
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		out = append(out, Sample{Path: path, Name: name, Label: -1})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) == 0 {
		return nil, fmt.Errorf("dataset: %s: no image files", dir)
	}
	return out, nil
}
