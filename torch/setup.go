package torch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// SetupOptions configures Setup.
type SetupOptions struct {
	// Force rebuilds the shim even when the cache already holds one for this libtorch.
	Force bool
	// Stdout and Stderr receive the build's progress and the compiler's messages (nil: discard).
	Stdout, Stderr io.Writer
}

// Setup builds the shim library for the libtorch found on this machine, from the sources
// embedded in this package, into CacheDir()/<libtorch key>/, and records it as the one Load
// picks from the cache. It returns the library's path.
//
// libtorch is found as `make libtorch` finds it (csrc/find-libtorch.sh): $LIBTORCH (an unpacked
// libtorch archive), $TORCH_PYTHON (the libtorch inside an installed PyTorch), or Debian's
// packages (installed when run as root). The build needs bash, make and a C++17 compiler (g++);
// the key covers the shim's sources and the libtorch's location, version and files, so a
// second Setup with nothing changed only re-runs discovery.
func Setup(ctx context.Context, opts SetupOptions) (string, error) {
	stdout, stderr := orDiscard(opts.Stdout), orDiscard(opts.Stderr)
	for _, tool := range []string{"bash", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("setup: %s is needed to build the shim: %w", tool, err)
		}
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	removeStale(dir)
	work, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	defer os.RemoveAll(work)
	if err := unpackSources(filepath.Join(work, "torch")); err != nil {
		return "", err
	}

	find := exec.CommandContext(ctx, "bash", "torch/csrc/find-libtorch.sh", "build/libtorch.mk")
	find.Dir, find.Stdout, find.Stderr = work, stdout, stderr
	find.Env = append(os.Environ(), "ST_SETUP_NAME=seqtorch setup")
	if err := find.Run(); err != nil {
		return "", fmt.Errorf("setup: finding libtorch failed (%v); see the message above", err)
	}
	mk, err := os.ReadFile(filepath.Join(work, "build", "libtorch.mk"))
	if err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	sum := sha256.Sum256(mk)
	dest := filepath.Join(dir, hex.EncodeToString(sum[:8]))
	lib := filepath.Join(dest, LibName)

	if _, err := os.Stat(lib); err != nil || opts.Force {
		fmt.Fprintf(stdout, "seqtorch setup: building %s for %s (a minute or two)\n", LibName, mkValue(mk, "TORCH_SOURCE"))
		jobs := min(runtime.NumCPU(), 3) // each compiler process takes ~1.5 GB
		build := exec.CommandContext(ctx, "make", "-s", "--no-print-directory", fmt.Sprintf("-j%d", jobs),
			"-f", "torch/csrc/shim.mk", "BUILD=build", "build/lib/"+LibName)
		build.Dir, build.Stdout, build.Stderr = work, stdout, stderr
		if err := build.Run(); err != nil {
			return "", fmt.Errorf("setup: compiling the shim failed (%v); see the compiler's message above", err)
		}
		if err := install(dest, filepath.Join(work, "build")); err != nil {
			return "", err
		}
	}
	if err := writeFileAtomic(filepath.Join(dir, "selected"), []byte(dest+"\n")); err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	return lib, nil
}

// unpackSources writes the embedded csrc folder to dst/csrc.
func unpackSources(dst string) error {
	err := fs.WalkDir(csrc, "csrc", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out := filepath.Join(dst, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := csrc.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("setup: unpacking the shim's sources: %w", err)
	}
	return nil
}

// install moves the built library and its libtorch record into dest, replacing what was there.
func install(dest, build string) error {
	tmp := dest + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	for _, f := range []string{filepath.Join("lib", LibName), "libtorch.mk"} {
		if err := os.Rename(filepath.Join(build, f), filepath.Join(tmp, filepath.Base(f))); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	if err := os.RemoveAll(dest); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

// removeStale deletes build folders that a killed Setup left behind (older than an hour).
func removeStale(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, ".build-") && !strings.HasPrefix(n, ".tmp-") && !strings.HasSuffix(n, ".tmp") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

func writeFileAtomic(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), name)
}

// mkValue returns the value of `NAME := value` in a make fragment.
func mkValue(mk []byte, name string) string {
	for _, l := range strings.Split(string(mk), "\n") {
		if v, ok := strings.CutPrefix(l, name+" := "); ok {
			return v
		}
	}
	return "?"
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Summary is the one-line description of the loaded libtorch that `make libtorch` and
// `seqtorch info` print: version, where it came from, CUDA, BLAS and the shim's path.
func Summary() (string, error) {
	if err := Load(); err != nil {
		return "", err
	}
	info, _ := Loaded()
	cuda := "no"
	if CUDABuild() {
		cuda = "yes"
	}
	return fmt.Sprintf("libtorch %s from %s | CUDA: %s, %d device(s) | BLAS: %s | shim: %s",
		Version(), info.TorchSource, cuda, CUDADeviceCount(), BLAS(), info.Path), nil
}
