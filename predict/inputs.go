package predict

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gocls/gocls/dataset"
)

// ReadInputs returns the images to classify. images is a directory (every
// non-hidden regular file in it, sorted by name; see dataset.ListImages) or a
// list file of "NAME" or "NAME<TAB>LABEL" lines (the label, if any, is
// ignored here; blank lines, '#' comments, CRLF and a UTF-8 BOM are
// accepted). List names are relative to root, which defaults to the list
// file's directory. Files are not opened here: an unreadable or missing
// image is reported when it is decoded.
func ReadInputs(images, root string) ([]dataset.Sample, error) {
	st, err := os.Stat(images)
	if err != nil {
		return nil, fmt.Errorf("predict: images: %w", err)
	}
	if st.IsDir() {
		samples, err := dataset.ListImages(images)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		return samples, nil
	}
	if root == "" {
		root = filepath.Dir(images)
	}
	f, err := os.Open(images)
	if err != nil {
		return nil, fmt.Errorf("predict: images: %w", err)
	}
	defer f.Close()
	var out []dataset.Sample
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line
		if cut := strings.LastIndexAny(line, " \t"); cut >= 0 {
			if _, err := strconv.Atoi(line[cut+1:]); err == nil {
				name = strings.TrimSpace(line[:cut])
			}
		}
		key := filepath.ToSlash(filepath.Clean(name))
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("predict: %s:%d: duplicate entry %q (first on line %d)", images, lineNo, name, first)
		}
		seen[key] = lineNo
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, filepath.FromSlash(name))
		}
		out = append(out, dataset.Sample{Path: path, Name: name, Label: -1})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("predict: %s: %w", images, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("predict: %s: no images listed", images)
	}
	return out, nil
}

// FileSamples turns image paths given on the command line into samples
// (Name is the path as given), in the given order.
func FileSamples(paths []string) []dataset.Sample {
	out := make([]dataset.Sample, len(paths))
	for i, p := range paths {
		out[i] = dataset.Sample{Path: p, Name: p, Label: -1}
	}
	return out
}
