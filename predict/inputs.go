package predict

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gocls/gocls/dataset"
)

// ReadInputs returns the images to classify. images is a directory (every
// non-hidden regular file in it, sorted by name; see dataset.ListImages), an
// image file (by extension or content; see dataset.LooksLikeImage), or a
// list file of "NAME" or "NAME<TAB>LABEL" lines (see dataset.ReadNames; the
// label, if any, is ignored here). List names are relative to root, which
// defaults to the list file's directory. Images are not opened here: an
// unreadable or missing image is reported when it is decoded.
func ReadInputs(images, root string) ([]dataset.Sample, error) {
	st, err := os.Stat(images)
	if err != nil {
		return nil, fmt.Errorf("predict: images: %w", err)
	}
	var samples []dataset.Sample
	switch {
	case st.IsDir():
		samples, err = dataset.ListImages(images)
	case dataset.LooksLikeImage(images):
		samples = []dataset.Sample{{Path: images, Name: filepath.Base(images), Label: -1}}
	default:
		if root == "" {
			root = filepath.Dir(images)
		}
		samples, err = dataset.ReadNames(images, root)
	}
	if err != nil {
		return nil, fmt.Errorf("predict: %s", strings.TrimPrefix(err.Error(), "dataset: "))
	}
	return samples, nil
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
