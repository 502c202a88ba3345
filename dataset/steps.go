package dataset

import (
	"fmt"

	"github.com/gocls/gocls/preprocess"
)

// WithSteps returns t running the preprocessing steps cfgs (see
// preprocess.ParseSteps) on each decoded image first: before the
// augmentation of a training transform, before the resize of an evaluation
// one. Single-channel results are replicated into R, G and B. The loader
// then decodes whole images (no crop-restricted JPEG decoding), in its
// workers. No steps gives t unchanged.
func (t Transform) WithSteps(cfgs []preprocess.StepConfig) (Transform, error) {
	t.pre = nil
	if len(cfgs) == 0 {
		return t, nil
	}
	steps, err := preprocess.ParseSteps(cfgs)
	if err != nil {
		return t, fmt.Errorf("dataset: %w", err)
	}
	t.pre = preprocess.Chain(steps)
	return t, nil
}
