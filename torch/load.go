package torch

/*
#cgo CFLAGS: -D_GNU_SOURCE
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include "shim.h"

const char *st__bind(void *lib);
typedef const char *(*st__abi_fn)(void);
static const char *st__abi_of(void *lib) {
	st__abi_fn f = (st__abi_fn)dlsym(lib, "st_abi");
	return f == NULL ? NULL : f();
}
// st__path_of names the file lib was loaded from (NULL if unknown).
static const char *st__path_of(void *lib) {
	Dl_info info;
	void *sym = dlsym(lib, "st_abi");
	if (sym == NULL || dladdr(sym, &info) == 0) return NULL;
	return info.dli_fname;
}
*/
import "C"

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

//go:generate go run ./internal/stubgen -header csrc/shim.h -out shim_stubs.c
//go:generate go run ./internal/atengen -index atenops/ops_gen.go

// csrc holds the shim's sources and build rules, so that Setup can build the shim from a
// read-only module cache, or from a binary carried to another machine.
//
//go:embed csrc
var csrc embed.FS

// LibName is the file name of seqtorch's C shim library.
const LibName = "libseqtorch.so"

// SetupCommand is the command that builds the shim for a module that uses seqtorch.
const SetupCommand = "go run github.com/seqtorch/seqtorch/torch/cmd/seqtorch setup"

// ErrNotLoaded marks the error Load returns when no usable shim library was found.
var ErrNotLoaded = errors.New("the seqtorch shim (" + LibName + ") is not set up")

// SourceHash returns the identity of the shim sources this package was built with: sha256 over
// the output of `sha256sum` for csrc's *.h and *.cpp files in name order (shim.mk computes the
// same and compiles it into the shim, which st_abi reports).
func SourceHash() string { return sourceHash() }

var sourceHash = sync.OnceValue(func() string {
	entries, err := fs.ReadDir(csrc, "csrc")
	if err != nil {
		panic("torch: embedded sources: " + err.Error())
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".h") || strings.HasSuffix(n, ".cpp")) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var list strings.Builder
	for _, n := range names {
		b, err := csrc.ReadFile(path.Join("csrc", n))
		if err != nil {
			panic("torch: embedded sources: " + err.Error())
		}
		fmt.Fprintf(&list, "%x  %s\n", sha256.Sum256(b), n)
	}
	sum := sha256.Sum256([]byte(list.String()))
	return hex.EncodeToString(sum[:])
})

// LoadInfo describes the shim library that Load loaded.
type LoadInfo struct {
	Path         string // the shim library file
	TorchSource  string // how its libtorch was found when it was built ("debian packages", ...)
	TorchLibrary string // the libtorch library file the process loaded
}

var loaded struct {
	once sync.Once
	err  error
	info LoadInfo
}

// Load finds and loads the shim library, once per process; later calls return the first
// result. Every libtorch call loads it implicitly, and if that fails, prints the reason and
// the setup command on standard error and exits with status 1. Call Load first to handle the
// error instead (commands do, to print it their way).
//
// Candidates, in order (the first that loads and carries this package's SourceHash wins):
//  1. $SEQTORCH_LIB: a library file, or a folder holding libseqtorch.so (nothing else is tried);
//  2. build/lib of the seqtorch checkout this package was compiled from (`make libtorch`);
//  3. the running executable's folder (binaries carried to another machine with their shim);
//  4. the user cache that `seqtorch setup` fills (os.UserCacheDir()/seqtorch/shim);
//  5. the dynamic loader's own search path (LD_LIBRARY_PATH, ldconfig).
//
// A library built from other seqtorch sources is refused (see SourceHash), never called.
func Load() error {
	loaded.once.Do(func() { loaded.info, loaded.err = load() })
	return loaded.err
}

// Loaded returns what Load loaded, loading the shim first if no call has yet; ok is false
// when loading failed.
func Loaded() (info LoadInfo, ok bool) {
	if Load() != nil {
		return LoadInfo{}, false
	}
	return loaded.info, true
}

//export seqtorchEnsureLoaded
func seqtorchEnsureLoaded() {
	if err := Load(); err != nil {
		fmt.Fprintln(os.Stderr, "seqtorch:", err)
		os.Exit(1)
	}
}

type candidate struct {
	path     string
	explicit bool // named by the user: its failure is final
	bare     bool // a bare name for the dynamic loader's search
}

func load() (LoadInfo, error) {
	var reasons []string
	for _, c := range candidates() {
		if !c.bare {
			if _, err := os.Stat(c.path); err != nil {
				if c.explicit {
					return LoadInfo{}, notLoaded(fmt.Sprintf("SEQTORCH_LIB: %v", err))
				}
				continue
			}
		}
		info, err := open(c.path)
		if err == nil {
			return info, nil
		}
		if c.explicit {
			return LoadInfo{}, notLoaded("SEQTORCH_LIB: " + err.Error())
		}
		if c.bare && strings.Contains(err.Error(), "cannot open shared object file") {
			continue // not on the loader's path: nothing to report
		}
		reasons = append(reasons, err.Error())
	}
	why := "no " + LibName + " found"
	if len(reasons) > 0 {
		why = strings.Join(reasons, "; ")
	}
	return LoadInfo{}, notLoaded(why)
}

func notLoaded(why string) error {
	return fmt.Errorf("%w (%s): build it with `%s` (in a seqtorch checkout: make libtorch)",
		ErrNotLoaded, why, SetupCommand)
}

// candidates lists where Load looks, in order.
func candidates() []candidate {
	if p, ok := os.LookupEnv("SEQTORCH_LIB"); ok && p != "" {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, LibName)
		}
		return []candidate{{path: p, explicit: true}}
	}
	var cs []candidate
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		cs = append(cs, candidate{path: filepath.Join(filepath.Dir(file), "..", "build", "lib", LibName)})
	}
	if exe, err := os.Executable(); err == nil {
		cs = append(cs, candidate{path: filepath.Join(filepath.Dir(exe), LibName)})
	}
	if dir, err := CacheDir(); err == nil {
		if sel, err := os.ReadFile(filepath.Join(dir, "selected")); err == nil {
			cs = append(cs, candidate{path: filepath.Join(strings.TrimSpace(string(sel)), LibName)})
		}
	}
	return append(cs, candidate{path: LibName, bare: true})
}

// CacheDir is the folder for shims built from this package's sources by Setup:
// os.UserCacheDir()/seqtorch/shim/<first 16 hex digits of SourceHash>. Each libtorch gets a
// subfolder; the file "selected" names the one the last Setup chose.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("torch: user cache folder: %w", err)
	}
	return filepath.Join(base, "seqtorch", "shim", SourceHash()[:16]), nil
}

// open loads the library at p, checks its identity and binds every shim function.
func open(p string) (LoadInfo, error) {
	cp := C.CString(p)
	defer C.free(unsafe.Pointer(cp))
	// RTLD_GLOBAL: the shim looks libtorch's BLAS up by name (openblas_set_num_threads).
	lib := C.dlopen(cp, C.RTLD_NOW|C.RTLD_GLOBAL)
	if lib == nil {
		return LoadInfo{}, errors.New(firstLine(C.GoString(C.dlerror()))) // dlerror names p
	}
	abi := C.st__abi_of(lib)
	if abi == nil {
		C.dlclose(lib)
		return LoadInfo{}, fmt.Errorf("%s is not a seqtorch shim of this version (no st_abi): rebuild it", p)
	}
	if got, want := C.GoString(abi), SourceHash(); got != want {
		C.dlclose(lib)
		return LoadInfo{}, fmt.Errorf("%s was built from other seqtorch sources (shim %.12s, this program %.12s): rebuild it", p, got, want)
	}
	if missing := C.st__bind(lib); missing != nil {
		C.dlclose(lib)
		return LoadInfo{}, fmt.Errorf("%s lacks %s: rebuild it", p, C.GoString(missing))
	}
	if err := checkErr("init", C.st_init()); err != nil {
		return LoadInfo{}, fmt.Errorf("%s: %w", p, err)
	}
	var src, torchLib *C.char
	if err := checkErr("build_origin", C.st_build_origin(&src, &torchLib)); err != nil {
		return LoadInfo{}, fmt.Errorf("%s: %w", p, err)
	}
	info := LoadInfo{Path: p, TorchSource: C.GoString(src), TorchLibrary: C.GoString(torchLib)}
	C.st_free_err(src)
	C.st_free_err(torchLib)
	if where := C.st__path_of(lib); where != nil {
		info.Path = C.GoString(where)
	}
	// Tell `go test` which files its results depend on: it records the files a test stats, so
	// a rebuilt shim or a replaced libtorch invalidates cached test results.
	for _, f := range []string{info.Path, info.TorchLibrary} {
		_, _ = os.Stat(f)
	}
	return info, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
