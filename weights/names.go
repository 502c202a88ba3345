package weights

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gocls/gocls/internal/safetensors"
	"github.com/gocls/gocls/models/resnet"
)

// modelVariables returns the variables of resnet.New(arch, numClasses, layout) by path relative to
// the model's scope: the tree every reader renames its tensors onto.
func modelVariables(arch string, layout resnet.Layout, numClasses int) (map[string]resnet.Var, error) {
	m, err := resnet.New(arch, numClasses, layout)
	if err != nil {
		return nil, err
	}
	vars := map[string]resnet.Var{}
	for _, v := range m.Variables() {
		vars[v.Path] = v
	}
	return vars, nil
}

// detectArch returns the architecture whose variables in layout are named most like the tensors of a
// renamed set (fewest missing plus unexpected names; the shallower on a tie). The set is then checked
// against it, so that a damaged set is reported tensor by tensor.
func detectArch(ts map[string]safetensors.Tensor, layout resnet.Layout) (string, error) {
	best, bestDiff := "", 0
	for _, arch := range resnet.Names() {
		vars, err := modelVariables(arch, layout, 1)
		if err != nil {
			return "", err
		}
		diff := 0
		for name := range ts {
			if _, ok := vars[name]; !ok {
				diff++
			}
		}
		for name := range vars {
			if _, ok := ts[name]; !ok {
				diff++
			}
		}
		if best == "" || diff < bestDiff {
			best, bestDiff = arch, diff
		}
	}
	return best, nil
}

// Keras ResNet50 (keras.applications, Keras <= 2.2) names: conv1, bn_conv1,
// res{stage}{block letter}_branch{2a,2b,2c,1}, bn..., fc1000.
var kerasV1Re = regexp.MustCompile(`^(res|bn)([2-5])([a-z])_branch(2a|2b|2c|1)/(kernel|bias|gamma|beta|moving_mean|moving_variance)$`)

// Keras >= 2.3 names: conv{stage}_block{n}_{0,1,2,3}_{conv,bn}.
var kerasV2Re = regexp.MustCompile(`^conv([2-5])_block(\d+)_([0-3])_(conv|bn)/(kernel|bias|gamma|beta|moving_mean|moving_variance)$`)

var kerasParam = map[string]string{
	"kernel": "kernel", "bias": "bias",
	"gamma": "scale", "beta": "offset", "moving_mean": "mean", "moving_variance": "variance",
}

// kerasName maps a Keras ResNet variable name onto this project's tree; ok is
// false for names it does not know. Keras tensors need no transposition.
func kerasName(name string) (string, bool) {
	name = strings.TrimSuffix(name, ":0")
	switch name {
	case "fc1000/kernel", "predictions/kernel":
		return "fc/weights", true
	case "fc1000/bias", "predictions/bias":
		return "fc/biases", true
	}
	if p, ok := strings.CutPrefix(name, "conv1/"); ok && (p == "kernel" || p == "bias") {
		return "stem/conv/" + p, true
	}
	if p, ok := strings.CutPrefix(name, "conv1_conv/"); ok && (p == "kernel" || p == "bias") {
		return "stem/conv/" + p, true
	}
	for _, pre := range []string{"bn_conv1/", "conv1_bn/"} {
		if p, ok := strings.CutPrefix(name, pre); ok {
			if q, ok := kerasParam[p]; ok && q != "kernel" && q != "bias" {
				return "stem/bn/" + q, true
			}
		}
	}
	block := func(stage int, idx int, branch string, isBN bool, param string) (string, bool) {
		q := kerasParam[param]
		if isBN == (q == "kernel" || q == "bias") {
			return "", false
		}
		p := fmt.Sprintf("layer%d/block_%d/", stage-1, idx)
		kind := "conv"
		if isBN {
			kind = "bn"
		}
		if branch == "" {
			return p + "downsample/" + kind + "/" + q, true
		}
		return p + kind + branch + "/" + q, true
	}
	if m := kerasV1Re.FindStringSubmatch(name); m != nil {
		stage, _ := strconv.Atoi(m[2])
		branch := map[string]string{"2a": "1", "2b": "2", "2c": "3", "1": ""}[m[4]]
		return block(stage, int(m[3][0]-'a'), branch, m[1] == "bn", m[5])
	}
	if m := kerasV2Re.FindStringSubmatch(name); m != nil {
		stage, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		if n < 1 {
			return "", false
		}
		branch := m[3]
		if branch == "0" {
			branch = ""
		}
		return block(stage, n-1, branch, m[4] == "bn", m[5])
	}
	return "", false
}

// torchvision / timm names: conv1, bn1, layer{1-4}.{i}.{conv,bn}{1-3},
// layer{1-4}.{i}.downsample.{0,1}, fc.
var torchBlockRe = regexp.MustCompile(`^layer([1-4])\.(\d+)\.(conv[1-3]|bn[1-3]|downsample\.0|downsample\.1)\.(weight|bias|running_mean|running_var)$`)

// Hugging Face transformers ResNetModel names (microsoft/resnet-*).
var hfBlockRe = regexp.MustCompile(`^resnet\.encoder\.stages\.([0-3])\.layers\.(\d+)\.(shortcut|layer\.([0-2]))\.(convolution|normalization)\.(weight|bias|running_mean|running_var)$`)

var torchBN = map[string]string{"weight": "scale", "bias": "offset", "running_mean": "mean", "running_var": "variance"}

// torchTransform says how a PyTorch tensor is rearranged into our layout.
type torchTransform int

const (
	asIs       torchTransform = iota
	oihwToHWIO                // conv kernel [out,in,kh,kw] -> [kh,kw,in,out]
	transpose2                // dense [out,in] -> [in,out]
)

// torchName maps a torchvision / timm / Hugging Face ResNet state-dict name
// onto this project's tree. skip is true for bookkeeping entries
// (num_batches_tracked); ok is false for unknown names.
func torchName(name string) (path string, tr torchTransform, skip, ok bool) {
	for _, pre := range []string{"module.", "model.", "backbone."} {
		name = strings.TrimPrefix(name, pre)
	}
	if strings.HasSuffix(name, "num_batches_tracked") {
		return "", asIs, true, true
	}
	bnParam := func(prefix, p string) (string, torchTransform, bool, bool) {
		q, ok := torchBN[p]
		return prefix + q, asIs, false, ok
	}
	switch name {
	case "conv1.weight", "resnet.embedder.embedder.convolution.weight":
		return "stem/conv/kernel", oihwToHWIO, false, true
	case "fc.weight", "classifier.1.weight":
		return "fc/weights", transpose2, false, true
	case "fc.bias", "classifier.1.bias":
		return "fc/biases", asIs, false, true
	}
	for _, pre := range []string{"bn1.", "resnet.embedder.embedder.normalization."} {
		if p, ok := strings.CutPrefix(name, pre); ok {
			return bnParam("stem/bn/", p)
		}
	}
	if m := torchBlockRe.FindStringSubmatch(name); m != nil {
		blk := "layer" + m[1] + "/block_" + m[2] + "/"
		part, param := m[3], m[4]
		switch {
		case strings.HasPrefix(part, "conv") && param == "weight":
			return blk + part + "/kernel", oihwToHWIO, false, true
		case part == "downsample.0" && param == "weight":
			return blk + "downsample/conv/kernel", oihwToHWIO, false, true
		case strings.HasPrefix(part, "bn"):
			return bnParam(blk+part+"/", param)
		case part == "downsample.1":
			return bnParam(blk+"downsample/bn/", param)
		}
		return "", asIs, false, false
	}
	if m := hfBlockRe.FindStringSubmatch(name); m != nil {
		stage, _ := strconv.Atoi(m[1])
		blk := fmt.Sprintf("layer%d/block_%s/", stage+1, m[2])
		var conv, bn string
		if m[3] == "shortcut" {
			conv, bn = "downsample/conv", "downsample/bn"
		} else {
			i, _ := strconv.Atoi(m[4])
			conv, bn = fmt.Sprintf("conv%d", i+1), fmt.Sprintf("bn%d", i+1)
		}
		if m[5] == "convolution" {
			if m[6] != "weight" {
				return "", asIs, false, false
			}
			return blk + conv + "/kernel", oihwToHWIO, false, true
		}
		return bnParam(blk+bn+"/", m[6])
	}
	return "", asIs, false, false
}

// transform rearranges t according to tr; it checks the rank.
func transform(t safetensors.Tensor, tr torchTransform) (safetensors.Tensor, error) {
	switch tr {
	case oihwToHWIO:
		if len(t.Shape) != 4 {
			return t, fmt.Errorf("conv kernel has shape %v, want rank 4 [out,in,kh,kw]", t.Shape)
		}
		o, i, kh, kw := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
		out := make([]float32, len(t.Data))
		for a := range o {
			for b := range i {
				for y := range kh {
					for x := range kw {
						out[((y*kw+x)*i+b)*o+a] = t.Data[((a*i+b)*kh+y)*kw+x]
					}
				}
			}
		}
		return safetensors.Tensor{Shape: []int{kh, kw, i, o}, Data: out}, nil
	case transpose2:
		if len(t.Shape) != 2 {
			return t, fmt.Errorf("dense weight has shape %v, want rank 2 [out,in]", t.Shape)
		}
		o, i := t.Shape[0], t.Shape[1]
		out := make([]float32, len(t.Data))
		for a := range o {
			for b := range i {
				out[b*o+a] = t.Data[a*i+b]
			}
		}
		return safetensors.Tensor{Shape: []int{i, o}, Data: out}, nil
	}
	return t, nil
}

// renameTorch maps a PyTorch-style state dict onto this project's tree.
// Unknown names and wrongly shaped tensors are all listed in one error.
func renameTorch(raw map[string]safetensors.Tensor) (map[string]safetensors.Tensor, error) {
	out := make(map[string]safetensors.Tensor, len(raw))
	var problems []string
	for _, name := range sortedKeys(raw) {
		path, tr, skip, ok := torchName(name)
		if skip {
			continue
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown tensor %q %v", name, raw[name].Shape))
			continue
		}
		t, err := transform(raw[name], tr)
		if err != nil {
			problems = append(problems, fmt.Sprintf("tensor %q: %v", name, err))
			continue
		}
		if _, dup := out[path]; dup {
			problems = append(problems, fmt.Sprintf("tensor %q: duplicate for %s", name, path))
			continue
		}
		out[path] = t
	}
	if len(problems) > 0 {
		return nil, listError(problems)
	}
	return out, nil
}

// renameKeras maps Keras variable names onto this project's tree.
func renameKeras(raw map[string]safetensors.Tensor) (map[string]safetensors.Tensor, error) {
	out := make(map[string]safetensors.Tensor, len(raw))
	var problems []string
	for _, name := range sortedKeys(raw) {
		path, ok := kerasName(name)
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown tensor %q %v", name, raw[name].Shape))
			continue
		}
		out[path] = raw[name]
	}
	if len(problems) > 0 {
		return nil, listError(problems)
	}
	return out, nil
}

// listError joins problems into one error: "N problems: a; b; c".
func listError(problems []string) error {
	n := len(problems)
	if n == 1 {
		return fmt.Errorf("%s", problems[0])
	}
	const maxListed = 20
	extra := ""
	if n > maxListed {
		extra = fmt.Sprintf("; ... and %d more", n-maxListed)
		problems = problems[:maxListed]
	}
	return fmt.Errorf("%d problems: %s%s", n, strings.Join(problems, "; "), extra)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
