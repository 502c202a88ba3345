package weights

import (
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"testing"
)

func FuzzParseTFJS(f *testing.F) {
	f.Add([]byte(`{"weightsManifest":[{"paths":["s"],"weights":[{"name":"conv1/kernel","shape":[2],"dtype":"float32"}]}]}`), []byte("12345678"))
	f.Add([]byte(`{"weightsManifest":[{"paths":["s","t"],"weights":[{"name":"x","shape":[1,1],"dtype":"int32"},{"name":"y","shape":[],"dtype":"float32"}]}]}`), []byte("abcdefgh"))
	f.Add([]byte(`{"weightsManifest":[{"paths":[],"weights":[{"name":"x","shape":[0],"dtype":"float32"}]}]}`), []byte{})
	f.Fuzz(func(t *testing.T, modelJSON, shard []byte) {
		ts, err := parseTFJS(modelJSON, func(string) ([]byte, error) { return shard, nil })
		if err != nil {
			return
		}
		for name, tensor := range ts {
			if tensor.NumElements() != len(tensor.Data) {
				t.Fatalf("%s: shape %v with %d values", name, tensor.Shape, len(tensor.Data))
			}
		}
		// Renaming must never panic either.
		_, _ = renameKeras(ts)
	})
}

func FuzzParsePth(f *testing.F) {
	data, err := os.ReadFile("testdata/tiny.pth")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := parsePth(data)
		if err != nil {
			return
		}
		for name, tensor := range ts {
			if tensor.NumElements() != len(tensor.Data) {
				t.Fatalf("%s: shape %v with %d values", name, tensor.Shape, len(tensor.Data))
			}
		}
		_, _ = renameTorch(ts)
	})
}

func FuzzParseLabels(f *testing.F) {
	f.Add([]byte(`{"0":"tench","1":"goldfish"}`))
	f.Add([]byte(`["a","b"]`))
	f.Add([]byte(`{"1":"b","0":"a","2":"c"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		labels, err := parseLabels(data)
		if err != nil {
			return
		}
		// Accepted labels read back the same as a JSON list and as a {"0": name} object.
		list, err := json.Marshal(labels)
		if err != nil {
			t.Fatal(err)
		}
		obj := map[string]string{}
		for i, l := range labels {
			obj[strconv.Itoa(i)] = l
		}
		objJSON, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, enc := range [][]byte{list, objJSON} {
			again, err := parseLabels(enc)
			if err != nil {
				t.Fatalf("%s: %v", enc, err)
			}
			if len(labels) == 0 && len(again) == 0 {
				continue
			}
			if !reflect.DeepEqual(labels, again) {
				t.Fatalf("%s read back as %q, want %q", enc, again, labels)
			}
		}
	})
}
