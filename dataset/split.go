package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/gocls/gocls/internal/atomicfile"
)

// Split divides samples into train and validation sets, stratified by label:
// each class contributes round(n*valRatio) of its n samples to val (at least one
// when valRatio > 0 and the class has two or more samples, and never all of
// them). Which samples go to val is a pure function of (seed, label, the
// class's samples in list order); both outputs keep the input order. valRatio
// <= 0 puts everything in train.
func Split(s []Sample, valRatio float64, seed int64) (train, val []Sample) {
	if valRatio <= 0 {
		return append([]Sample(nil), s...), nil
	}
	byClass := make(map[int][]int)
	var labels []int
	for i, smp := range s {
		if _, ok := byClass[smp.Label]; !ok {
			labels = append(labels, smp.Label)
		}
		byClass[smp.Label] = append(byClass[smp.Label], i)
	}
	sort.Ints(labels)
	isVal := make([]bool, len(s))
	for _, label := range labels {
		idx := byClass[label]
		n := len(idx)
		nVal := int(math.Round(float64(n) * valRatio))
		if nVal == 0 && n >= 2 {
			nVal = 1
		}
		if nVal >= n {
			nVal = n - 1
		}
		rng := rand.New(rand.NewPCG(mix64(uint64(seed)), mix64(uint64(int64(label))^0x5eed)))
		perm := rng.Perm(n)
		for _, p := range perm[:max(nVal, 0)] {
			isVal[idx[p]] = true
		}
	}
	for i, smp := range s {
		if isVal[i] {
			val = append(val, smp)
		} else {
			train = append(train, smp)
		}
	}
	return train, val
}

// SplitSource is what a split is a function of (see Split): the list file's
// contents, the validation ratio and the seed. A saved split is valid for a
// run only while these are unchanged.
type SplitSource struct {
	ListSHA256 string  `json:"list_sha256"` // hex SHA-256 of the list file's bytes
	ValRatio   float64 `json:"val_ratio"`
	Seed       int64   `json:"split_seed"`
	// Root is the absolute data root the split was made in, for the record
	// only: the data may move (image names are relative to the root).
	Root string `json:"root"`
}

// NewSplitSource hashes the list file at listPath.
func NewSplitSource(listPath, root string, valRatio float64, seed int64) (SplitSource, error) {
	data, err := os.ReadFile(listPath)
	if err != nil {
		return SplitSource{}, fmt.Errorf("dataset: reading list: %w", err)
	}
	sum := sha256.Sum256(data)
	abs, err := filepath.Abs(root)
	if err != nil {
		return SplitSource{}, fmt.Errorf("dataset: %w", err)
	}
	return SplitSource{ListSHA256: hex.EncodeToString(sum[:]), ValRatio: valRatio, Seed: seed, Root: abs}, nil
}

// Mismatch describes how s differs from the source of a saved split (""
// when the saved split is valid for s; Root is not compared).
func (s SplitSource) Mismatch(saved SplitSource) string {
	switch {
	case s.ListSHA256 != saved.ListSHA256:
		return fmt.Sprintf("the list file changed (sha256 %.12s…, the split was made from %.12s…)", s.ListSHA256, saved.ListSHA256)
	case s.ValRatio != saved.ValRatio:
		return fmt.Sprintf("data.val_ratio is %v, the split was made with %v", s.ValRatio, saved.ValRatio)
	case s.Seed != saved.Seed:
		return fmt.Sprintf("data.split_seed is %d, the split was made with %d", s.Seed, saved.Seed)
	}
	return ""
}

// splitVersion 2 stores image names relative to the data root and the
// split's source; version 1 stored resolved paths and no source.
const splitVersion = 2

type splitEntry struct {
	Name  string `json:"name"`
	Label int    `json:"label"`
}

type splitFile struct {
	Version int          `json:"version"`
	Source  SplitSource  `json:"source"`
	Train   []splitEntry `json:"train"`
	Val     []splitEntry `json:"val"`
}

func entries(s []Sample) []splitEntry {
	out := make([]splitEntry, len(s))
	for i, smp := range s {
		out[i] = splitEntry{Name: smp.Name, Label: smp.Label}
	}
	return out
}

// SaveSplit writes the split made from src as JSON ({"version":2,
// "source":{...},"train":[{"name","label"}...],"val":[...]}, names relative
// to the data root) atomically, so resume and predict can reuse exactly the
// same split wherever the data and the working directory are.
func SaveSplit(path string, src SplitSource, train, val []Sample) error {
	err := atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(splitFile{Version: splitVersion, Source: src, Train: entries(train), Val: entries(val)})
	})
	if err != nil {
		return fmt.Errorf("dataset: saving split %s: %w", path, err)
	}
	return nil
}

// LoadSplit reads a file written by SaveSplit, resolving the image names
// against root. A version 1 file (resolved paths, no source) comes back
// with a zero SplitSource and its names resolved against root.
func LoadSplit(path, root string) (src SplitSource, train, val []Sample, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return src, nil, nil, fmt.Errorf("dataset: loading split: %w", err)
	}
	var sf splitFile
	if err := json.Unmarshal(data, &sf); err != nil {
		return src, nil, nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	if sf.Version != 1 && sf.Version != splitVersion {
		return src, nil, nil, fmt.Errorf("dataset: %s: unsupported split version %d", path, sf.Version)
	}
	samples := func(es []splitEntry) []Sample {
		out := make([]Sample, len(es))
		for i, e := range es {
			p := e.Name
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, filepath.FromSlash(e.Name))
			}
			out[i] = Sample{Path: p, Name: e.Name, Label: e.Label}
		}
		return out
	}
	return sf.Source, samples(sf.Train), samples(sf.Val), nil
}

// mix64 is the splitmix64 finaliser: a bijective scrambler used to derive
// independent RNG seeds from small integers.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
