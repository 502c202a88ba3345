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
	f, err := os.Open(listPath)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: reading list: %w", err)
	}
	defer f.Close()

	var errs []error
	addErr := func(line int, format string, args ...any) {
		if len(errs) < maxListErrors {
			errs = append(errs, fmt.Errorf("dataset: %s:%d: %s", listPath, line, fmt.Sprintf(format, args...)))
		} else if len(errs) == maxListErrors {
			errs = append(errs, fmt.Errorf("dataset: %s: more errors not shown", listPath))
		}
	}
	seen := make(map[string]int)
	counts := make([]int, numClasses)
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
			addErr(lineNo, "want \"NAME<TAB>LABEL\", got %q", line)
			continue
		}
		name := strings.TrimSpace(line[:cut])
		labelText := line[cut+1:]
		label, convErr := strconv.Atoi(labelText)
		if convErr != nil {
			addErr(lineNo, "label %q is not an integer", labelText)
			continue
		}
		if label < 0 || label >= numClasses {
			addErr(lineNo, "label %d out of range [0,%d)", label, numClasses)
			continue
		}
		key := filepath.ToSlash(filepath.Clean(name))
		if first, dup := seen[key]; dup {
			addErr(lineNo, "duplicate entry %q (first on line %d)", name, first)
			continue
		}
		seen[key] = lineNo
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, filepath.FromSlash(name))
		}
		st, statErr := os.Stat(path)
		if statErr != nil {
			addErr(lineNo, "missing image file %s", path)
			continue
		}
		if !st.Mode().IsRegular() {
			addErr(lineNo, "%s is not a regular file", path)
			continue
		}
		counts[label]++
		samples = append(samples, Sample{Path: path, Name: name, Label: label})
	}
	if scanErr := sc.Err(); scanErr != nil {
		return nil, nil, fmt.Errorf("dataset: %s:%d: %w", listPath, lineNo+1, scanErr)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	if len(samples) == 0 {
		return nil, nil, fmt.Errorf("dataset: %s: no samples", listPath)
	}
	for c, n := range counts {
		if n == 0 {
			warnings = append(warnings, fmt.Sprintf("dataset: %s: class %d has no images", listPath, c))
		}
	}
	return samples, warnings, nil
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
