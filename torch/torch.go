// Package torch is seqtorch's Go binding to libtorch, PyTorch's C++ core.
//
// It calls a small C shim of our own (csrc/shim.h) over the libtorch C++ API, compiled on its own
// into libseqtorch.so and loaded at run time (see Load); Go never compiles libtorch headers, and
// `go build` needs no libtorch (the Go side links only libc's dl* functions). Build the shim
// once per machine and libtorch:
//
//	go run github.com/seqtorch/seqtorch/torch/cmd/seqtorch setup
//
// (in a seqtorch checkout, `make libtorch` builds it into build/lib). The shim's sources are
// embedded in this package, so setup works from the read-only module cache, and a shim built
// from other sources is refused when loaded.
//
// # Finding libtorch
//
// `make libtorch` and `seqtorch setup` find libtorch the same way (csrc/find-libtorch.sh), in
// this order:
//
//  1. LIBTORCH=/path/to/libtorch: an unpacked official libtorch archive;
//  2. TORCH_PYTHON=python3: the libtorch inside an installed PyTorch (pip, CUDA or not; this is
//     how a CUDA machine is served);
//  3. on Debian/Ubuntu, the distribution packages: libtorch-dev, libopenblas0-pthread,
//     libgloo-dev (for data-parallel training) and python3-torch for the parity scripts —
//     installed automatically when run as root;
//  4. otherwise it stops with a message naming these three ways.
//
// `seqtorch setup` builds into the user cache (~/.cache/seqtorch/shim/<sources>/<libtorch>/,
// under $XDG_CACHE_HOME when set; one to two minutes, with bash, make and g++) and ends with the
// line `seqtorch info` prints:
//
//	libtorch 1.13.0 from debian packages | CUDA: no, 0 device(s) | BLAS: /lib/x86_64-linux-gnu/libopenblas.so.0 | shim: /root/.cache/seqtorch/shim/…/libseqtorch.so
//
// Run again with nothing changed, it only looks for libtorch. To switch a checkout to another
// libtorch, rebuild from scratch:
//
//	rm -rf build && TORCH_PYTHON=python3 make libtorch        # PyTorch installed with pip, CUDA or not
//	rm -rf build && LIBTORCH=$HOME/libtorch make libtorch     # an unpacked libtorch archive
//
// The shim is linked with -Wl,--no-as-needed -ltorch_cuda -lc10_cuda when the libtorch has CUDA
// (without it CUDA silently reports "not available"); the C++11 ABI flag is read from the
// install. Asking for a CUDA device with a CPU-only libtorch gives one line naming the libtorch
// found. How a program finds the shim at run time ($SEQTORCH_LIB, the checkout's build/lib, the
// executable's folder, the user cache, LD_LIBRARY_PATH) is described at Load. Each shim carries
// the hash of the sources it was built from (SourceHash), and a program refuses a shim built
// from other sources — another seqtorch version, or a checkout edited since `make libtorch` —
// with one line saying to rebuild it, never calling into it. Before any shim is set up, the
// first libtorch call stops the program with one line naming the setup command (exit status 1);
// call Load first to get that error (ErrNotLoaded) instead.
//
// Cached test results: `go test` caches a package's result with the files the test opened or
// stat'ed; this package stats the shim it loaded and the libtorch library that shim loaded, so
// rebuilding the shim, or a libtorch replaced at the same path (a package upgrade), invalidates
// cached results. `make libtorch` records the libtorch files' sizes and times and rebuilds the
// shim when they change.
//
// Versions tested:
//
//   - Debian 12's libtorch 1.13.0 (CPU) with python3-torch 1.13: `make libtorch && make test`.
//   - Debian 13's libtorch 2.6.0 (CPU) with python3-torch 2.6: `make compat` (as root) builds a
//     Debian 13 chroot with debootstrap under third_party/compat/ (kept for the next run), runs
//     `make libtorch && make test` inside with the host's Go and module cache (GOPROXY=off), and
//     compiles and links the shim against Debian 13's CUDA build of libtorch 2.6
//     (libtorch-cuda-dev, CUDA 12.4; link only: its cuDNN cannot be installed offline and no
//     GPU is here). It ends with the libtorch line, the package and parity counts and the CUDA
//     link line.
//   - Files written by SaveDict and nn.SaveTorch load with a plain torch.load(path), PyTorch
//     2.6's default weights_only=True included (checked by the parity suite under `make compat`).
//   - Debian 13's libtorch 2.6 runs an LSTM's no-grad CPU forward through oneDNN (3.7.2 there)
//     and gets it wrong — outputs off by up to 0.3 from the LSTM equations, on an AVX-512
//     machine, in Python too (torch.backends.mkldnn.flags(enabled=False) gives the right
//     numbers; GRU, RNN and training are unaffected). `make compat` found it
//     (TestFusedMatchesLibtorch); the shim turns oneDNN off at load (seqtorch uses no other
//     oneDNN kernel) and the reference scripts do too.
//   - CI (.ci/run) runs `make libtorch && make test`, then `make compat` and
//     scripts/library-check.sh (this module served from a file GOPROXY into empty caches: plain
//     `go build`, the one-line failure before setup, a run after it, `go mod verify`).
//
// No CUDA run has been made yet: scripts/gpu-check.sh is the prepared check (see the
// documentation of scripts/bench).
//
// # Ownership and scopes
//
// Every function that returns a *Tensor returns a new tensor owned by the caller. Release it
// with Close, or open a Scope, which closes every tensor its goroutine creates while it is that
// goroutine's innermost open scope, except those handed out of it: s.Escape(t) gives t to the
// enclosing scope (a model's Forward runs in a scope of its own and returns its result into the
// caller's), s.Keep(t) to the caller alone. Modules own their parameters and optimizers their
// state, outside any scope; nn.Close(m) frees a module. Live reports how many tensors are open;
// the tests assert it returns to its starting value (torchtest.CheckLive). A tensor used after
// its scope closed panics with a message naming where the scope was opened.
// `hidden = hn.Detach()` carries a recurrent state to the next batch, freeing the state it
// replaces, with or without a scope per step.
//
// # Memory without scopes
//
// Scopes are the fast path, not a requirement: code may also drop its tensors as Python code
// does — a loop with no scope, no Close and no runtime.LockOSThread — and the garbage collector
// frees them. Go's collector sees a few dozen bytes per handle, not the native memory behind
// it, so the package counts the storage bytes of every tensor outside a scope (p.Grad() handles
// included) and runs the collector itself when they grow by a budget (16 MiB by default:
// SetMemoryBudget, SEQTORCH_MEMORY_BUDGET) beyond what survived the last collection;
// ReadMemStats reports the account. The budget is small so that a training step frees the
// previous step's garbage before its own backward pass, where a scoped loop's memory peaks
// too; collections are paced so that they take at most about a tenth of the time (the budget
// stretches up to 8 times while they would take more, as with a large Go heap). Scopes free a
// step's tensors at once, with no collection.
//
// The shim tunes glibc malloc for a Go program: one arena per CPU (a goroutine calls libtorch
// from whichever OS thread it is on) and a fixed 4 MiB mmap threshold (large tensors freed late
// or on another thread get mappings of their own, returned when freed, instead of fragmenting
// the heap).
//
// Measured with `go run ./scripts/lmbench` (PyTorch's word-language-model loop: embedding 200,
// 2×200 LSTM, vocab 10,000, batch 20×35, Adam, nn.ClipGradNorm, the hidden state detached and
// carried; 3,000 steps in 4 epochs, each style in its own process, no runtime.LockOSThread,
// default threads: 2 libtorch, 2 OpenBLAS; 2-core machine, nothing else running), built from a
// separate module:
//
//	style     epoch  step (ms)  peak RSS (MiB)  end RSS (MiB)  loss
//	unscoped  1      156.6      447             379            5.872
//	unscoped  2      155.7      448             353            5.684
//	unscoped  3      157.4      446             349            5.594
//	unscoped  4      158.7      463             355            5.511
//	scoped    1      149.6      426             322            5.872
//	scoped    2      150.4      443             347            5.684
//	scoped    3      152.3      450             338            5.594
//	scoped    4      152.2      451             354            5.511
//
// Without scopes: peak RSS 1.03× the scoped loop's, step time 1.04×, peak growth from epoch 2
// to 4 +3.4 % (scoped +1.8 %), end RSS 355 MiB against 353 MiB half-way; the losses equal
// epoch by epoch. It ran two collections per step, 3.4 ms each (20 s over the run). With the
// earlier 64 MiB budget the same run peaked at 1.46× (597–629 MiB) and grew 13 % from epoch 2
// to 4; with the budget stretched on single intervals between collections (two collections
// within one step read as "collecting too often"), at up to 1.7× on a loaded machine. Before
// the accounting (Debian libtorch 1.13's defaults, 200 steps) the scope-less loop reached 9.8
// GB without a single collection, and with glibc's default mmap threshold (arenas capped) the
// scoped loop reached 1.1 GB within 750 steps.
//
// # From PyTorch to Go
//
// A training loop (Example_trainingLoop in package nn, without scopes, and
// Example_trainingLoopScoped, with one per step):
//
//	PyTorch                                      Go
//	torch.set_num_threads(n)                     torch.SetNumThreads(n) (OpenBLAS follows)
//	self.decoder.weight = self.encoder.weight    nn.TieWeights(&m.Decoder.Weight, m.Encoder.Weight)
//	optimizer = torch.optim.Adam(params, lr=lr)  opt, err := optim.NewAdam(nn.Parameters(m), optim.AdamOptions{LR: &lr})
//	model.zero_grad()                            nn.ZeroGrad(m)
//	output, hidden = model(data, hidden)         output, hn := m.Forward(data, hidden)
//	hidden = repackage_hidden(hidden)            hidden = hn.Detach()
//	loss = criterion(output, targets)            loss := nn.CrossEntropyLoss(output, targets, nn.CrossEntropyOptions{})
//	loss.backward()                              loss.Backward()
//	clip_grad_norm_(params, clip)                nn.ClipGradNorm(params, clip) (nn.ClipGradValue: clip_grad_value_)
//	optimizer.step()                             opt.Step()
//	total_loss += loss.item()                    total += loss.Item()
//	with torch.no_grad(): ...                    torch.NoGrad(func() { ... })
//	torch.save(model.state_dict(), path)         nn.SaveTorch(path, m) (whole-model pickles are refused)
//
// No runtime.LockOSThread is needed: NewScope and NoGrad lock the goroutine to its thread
// while they need it. For the fast path, open a scope at the top of the step and close it at
// the end (`s := torch.NewScope(); ...; s.Close()`): what the step made is freed at once,
// hn.Detach carries the recurrent state out of it, and the model and optimizer own theirs.
//
// # Errors
//
// One contract, PyTorch's. Tensor and module code panics with a *Error, as PyTorch raises: an
// op that libtorch rejects (a shape mismatch, say) panics with libtorch's message, and so do
// the modules' forwards and the torch/nn utilities (RNN, LSTM and GRU forwards, packing and
// padding of sequences) when an input is invalid, with a message naming the operation
// (Error.Op) and what was wrong (Error.Msg). Model code is therefore straight-line: no error
// results between layers. Functions that touch files, devices or configuration (loading a shim
// or a state dict, parsing a device, setting the thread count) return an error instead, as
// does anything a user's input can make fail for reasons other than a bug in the calling code.
// Run is the boundary between the two: a training step, a server's batched forward pass or a
// command's run goes through it, which runs the function in a Scope (so a failure half-way
// leaks no tensors; Unscope what must outlive it) and returns a *Error panic as an error; other
// panics are bugs and propagate. Try does the same without the scope. C++ exceptions never
// cross into Go.
//
// # Goroutines and threads
//
// Any number of goroutines may use the package at once: each opens its own scopes, creates
// and frees tensors and runs models (inference on a shared model, or training of separate
// models), with the results of running alone. A Scope belongs to the goroutine that opened it:
// NewScope locks the goroutine to its OS thread (runtime.LockOSThread) and Close unlocks it,
// and a tensor joins the innermost scope of the goroutine that creates it (a goroutine started
// inside a scope, a subtest included, is outside it; to hand a tensor to another goroutine,
// Keep it out of the scope first). libtorch's grad mode is per OS thread, so it follows the
// goroutine while the thread is locked: NoGrad locks it for its duration and restores the
// mode, and SetGradEnabled belongs inside a Scope or runtime.LockOSThread. A model's parameters
// may be read by many goroutines at once; training runs one goroutine per model. Tensors may
// be read from several goroutines at once and closed from any; an op racing a Close finishes
// before the memory is freed. Misuse that cannot be made safe panics with *Error and never
// reaches freed memory: a scope closed (or its tensors kept or escaped) on another goroutine
// than its own, a tensor used after it or its scope closed. Random ops draw from libtorch's
// default generator, shared by all goroutines: concurrent random draws (dropout in training,
// say) interleave in no fixed order.
//
// Threads follow PyTorch: libtorch's intra-op threads default to the physical cores the
// process may run on (NumThreads is 2 on a 2-core machine; Debian's libtorch 1.13 started a Go
// process at 1), and SetNumThreads(n) sets OpenBLAS's count with libtorch's, as PyTorch's does
// for MKL; OMP_NUM_THREADS and OPENBLAS_NUM_THREADS take precedence. libtorch calls BLAS from
// the calling thread, outside its OpenMP regions, so the pools take turns rather than nest,
// except where the fused RNN kernel splits a large product over libtorch's inter-op pool (one
// BLAS call per part, each then asking OpenBLAS for N threads); and both spin after their work.
// On the language-model benchmark (scripts/lmbench), OpenBLAS at 2 threads took 1.2–1.6× the
// CPU time per step of OpenBLAS at 1 (much of it system time, OpenBLAS's workers yielding), and
// the wall-clock difference was within a shared 2-core machine's noise. The Makefile therefore
// exports OPENBLAS_NUM_THREADS=1: the project's tests, commands and benchmarks run BLAS on one
// thread.
//
// # The ATen surface
//
// Beyond the hand-written ops (the ones the two studies use, tuned: Add, Matmul, LogSoftmax,
// the in-place updates, ...), every ATen operator of the loaded libtorch is callable:
//
//   - Call(op, args...) calls any operator by schema name, "aten::topk" or
//     "aten::add.Tensor", through libtorch's dispatcher (autograd, in-place semantics and device
//     dispatch are libtorch's), with Go values for arguments and results; an operator added
//     to libtorch after this package was written works the same way.
//   - Typed wrappers, generated from the operator schemas of libtorch 1.13 and 2.6
//     (aten_gen.go, `go generate ./torch`; package atenops indexes them), call the same path:
//     methods of *Tensor for operators whose first argument is `Tensor self`
//     (x.Topk(k, dim, largest, sorted)), functions otherwise (Hstack(tensors)). Each
//     takes every schema argument in order (Go has no defaults: pass the schema's, shown in
//     the wrapper's doc, or use Call, which fills trailing ones). Types: Tensor and Tensor? are
//     *Tensor (nil is None); int, SymInt int64; int?, float?, bool?, ScalarType?, Layout?,
//     Device?, MemoryFormat?, str? pointers (nil is None); int[] and SymInt[] []int64 (nil is
//     None where optional); Scalar any (an int64, int, float64, float32 or bool: an int keeps
//     an integer tensor integer, as in Python); Generator? arguments are left out (libtorch's
//     default generator). Results are new tensors owned by the caller, except that an
//     in-place op (x.AbsInPlace()) and an out= variant return the tensor they wrote.
//   - Names: the CamelCase of the ATen name (log_softmax → LogSoftmax); a trailing underscore,
//     PyTorch's in-place mark, becomes the suffix InPlace; an out= variant adds its overload
//     name (aten::topk.values → TopkValues, aten::add.out → AddOut); when a name has several
//     other overloads, each but the default adds its own (aten::add.Tensor → AddTensor,
//     aten::add_.Scalar → AddScalarInPlace). Left out, and reachable only through Call:
//     operators whose name starts with "_" (libtorch internals), named-tensor (Dimname)
//     overloads, operators with argument types Go has no value for (Storage, Stream, str[]),
//     and names the hand-written API already has (Add, Matmul, LogSoftmax, ...: their
//     hand-written versions stay, being as fast or faster); torch/internal/atengen/skipped.txt
//     lists each with its reason.
//   - An operator the loaded libtorch lacks (a wrapper generated from 2.6's schemas, run on
//     1.13), an unknown overload, a wrong argument count or type panics with *Error naming
//     the operator and its schema.
//   - In-place ops follow PyTorch's autograd rules: recorded when grad mode is on, refused on a
//     leaf that requires grad (update parameters inside NoGrad, as the optimizers do).
//
// Tensors print as PyTorch prints them: fmt.Println(x) gives tensor([3.0000, 2.7500]). The
// parity suite (scripts/parity) runs the generated operators against PyTorch; scripts/bench's
// documentation has their cost against the hand-written ops.
//
// The C shim's own functions are not public API: from another module, libtorch is reached
// through this package's methods and functions, and anything they do not cover through Call.
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
