package dataset

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
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

type splitFile struct {
	Version int      `json:"version"`
	Train   []Sample `json:"train"`
	Val     []Sample `json:"val"`
}

// SaveSplit writes the split as JSON ({"version":1,"train":[...],"val":[...]},
// each sample {"path","name","label"}) atomically, so resume and predict can
// reuse exactly the same split.
func SaveSplit(path string, train, val []Sample) error {
	if train == nil {
		train = []Sample{}
	}
	if val == nil {
		val = []Sample{}
	}
	err := atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(splitFile{Version: 1, Train: train, Val: val})
	})
	if err != nil {
		return fmt.Errorf("dataset: saving split %s: %w", path, err)
	}
	return nil
}

// LoadSplit reads a file written by SaveSplit.
func LoadSplit(path string) (train, val []Sample, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: loading split: %w", err)
	}
	var sf splitFile
	if err := json.Unmarshal(data, &sf); err != nil {
		return nil, nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	if sf.Version != 1 {
		return nil, nil, fmt.Errorf("dataset: %s: unsupported split version %d", path, sf.Version)
	}
	return sf.Train, sf.Val, nil
}

// mix64 is the splitmix64 finaliser: a bijective scrambler used to derive
// independent RNG seeds from small integers.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
