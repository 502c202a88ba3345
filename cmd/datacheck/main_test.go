package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gocls/gocls/dataset"
)

func pngBytes(t *testing.T, w, h int, transparent bool) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	if !transparent {
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

func grayPNG(t *testing.T) []byte {
	img := image.NewGray(image.Rect(0, 0, 5, 5))
	img.SetGray(1, 1, color.Gray{200})
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

func fixture(t *testing.T, files map[string][]byte, list string) string {
	dir := t.TempDir()
	for n, d := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), d, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "list.txt"), []byte(list), 0o644))
	return dir
}

func TestRun(t *testing.T) {
	good := map[string][]byte{"a/0.jpg": pngBytes(t, 6, 4, false), "a/1.jpg": pngBytes(t, 3, 3, true), "a/2.jpg": grayPNG(t)}
	bad := map[string][]byte{"a/0.jpg": pngBytes(t, 6, 4, false), "a/1.jpg": {}, "a/2.jpg": []byte("GIF89a trunc")}
	tests := []struct {
		name      string
		files     map[string][]byte
		list      string
		args      []string
		code      int
		usable    int
		unusable  int
		converted int
		outHas    []string
	}{
		{"all usable", good, "a/0.jpg\t0\na/1.jpg\t1\na/2.jpg\t1\n", nil, 0, 3, 0, 2, []string{"converted from RGBA", "class counts: [1 2]"}},
		{"classes flag warns", good, "a/0.jpg\t0\n", []string{"-classes", "3"}, 0, 1, 0, 0, []string{"class 1 has no images"}},
		{"corrupt files", bad, "a/0.jpg\t0\na/1.jpg\t0\na/2.jpg\t0\n", nil, 1, 1, 2, 0, []string{"UNUSABLE", "empty file"}},
		{"list problems", good, "a/0.jpg\t0\na/9.jpg\t0\na/1.jpg\tx\n", nil, 1, 1, 2, 0, []string{"list.txt:2: missing image file", "list.txt:3: label \"x\""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t, tc.files, tc.list)
			out := t.TempDir()
			reportPath, plotPath := filepath.Join(out, "r.json"), filepath.Join(out, "c.png")
			args := append([]string{"-list", filepath.Join(dir, "list.txt"), "-report", reportPath, "-plot", plotPath}, tc.args...)
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			for _, s := range tc.outHas {
				require.Contains(t, stdout.String(), s)
			}
			var rep dataset.Report
			data, err := os.ReadFile(reportPath)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &rep))
			require.Equal(t, tc.usable, rep.Usable)
			require.Equal(t, tc.unusable, rep.Unusable)
			require.Equal(t, tc.converted, rep.Converted)
			for _, f := range rep.Files {
				if f.Usable() {
					require.NotEmpty(t, f.Format)
					require.NotZero(t, f.Width)
				}
			}
			f, err := os.Open(plotPath)
			require.NoError(t, err)
			defer f.Close()
			cfg, err := png.DecodeConfig(f)
			require.NoError(t, err)
			require.Greater(t, cfg.Width, 100)
		})
	}
}

func TestRunBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no list", nil, 2, "-list is required"},
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"positional", []string{"-list", "x", "extra"}, 2, "no positional"},
		{"negative classes", []string{"-list", "x", "-classes", "-1"}, 2, "-classes"},
		{"missing list", []string{"-list", "/nonexistent/list.txt"}, 1, "/nonexistent/list.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.code, run(tc.args, &stdout, &stderr))
			require.True(t, strings.Contains(stderr.String(), tc.want), stderr.String())
		})
	}
	// An unwritable report is an error too.
	dir := fixture(t, map[string][]byte{"0.png": pngBytes(t, 2, 2, false)}, "0.png\t0\n")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-list", filepath.Join(dir, "list.txt"), "-report", filepath.Join(dir, "no", "r.json")}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "writing report")
}
