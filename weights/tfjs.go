package weights

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/gocls/gocls/internal/safetensors"
)

// tfjsModel is the part of a TensorFlow.js layers-model model.json we read.
type tfjsModel struct {
	Format          string      `json:"format"`
	GeneratedBy     string      `json:"generatedBy"`
	WeightsManifest []tfjsGroup `json:"weightsManifest"`
}

// tfjsGroup is one manifest group: its tensors are packed in order, little
// endian, in the concatenation of its shards.
type tfjsGroup struct {
	Paths   []string `json:"paths"`
	Weights []struct {
		Name         string          `json:"name"`
		Shape        []int           `json:"shape"`
		DType        string          `json:"dtype"`
		Quantization json.RawMessage `json:"quantization"`
	} `json:"weights"`
}

// maxTFJSBytes bounds the shard bytes one manifest group may declare.
const maxTFJSBytes = 4 << 30

// ReadTFJS reads a TensorFlow.js layers model: path is the model.json file or
// the directory holding it. It returns the float32 tensors under their
// original (Keras) names, e.g. "res2a_branch2a/kernel" [1,1,64,64].
func ReadTFJS(path string) (map[string]safetensors.Tensor, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "model.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	dir := filepath.Dir(path)
	ts, err := parseTFJS(data, func(name string) ([]byte, error) {
		if name == "" || filepath.IsAbs(name) || strings.Contains(filepath.ToSlash(name), "..") {
			return nil, fmt.Errorf("shard path %q leaves the model directory", name)
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, fmt.Errorf("shard: %w", err)
		}
		return b, nil
	})
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return ts, nil
}

// parseTFJS decodes model.json and the shards it names (fetched with
// readShard). Each manifest group is the concatenation of its shards, tensors
// packed in order, little-endian.
func parseTFJS(modelJSON []byte, readShard func(string) ([]byte, error)) (map[string]safetensors.Tensor, error) {
	var m tfjsModel
	if err := json.Unmarshal(modelJSON, &m); err != nil {
		return nil, fmt.Errorf("bad model.json: %w", err)
	}
	if len(m.WeightsManifest) == 0 {
		return nil, fmt.Errorf("model.json has no weightsManifest")
	}
	out := map[string]safetensors.Tensor{}
	for gi, g := range m.WeightsManifest {
		// Check sizes before reading any shard.
		sizes, need, err := g.sizes(gi)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, 0, min(need, 1<<28)) // the manifest is not trusted yet
		for _, p := range g.Paths {
			b, err := readShard(p)
			if err != nil {
				return nil, err
			}
			buf = append(buf, b...)
		}
		if int64(len(buf)) != need {
			return nil, fmt.Errorf("group %d: shards hold %d bytes, manifest needs %d", gi, len(buf), need)
		}
		if err := g.unpack(out, sizes, buf); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sizes checks group gi's tensors (dtype, shape, no quantization) and
// returns their element counts and the bytes their shards must hold.
func (g tfjsGroup) sizes(gi int) ([]int, int64, error) {
	var need int64
	sizes := make([]int, len(g.Weights))
	for wi, w := range g.Weights {
		if len(w.Quantization) > 0 && string(w.Quantization) != "null" {
			return nil, 0, fmt.Errorf("tensor %q: quantized weights are not supported", w.Name)
		}
		if w.DType != "float32" && w.DType != "int32" {
			return nil, 0, fmt.Errorf("tensor %q: unsupported dtype %q", w.Name, w.DType)
		}
		n := 1
		for _, d := range w.Shape {
			if d < 0 || (d > 0 && n > math.MaxInt32/d) {
				return nil, 0, fmt.Errorf("tensor %q: bad shape %v", w.Name, w.Shape)
			}
			n *= d
		}
		sizes[wi] = n
		need += int64(n * 4) // both dtypes are 4 bytes wide
		if need > maxTFJSBytes {
			return nil, 0, fmt.Errorf("group %d declares more than %d bytes", gi, int64(maxTFJSBytes))
		}
	}
	return sizes, need, nil
}

// unpack adds the group's tensors, read from buf, to out as float32.
func (g tfjsGroup) unpack(out map[string]safetensors.Tensor, sizes []int, buf []byte) error {
	off := 0
	for wi, w := range g.Weights {
		if _, dup := out[w.Name]; dup {
			return fmt.Errorf("tensor %q listed twice", w.Name)
		}
		n := sizes[wi]
		data := make([]float32, n)
		for i := range data {
			bits := binary.LittleEndian.Uint32(buf[off+4*i:])
			if w.DType == "int32" {
				data[i] = float32(int32(bits))
			} else {
				data[i] = math.Float32frombits(bits)
			}
		}
		off += 4 * n
		out[w.Name] = safetensors.Tensor{Shape: append([]int{}, w.Shape...), Data: data}
	}
	return nil
}

// readLabels reads an ImageNet labels.json: either a JSON array of names or
// an object {"0": "tench", ...} with every index from 0 to len-1.
func readLabels(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	labels, err := parseLabels(data)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return labels, nil
}

func parseLabels(data []byte) ([]string, error) {
	var list []string
	if err := json.Unmarshal(data, &list); err == nil {
		return list, nil
	}
	var obj map[string]string
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("labels: want a JSON list or {\"0\": name} object: %w", err)
	}
	labels := make([]string, len(obj))
	for i := range labels {
		name, ok := obj[fmt.Sprint(i)]
		if !ok {
			return nil, fmt.Errorf("labels: index %d missing", i)
		}
		labels[i] = name
	}
	return labels, nil
}
