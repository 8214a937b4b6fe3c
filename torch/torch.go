// Package torch is seqtorch's Go binding to libtorch, PyTorch's C++ core.
//
// It calls a small C shim of our own (csrc/shim.h) over the libtorch C++ API, compiled on its own
// into libseqtorch.so and loaded at run time (see Load); Go never compiles libtorch headers, and
// `go build` needs no libtorch. Build the shim once per machine and libtorch:
//
//	go run github.com/seqtorch/seqtorch/torch/cmd/seqtorch setup
//
// (in a seqtorch checkout, `make libtorch` builds it into build/lib). The shim's sources are
// embedded in this package, so setup works from the read-only module cache, and a shim built
// from other sources is refused when loaded.
//
// Ownership: every function that returns a *Tensor returns a new tensor owned by the caller.
// Release it with Close, or open a Scope, which closes every tensor its goroutine creates while
// it is that goroutine's innermost open scope, except those passed to Keep or Escape. Live
// reports how many tensors are open.
//
// Errors: one contract, PyTorch's. Tensor and module code panics with a *Error, as PyTorch
// raises: an op that libtorch rejects (a shape mismatch, say) panics with libtorch's message,
// and so do the modules' forwards and the torch/nn utilities (RNN, LSTM and GRU forwards,
// packing and padding of sequences) when an input is invalid, with a message naming the
// operation (Error.Op) and what was wrong (Error.Msg). Model code is therefore straight-line:
// no error results between layers. Functions that touch files, devices or configuration
// (loading a shim or a state dict, parsing a device, setting the thread count) return an error
// instead, as does anything a user's input can make fail for reasons other than a bug in the
// calling code. Run is the boundary between the two: a training step, a server's batched
// forward pass or a command's run goes through it, which runs the function in a Scope (so a
// failure half-way leaks no tensors) and returns a *Error panic as an error; other panics are
// bugs and propagate. Try does the same without the scope.
//
// Threads: any number of goroutines may use the package at once: each opens its own scopes,
// creates and frees tensors and runs models (inference on a shared model, or training of
// separate models), with the results of running alone. A Scope belongs to the goroutine that
// opened it: NewScope locks the goroutine to its OS thread (runtime.LockOSThread) and Close
// unlocks it, and a tensor joins the innermost scope of the goroutine that creates it (a
// goroutine started inside a scope, a subtest included, is outside it). libtorch's grad mode is
// per OS thread, so it follows the goroutine while the thread is locked: NoGrad locks it for
// its duration and restores the mode, and SetGradEnabled belongs inside a Scope or
// runtime.LockOSThread. Tensors may be read from several goroutines at once and closed from
// any; an op racing a Close finishes before the memory is freed. Misuse that cannot be made
// safe panics with *Error and never reaches freed memory: a scope closed (or its tensors kept
// or escaped) on another goroutine than its own, a tensor used after it or its scope closed.
// Random ops draw from libtorch's default generator, shared by all goroutines: concurrent
// random draws (dropout in training, say) interleave in no fixed order.
package torch

/*
#cgo CFLAGS: -I${SRCDIR}/csrc
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// Error is a failure reported by libtorch, with libtorch's own message.
type Error struct {
	Op  string // the seqtorch operation that failed, e.g. "Matmul"
	Msg string // libtorch's message
}

// Error returns the first line of libtorch's message (libtorch appends long dispatcher tables
// to some messages; Msg keeps them all).
func (e *Error) Error() string {
	msg, _, _ := strings.Cut(e.Msg, "\n")
	return "torch: " + e.Op + ": " + strings.TrimSpace(msg)
}

// check converts a shim error into a panic with *Error.
func check(op string, e C.st_err) {
	if e != nil {
		panic(newError(op, e))
	}
}

// checkErr converts a shim error into a returned error.
func checkErr(op string, e C.st_err) error {
	if e != nil {
		return newError(op, e)
	}
	return nil
}

func newError(op string, e C.st_err) *Error {
	msg := strings.TrimSpace(C.GoString(e))
	C.st_free_err(e)
	return &Error{Op: op, Msg: msg}
}

// Try runs f and returns the *Error it panicked with (unwrapped, if f panicked with an error
// wrapping one), if any. Other panics propagate. It opens no scope: at a boundary that creates
// tensors, use Run, which also frees what f created.
func Try(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			var te *Error
			if e, ok := r.(error); ok && errors.As(e, &te) {
				err = te
				return
			}
			panic(r)
		}
	}()
	f()
	return nil
}

// Version is the version of the libtorch the shim was built against, e.g. "1.13.0".
func Version() string {
	v, _ := buildInfo()
	return v
}

// BLAS names the shared library that provides BLAS in this process.
func BLAS() string {
	_, f := buildInfo()
	return f.blas
}

// CUDABuild reports whether the shim was linked against a CUDA-enabled libtorch.
func CUDABuild() bool {
	_, f := buildInfo()
	return f.cuda
}

var buildInfo = sync.OnceValues(func() (string, buildFacts) {
	v, c, b := readBuildInfo()
	return v, buildFacts{cuda: c, blas: b}
})

type buildFacts struct {
	cuda bool
	blas string
}

func readBuildInfo() (version string, cuda bool, blas string) {
	var v, b *C.char
	var c C.int
	check("BuildInfo", C.st_build_info(&v, &c, &b))
	defer C.st_free_err(v)
	defer C.st_free_err(b)
	return C.GoString(v), c != 0, C.GoString(b)
}

// ManualSeed seeds libtorch's default generators (CPU and CUDA), as torch.manual_seed.
func ManualSeed(seed uint64) { check("ManualSeed", C.st_manual_seed(C.uint64_t(seed))) }

// SetNumThreads sets the number of threads libtorch uses for intra-op parallelism, as
// torch.set_num_threads, and OpenBLAS's thread count with it when the process uses OpenBLAS
// (PyTorch's set_num_threads does the same for MKL). The default, set when the shim loads, is
// PyTorch's: the physical cores of the CPUs the process may run on, unless OMP_NUM_THREADS or
// MKL_NUM_THREADS says otherwise; OpenBLAS gets the same count unless OPENBLAS_NUM_THREADS
// set its own. The setting is process-wide.
func SetNumThreads(n int) error {
	if n < 1 {
		return fmt.Errorf("torch: SetNumThreads: want a positive thread count, got %d", n)
	}
	return checkErr("SetNumThreads", C.st_set_num_threads(C.int(n)))
}

// NumThreads returns libtorch's intra-op thread count, as torch.get_num_threads.
func NumThreads() int {
	var n C.int
	check("NumThreads", C.st_get_num_threads(&n))
	return int(n)
}

// BLASThreads returns OpenBLAS's thread count, or 0 when the process's BLAS is not OpenBLAS
// (see BLAS).
func BLASThreads() int {
	var n C.int
	check("BLASThreads", C.st_blas_num_threads(&n))
	return max(int(n), 0)
}

// CUDADeviceCount returns the number of CUDA devices libtorch sees (0 without CUDA).
func CUDADeviceCount() int {
	var n C.int
	check("CUDADeviceCount", C.st_cuda_device_count(&n))
	return int(n)
}

// CUDAAvailable reports whether at least one CUDA device can be used.
func CUDAAvailable() bool { return CUDADeviceCount() > 0 }

// int64Ptr returns a C pointer to s's first element, or nil for an empty slice.
func int64Ptr(s []int64) *C.int64_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&s[0]))
}

func handlesPtr(hs []C.st_tensor) *C.st_tensor {
	if len(hs) == 0 {
		return nil
	}
	return &hs[0]
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
