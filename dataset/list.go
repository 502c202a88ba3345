package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
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
	if err := checkEntries(listPath, len(samples)); err != nil {
		return nil, nil, err
	}
	return samples, warnings, nil
}

// checkEntries is the rule, shared by ReadList (training, evaluation) and
// ScanList (datacheck), that a list must have at least one entry.
func checkEntries(listPath string, n int) error {
	if n == 0 {
		return fmt.Errorf("dataset: %s: no samples (the list has no entries)", listPath)
	}
	return nil
}

// ParseList is the lenient form of ReadList used by data-quality scans: it
// returns the usable samples together with every rejected line, and an error
// only when the list itself cannot be read. numClasses <= 0 accepts any
// label >= 0 (and gives no empty-class warnings).
func ParseList(listPath, root string, numClasses int) (samples []Sample, problems []ListProblem, warnings []string, err error) {
	seen := firstLines{}
	counts := make(map[int]int)
	err = scanList(listPath, func(lineNo int, line string) error {
		name, labelText, ok := cutLabel(line)
		if !ok {
			problems = append(problems, ListProblem{lineNo, "", fmt.Sprintf("want \"NAME<TAB>LABEL\", got %q", line)})
			return nil
		}
		bad := func(format string, args ...any) error {
			problems = append(problems, ListProblem{lineNo, name, fmt.Sprintf(format, args...)})
			return nil
		}
		label, convErr := strconv.Atoi(labelText)
		if convErr != nil {
			return bad("label %q is not an integer", labelText)
		}
		if label < 0 || (numClasses > 0 && label >= numClasses) {
			if numClasses > 0 {
				return bad("label %d out of range [0,%d)", label, numClasses)
			}
			return bad("label %d is negative", label)
		}
		if first, dup := seen.add(name, lineNo); dup {
			return bad("duplicate entry %q (first on line %d)", name, first)
		}
		path := resolve(root, filepath.FromSlash(name))
		st, statErr := os.Stat(path)
		if statErr != nil {
			return bad("missing image file %s", path)
		}
		if !st.Mode().IsRegular() {
			return bad("%s is not a regular file", path)
		}
		counts[label]++
		samples = append(samples, Sample{Path: path, Name: name, Label: label})
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	for c := 0; c < numClasses; c++ {
		if counts[c] == 0 {
			warnings = append(warnings, fmt.Sprintf("dataset: %s: class %d has no images", listPath, c))
		}
	}
	return samples, problems, warnings, nil
}

// ReadNames parses a list of images to classify: "NAME" or "NAME LABEL"
// lines (a last field that is an integer is a label and is ignored, so names
// may hold spaces), with ReadList's comments, blank lines, CRLF and BOM.
// Names are relative to root. Files are not opened: an unreadable image is
// reported when it is decoded. A duplicate entry or an empty list is an error.
func ReadNames(listPath, root string) ([]Sample, error) {
	var out []Sample
	seen := firstLines{}
	err := scanList(listPath, func(lineNo int, line string) error {
		name := line
		if n, label, ok := cutLabel(line); ok {
			if _, err := strconv.Atoi(label); err == nil {
				name = n
			}
		}
		if first, dup := seen.add(name, lineNo); dup {
			return fmt.Errorf("dataset: %s:%d: duplicate entry %q (first on line %d)", listPath, lineNo, name, first)
		}
		out = append(out, Sample{Path: resolve(root, filepath.FromSlash(name)), Name: name, Label: -1})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dataset: %s: no images listed", listPath)
	}
	return out, nil
}

// scanList calls fn with each entry line of a list file, trimmed, skipping
// blank lines and '#' comments (a UTF-8 BOM and CRLF are accepted). A line
// that is not text (a NUL byte or invalid UTF-8: an image or other binary
// file given as a list) stops the scan with an error naming the file and line;
// so does an error returned by fn.
func scanList(listPath string, fn func(lineNo int, line string) error) error {
	f, err := os.Open(listPath)
	if err != nil {
		return fmt.Errorf("dataset: reading list: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if strings.IndexByte(line, 0) >= 0 || !utf8.ValidString(line) {
			return fmt.Errorf("dataset: %s:%d: not a text list file (binary data)", listPath, lineNo)
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := fn(lineNo, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("dataset: %s:%d: %w", listPath, lineNo+1, err)
	}
	return nil
}

// cutLabel splits an entry line at its last run of spaces or tabs into
// NAME (which may hold spaces) and LABEL text; ok is false for a line of one
// field. ParseList and ReadNames read entries through it.
func cutLabel(line string) (name, label string, ok bool) {
	cut := strings.LastIndexAny(line, " \t")
	if cut < 0 {
		return line, "", false
	}
	return strings.TrimSpace(line[:cut]), line[cut+1:], true
}

// firstLines is the line of each list entry's first occurrence, keyed so
// that "./a.jpg" and "a.jpg" are the same entry.
type firstLines map[string]int

// add records name at lineNo, or returns the line of its first occurrence.
func (f firstLines) add(name string, lineNo int) (first int, dup bool) {
	key := filepath.ToSlash(filepath.Clean(name))
	if first, dup := f[key]; dup {
		return first, true
	}
	f[key] = lineNo
	return 0, false
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

// imageExts are the file name extensions of the formats DecodeBytes reads.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true}

// LooksLikeImage reports whether path names an image file rather than a
// text list: its extension is an image format's, or its header decodes as
// one (a file whose header does not, and has no image extension, is left to
// be read as a list, which rejects binary content).
func LooksLikeImage(path string) bool {
	if imageExts[strings.ToLower(filepath.Ext(path))] {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	_, _, err = image.DecodeConfig(bufio.NewReader(f))
	return err == nil
}
