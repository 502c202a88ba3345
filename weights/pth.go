package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strings"

	"github.com/gocls/gocls/internal/safetensors"
	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// ReadPth reads a PyTorch state dict saved with torch.save: the zip format
// (PyTorch >= 1.6) or the legacy pickle format. A dict nested under
// "state_dict" or "model" (training checkpoints) is unwrapped. Tensors come
// back under their original names, in PyTorch layout, as float32.
func ReadPth(path string) (map[string]safetensors.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	var ts map[string]safetensors.Tensor
	if len(data) >= 4 && string(data[:4]) == "PK\x03\x04" {
		ts, err = parsePth(data)
	} else {
		ts, err = parseLegacyPth(path)
	}
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return ts, nil
}

// parsePth decodes a zip-format .pth held in memory.
func parsePth(data []byte) (map[string]safetensors.Tensor, error) {
	obj, err := unpickleZip(data)
	if err != nil {
		return nil, err
	}
	return stateDict(obj)
}

// parseLegacyPth reads a pre-1.6 (non-zip) torch.save file.
func parseLegacyPth(path string) (map[string]safetensors.Tensor, error) {
	obj, err := unpickleLegacy(path)
	if err != nil {
		return nil, err
	}
	return stateDict(obj)
}

// storageClass is a torch.*Storage class named in the pickle.
type storageClass struct {
	name  string
	width int
	conv  func(b []byte) float32
}

var storageClasses = map[string]storageClass{
	"FloatStorage":  {"float32", 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }},
	"DoubleStorage": {"float64", 8, func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }},
	"HalfStorage": {"float16", 2, func(b []byte) float32 {
		return math.Float32frombits(pytorch.FloatBits16to32(binary.LittleEndian.Uint16(b)))
	}},
	"BFloat16Storage": {"bfloat16", 2, func(b []byte) float32 { return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16) }},
	"LongStorage":     {"int64", 8, func(b []byte) float32 { return float32(int64(binary.LittleEndian.Uint64(b))) }},
	"IntStorage":      {"int32", 4, func(b []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(b))) }},
	"ShortStorage":    {"int16", 2, func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) }},
	"CharStorage":     {"int8", 1, func(b []byte) float32 { return float32(int8(b[0])) }},
	"ByteStorage":     {"uint8", 1, func(b []byte) float32 { return float32(b[0]) }},
	"BoolStorage":     {"bool", 1, func(b []byte) float32 { return float32(b[0] & 1) }},
}

// storage is one loaded storage record: raw little-endian bytes.
type storage struct {
	class storageClass
	numel int
	data  []byte
}

// rawTensor is a strided view into a storage (torch._utils._rebuild_tensor_v2).
type rawTensor struct {
	st     *storage
	offset int
	size   []int
	stride []int
}

type callableFunc func(args ...any) (any, error)

func (f callableFunc) Call(args ...any) (any, error) { return f(args...) }

func rebuildTensor(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %d arguments, want >= 4", len(args))
	}
	st, ok1 := args[0].(*storage)
	off, ok2 := args[1].(int)
	size, err1 := intTuple(args[2])
	stride, err2 := intTuple(args[3])
	if !ok1 || !ok2 || err1 != nil || err2 != nil || len(size) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor_v2: unexpected arguments")
	}
	return &rawTensor{st: st, offset: off, size: size, stride: stride}, nil
}

func intTuple(v any) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("want a tuple, got %T", v)
	}
	out := make([]int, t.Len())
	for i := range out {
		if out[i], ok = t.Get(i).(int); !ok {
			return nil, fmt.Errorf("want ints, got %T", t.Get(i))
		}
	}
	return out, nil
}

// maxPickle bounds data.pkl; state-dict pickles are small (names + ids).
const maxPickle = 64 << 20

// unpickleZip reads data.pkl of a torch.save zip archive, loading the
// storages it references from data/<key> records.
func unpickleZip(data []byte) (result any, err error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not a zip archive: %w", err)
	}
	pkl, records, err := zipEntries(zr)
	if err != nil {
		return nil, err
	}
	pklData, err := readRecord(pkl, maxPickle)
	if err != nil {
		return nil, err
	}
	if err := checkPickle(pklData); err != nil {
		return nil, err
	}
	u := pickle.NewUnpickler(bytes.NewReader(pklData))
	u.FindClass = findTorchClass
	storages := &storageLoader{records: records, loaded: map[string]*storage{}, limit: int64(len(data))*1024 + 1<<20}
	u.PersistentLoad = storages.load
	defer func() {
		// The pickle machine is third-party code fed with user bytes: turn
		// any panic into an error.
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("bad pickle: %v", r)
		}
	}()
	result, err = u.Load()
	if err != nil {
		return nil, fmt.Errorf("bad pickle: %w", err)
	}
	return result, nil
}

// zipEntries finds an archive's data.pkl and its data/<key> storage
// records, by key.
func zipEntries(zr *zip.Reader) (pkl *zip.File, records map[string]*zip.File, err error) {
	records = map[string]*zip.File{}
	for _, f := range zr.File {
		dir, base := path.Split(f.Name)
		switch {
		case base == "data.pkl" && strings.Count(dir, "/") <= 1:
			pkl = f
		case strings.HasSuffix(dir, "/data/"):
			records[base] = f
		case base == "constants.pkl":
			return nil, nil, fmt.Errorf("TorchScript archives are not supported; save model.state_dict() instead")
		}
	}
	if pkl == nil {
		return nil, nil, fmt.Errorf("data.pkl not found in zip archive")
	}
	return pkl, records, nil
}

// findTorchClass resolves the classes a state dict's pickle names: tensor
// and parameter rebuilders, storage classes; any other class becomes an
// inert generic object.
func findTorchClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return callableFunc(rebuildTensor), nil
	case "torch._utils._rebuild_parameter":
		return callableFunc(func(args ...any) (any, error) {
			if len(args) < 1 {
				return nil, fmt.Errorf("_rebuild_parameter: no arguments")
			}
			return args[0], nil
		}), nil
	}
	if module == "torch" {
		if c, ok := storageClasses[name]; ok {
			return c, nil
		}
	}
	return types.NewGenericClass(module, name), nil
}

// storageLoader loads the storages a pickle references (its persistent
// ids), each record once, none larger than limit bytes.
type storageLoader struct {
	records map[string]*zip.File
	loaded  map[string]*storage
	limit   int64
}

// load resolves a persistent id ('storage', class, key, location, numel).
func (sl *storageLoader) load(id any) (any, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() < 5 {
		return nil, fmt.Errorf("persistent id: want ('storage', class, key, location, numel), got %T", id)
	}
	kind, _ := t.Get(0).(string)
	class, okC := t.Get(1).(storageClass)
	key, okK := t.Get(2).(string)
	numel, okN := t.Get(4).(int)
	if kind != "storage" || !okC || !okK || !okN || numel < 0 {
		return nil, fmt.Errorf("persistent id: unsupported storage %v", t)
	}
	if st, ok := sl.loaded[key]; ok {
		return st, nil
	}
	rec, ok := sl.records[key]
	if !ok {
		return nil, fmt.Errorf("storage record data/%s not found", key)
	}
	if uint64(numel)*uint64(class.width) > rec.UncompressedSize64 {
		return nil, fmt.Errorf("storage data/%s: %d %s values need %d bytes, record has %d",
			key, numel, class.name, numel*class.width, rec.UncompressedSize64)
	}
	b, err := readRecord(rec, sl.limit)
	if err != nil {
		return nil, err
	}
	if len(b) < numel*class.width {
		return nil, fmt.Errorf("storage data/%s is truncated", key)
	}
	st := &storage{class: class, numel: numel, data: b[:numel*class.width]}
	sl.loaded[key] = st
	return st, nil
}

func readRecord(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("zip record %s too large (%d bytes)", f.Name, f.UncompressedSize64)
	}
	r, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("zip record %s: %w", f.Name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, int64(f.UncompressedSize64)+1))
	if err != nil {
		return nil, fmt.Errorf("zip record %s: %w", f.Name, err)
	}
	return b, nil
}

// unpickleLegacy loads a pre-1.6 (non-zip) torch.save file with gopickle.
func unpickleLegacy(filename string) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("bad legacy .pth: %v", r)
		}
	}()
	obj, err := pytorch.Load(filename)
	if err != nil {
		return nil, fmt.Errorf("not a zip or legacy PyTorch file: %w", err)
	}
	return obj, nil
}

// stateDict turns the unpickled object into named float32 tensors.
func stateDict(obj any) (map[string]safetensors.Tensor, error) {
	entries, err := dictEntries(obj)
	if err != nil {
		return nil, err
	}
	// Unwrap training checkpoints: {"state_dict": {...}, "epoch": ...}.
	for _, e := range entries {
		if k, _ := e.Key.(string); k == "state_dict" || k == "model" || k == "model_state_dict" {
			if inner, err := dictEntries(e.Value); err == nil {
				entries = inner
				break
			}
		}
	}
	out := map[string]safetensors.Tensor{}
	for _, e := range entries {
		name, ok := e.Key.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %v is not a string", e.Key)
		}
		t, err := toTensor(e.Value)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		out[name] = t
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("state dict holds no tensors")
	}
	return out, nil
}

func dictEntries(obj any) ([]types.DictEntry, error) {
	switch d := obj.(type) {
	case *types.Dict:
		return *d, nil
	case *types.OrderedDict:
		var out []types.DictEntry
		for e := d.List.Front(); e != nil; e = e.Next() {
			oe := e.Value.(*types.OrderedDictEntry)
			out = append(out, types.DictEntry{Key: oe.Key, Value: oe.Value})
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a state dict (dict of tensors), got %T", obj)
}

// toTensor gathers a strided tensor into a dense row-major float32 one.
func toTensor(v any) (safetensors.Tensor, error) {
	tv, err := viewOf(v)
	if err != nil {
		return safetensors.Tensor{}, err
	}
	n, err := tv.check()
	if err != nil {
		return safetensors.Tensor{}, err
	}
	return safetensors.Tensor{Shape: append([]int{}, tv.size...), Data: tv.gather(n)}, nil
}

// tensorView is a strided view of a storage of numel values; at reads the
// storage's value i as float32.
type tensorView struct {
	size, stride  []int
	offset, numel int
	at            func(i int) float32
}

// viewOf reads the view of a tensor loaded from a zip archive (*rawTensor)
// or by gopickle's legacy loader (*pytorch.Tensor).
func viewOf(v any) (tensorView, error) {
	switch t := v.(type) {
	case *rawTensor:
		st := t.st
		at := func(i int) float32 { return st.class.conv(st.data[i*st.class.width:]) }
		return tensorView{size: t.size, stride: t.stride, offset: t.offset, numel: st.numel, at: at}, nil
	case *pytorch.Tensor:
		tv := tensorView{size: t.Size, stride: t.Stride, offset: t.StorageOffset}
		switch s := t.Source.(type) {
		case *pytorch.FloatStorage:
			tv.numel, tv.at = len(s.Data), func(i int) float32 { return s.Data[i] }
		case *pytorch.HalfStorage:
			tv.numel, tv.at = len(s.Data), func(i int) float32 { return s.Data[i] }
		case *pytorch.BFloat16Storage:
			tv.numel, tv.at = len(s.Data), func(i int) float32 { return s.Data[i] }
		case *pytorch.DoubleStorage:
			tv.numel, tv.at = len(s.Data), func(i int) float32 { return float32(s.Data[i]) }
		case *pytorch.LongStorage:
			tv.numel, tv.at = len(s.Data), func(i int) float32 { return float32(s.Data[i]) }
		case *pytorch.IntStorage:
			tv.numel, tv.at = len(s.Data), func(i int) float32 { return float32(s.Data[i]) }
		default:
			return tv, fmt.Errorf("unsupported storage %T", t.Source)
		}
		return tv, nil
	}
	return tensorView{}, fmt.Errorf("not a tensor (%T)", v)
}

// check returns the view's element count after checking that it stays
// inside its storage.
func (tv tensorView) check() (int, error) {
	size, stride, offset := tv.size, tv.stride, tv.offset
	if len(size) != len(stride) {
		return 0, fmt.Errorf("size %v and stride %v differ in rank", size, stride)
	}
	n := 1
	last := offset // highest storage index touched
	for i, d := range size {
		if d < 0 || stride[i] < 0 || (d > 0 && n > math.MaxInt32/d) {
			return 0, fmt.Errorf("bad size %v / stride %v", size, stride)
		}
		n *= d
		if d > 0 {
			if stride[i] > math.MaxInt32/d {
				return 0, fmt.Errorf("bad stride %v", stride)
			}
			last += (d - 1) * stride[i]
		}
	}
	// A view never has more elements than its storage (zero strides aside,
	// which state dicts do not use): this also bounds the allocation in gather.
	if offset < 0 || n > tv.numel || (n > 0 && last >= tv.numel) {
		return 0, fmt.Errorf("view (offset %d, size %v, stride %v) exceeds storage of %d values", offset, size, stride, tv.numel)
	}
	return n, nil
}

// gather copies the view's n values in row-major order.
func (tv tensorView) gather(n int) []float32 {
	data := make([]float32, n)
	idx := make([]int, len(tv.size))
	for i := range data {
		pos := tv.offset
		for k, x := range idx {
			pos += x * tv.stride[k]
		}
		data[i] = tv.at(pos)
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < tv.size[k] {
				break
			}
			idx[k] = 0
		}
	}
	return data
}
