package checkpoint

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gocls/gocls/internal/atomicfile"
	"github.com/gocls/gocls/preprocess"
)

// ModelInfoFile is the name of the model description in a run directory.
const ModelInfoFile = "model.json"

// ModelInfo describes the network a run trains: everything prediction needs
// besides the weights. It is written once per run directory.
type ModelInfo struct {
	Arch          string                `json:"arch"`        // e.g. "resnet50"
	Layout        string                `json:"layout"`      // a resnet.Layout: "v1.5" (torchvision) or "v1" (Keras)
	NumClasses    int                   `json:"num_classes"` // size of the classifier
	Classes       []string              `json:"classes,omitempty"`
	Scope         string                `json:"scope"` // variable scope of the network, e.g. "/model"
	Preprocessing preprocess.Convention `json:"preprocessing"`
	// Preprocess are the image operations the run applies to each decoded
	// image before the resize (its data.preprocess, every parameter
	// spelled out); prediction applies them too.
	Preprocess []preprocess.StepConfig `json:"preprocess,omitempty"`
}

// WriteModelInfo writes runDir/model.json atomically.
func WriteModelInfo(runDir string, info ModelInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(runDir, ModelInfoFile), append(b, '\n'))
}

// ReadModelInfo reads runDir/model.json.
func ReadModelInfo(runDir string) (ModelInfo, error) {
	var info ModelInfo
	p := filepath.Join(runDir, ModelInfoFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return info, fmt.Errorf("checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("checkpoint: %s: %w", p, err)
	}
	if info.Arch == "" || info.NumClasses <= 0 {
		return info, fmt.Errorf("checkpoint: %s: missing arch or num_classes", p)
	}
	if _, err := preprocess.ParseSteps(info.Preprocess); err != nil {
		return info, fmt.Errorf("checkpoint: %s: %w", p, err)
	}
	return info, nil
}

// RunDirOf returns the run directory of a checkpoint directory (its parent)
// when the parent holds model.json, else dir itself.
func RunDirOf(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, ModelInfoFile)); err == nil {
		return dir
	}
	return filepath.Dir(dir)
}
