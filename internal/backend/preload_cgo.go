//go:build cgo

package backend

// #cgo LDFLAGS: -ldl
// #include <dlfcn.h>
// #include <stdlib.h>
import "C"

import (
	"path/filepath"
	"regexp"
	"runtime"
	"unsafe"
)

// nvidiaLibs are the NVIDIA libraries XLA opens by soname, in jax's preload
// order (jax_plugins/xla_cuda*/__init__.py): loading them first by absolute
// path makes XLA's later dlopen("libcublas.so.13") find them without
// LD_LIBRARY_PATH, which the dynamic loader only reads at process start.
var nvidiaLibs = []string{"cudart", "nvrtc", "nvJitLink", "cublasLt", "cublas", "nccl", "cupti", "cusparse", "cusolver", "cufft", "nvshmem_host", "cudnn"}

// preloadNVIDIA dlopens the nvidiaLibs found in dirs and returns the ones
// that failed, with the loader's reason. Failures are not fatal here (jax
// ignores them too): XLA may not need that library.
func preloadNVIDIA(dirs []string) (failed []string) {
	for _, lib := range nvidiaLibs {
		re := regexp.MustCompile(`^lib` + regexp.QuoteMeta(lib) + `\.so\.\d+$`)
		for _, dir := range dirs {
			m, _ := filepath.Glob(filepath.Join(dir, "lib"+lib+".so.*"))
			for _, path := range m {
				if !re.MatchString(filepath.Base(path)) {
					continue
				}
				if msg := dlopen(path); msg != "" {
					failed = append(failed, msg)
				}
			}
		}
	}
	return failed
}

// dlopen loads a library for good (it is never closed) and returns the
// loader's error message, "" on success.
func dlopen(path string) string {
	runtime.LockOSThread() // dlerror is per thread
	defer runtime.UnlockOSThread()
	c := C.CString(path)
	defer C.free(unsafe.Pointer(c))
	if C.dlopen(c, C.RTLD_NOW|C.RTLD_LOCAL) == nil {
		return C.GoString(C.dlerror())
	}
	return ""
}
