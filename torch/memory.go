package torch

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// Native memory and the garbage collector.
//
// Python frees a tensor the moment its last reference goes; Go's collector frees a Tensor
// handle some time after it becomes unreachable, and it paces itself by the Go heap, where a
// handle weighs a few dozen bytes whatever native memory it holds. A loop that never closes
// its tensors would therefore let libtorch's memory grow by gigabytes between collections.
// So the package keeps its own account: every tensor outside a scope (made outside one, or
// taken out by Keep, Escape from an outermost scope, or Unscope) is counted with the bytes of
// the storage behind it, and when the counted bytes exceed a goal the creating goroutine runs
// runtime.GC, whose cleanups free the unreachable tensors. The goal follows what survives,
// as GOGC does for the Go heap: what was still held at the low point since the previous
// collection (parameters, optimizer state, tensors in use), plus the budget
// (SetMemoryBudget, or the SEQTORCH_MEMORY_BUDGET environment variable). Tensors in scopes
// are never counted: a scope frees them when it closes, with no collector involved.
//
// The count sees the storage of the tensors the program holds, not what libtorch keeps
// behind them (the autograd graph's saved activations, a kernel's workspace), and garbage
// freed a collection late costs its share of the peak: so the budget is small (16 MiB), and a
// training step whose outputs and gradients pass it frees the previous step's garbage before
// its own backward pass, near where a scoped loop's memory peaks. Collections are paced: when
// the last eight took more than a tenth of the time they spanned (a large Go heap makes each
// one slow, or the steps make garbage fast), the budget doubles, up to 8 times the one set,
// and it halves back when they are rare again. (Paced on single intervals instead, two
// collections close together within one step stretched the budget in scripts/lmbench, and
// the peak rose from 1.03 to up to 1.7 times the scoped loop's.) A collection of a small Go
// heap takes a few milliseconds (3.4 ms in scripts/lmbench on a 2-core machine, twice per
// step there).
//
// Tensors freed by the collector are freed a step or so late and in no particular order,
// interleaved with new allocations; the shim sets glibc malloc's mmap threshold to a fixed
// 4 MiB when it loads (st_init), so that large tensors get mappings of their own, returned to
// the system when freed, instead of fragmenting the heap.

// defaultMemoryBudget is the default growth of unscoped native memory between collections.
const defaultMemoryBudget = 16 << 20

// Pacing of the collections (see collect): the budget in use doubles while the last
// gcWindow collections took more than 1/gcMaxShare of the time they spanned, halves back
// while they took less than 1/(4·gcMaxShare), and stays between the budget set and
// gcMaxStretch times it.
const (
	gcMaxShare   = 10
	gcMaxStretch = 8
	gcWindow     = 8
)

var (
	nativeBytes atomic.Int64 // storage bytes counted for live unscoped tensors
	lowBytes    atomic.Int64 // the least nativeBytes since the last collection
	gcGoal      atomic.Int64 // collect when nativeBytes exceeds it
	gcBudget    atomic.Int64 // SetMemoryBudget
	gcPaced     atomic.Int64 // the budget in use: gcBudget, stretched while collections are frequent
	gcRunning   atomic.Bool
	gcForced    atomic.Int64 // collections run for native memory
	gcTime      atomic.Int64 // nanoseconds spent in them
)

func init() {
	budget := int64(defaultMemoryBudget)
	if v := os.Getenv("SEQTORCH_MEMORY_BUDGET"); v != "" {
		if b, ok := parseBytes(v); ok {
			budget = max(b, 1<<20)
		} else {
			fmt.Fprintf(os.Stderr, "seqtorch: ignoring SEQTORCH_MEMORY_BUDGET=%q: want bytes, e.g. 67108864 or 64MiB\n", v)
		}
	}
	gcBudget.Store(budget)
	gcPaced.Store(budget)
	gcGoal.Store(budget)
}

// parseBytes reads "123", "64KiB", "64MiB" or "2GiB".
func parseBytes(v string) (int64, bool) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

// MemStats describes the native memory of tensors outside scopes, as the package accounts it.
type MemStats struct {
	// UnscopedBytes is the storage of live tensors outside every scope: created outside one
	// or taken out by Keep, Escape or Unscope (parameters, optimizer state, and tensors that
	// scope-less code has not closed). Views count their whole storage, so tensors sharing
	// one are counted once each.
	UnscopedBytes int64
	// GoalBytes is the UnscopedBytes at which the next collection runs.
	GoalBytes int64
	// Collections counts the garbage collections the package ran for native memory, and
	// CollectionTime is the time the goroutines that ran them waited for them.
	Collections    int64
	CollectionTime time.Duration
	// Collected counts the tensors the garbage collector freed because they became
	// unreachable while open (see Leaked).
	Collected int64
}

// ReadMemStats returns the package's native-memory accounting.
func ReadMemStats() MemStats {
	return MemStats{
		UnscopedBytes:  nativeBytes.Load(),
		GoalBytes:      gcGoal.Load(),
		Collections:    gcForced.Load(),
		CollectionTime: time.Duration(gcTime.Load()),
		Collected:      leaked.Load(),
	}
}

// SetMemoryBudget sets how far the native memory of unscoped tensors may grow beyond what
// survived the previous collection before the package runs the garbage collector, and returns
// the previous budget. The default is 64 MiB, or the SEQTORCH_MEMORY_BUDGET environment
// variable's value (bytes, or with a KiB, MiB or GiB suffix). A smaller budget bounds memory
// more tightly at the cost of more collections; a budget below 1 MiB is taken as 1 MiB.
// While collections take more than a tenth of the time, the package stretches the budget
// (up to 8 times this one) and shrinks it back when they are rare (ReadMemStats's GoalBytes
// shows the goal in use). Code that closes its tensors, or runs its steps in scopes, never
// reaches the goal.
func SetMemoryBudget(bytes int64) int64 {
	bytes = max(bytes, 1<<20)
	prev := gcBudget.Swap(bytes)
	gcPaced.Store(bytes)
	gcGoal.Store(nextGoal(lowBytes.Load()))
	return prev
}

// nextGoal is the collection goal when survivors bytes survived a collection.
func nextGoal(survivors int64) int64 {
	return survivors + gcPaced.Load()
}

// gcHistory is the start and duration of the last gcWindow collections, a ring written by
// the one goroutine collecting at a time (gcRunning).
var gcHistory struct {
	start [gcWindow]time.Time
	took  [gcWindow]time.Duration
	n     int // collections recorded
}

// pace records a collection that started at start and took took, and adjusts the budget in
// use by the share of time the last gcWindow collections took. It runs only while gcRunning.
func pace(start time.Time, took time.Duration) {
	h := &gcHistory
	h.start[h.n%gcWindow], h.took[h.n%gcWindow] = start, took
	h.n++
	if h.n < gcWindow {
		return
	}
	var sum time.Duration
	for _, d := range h.took {
		sum += d
	}
	span := start.Add(took).Sub(h.start[h.n%gcWindow]) // from the oldest start to this end
	base, paced := gcBudget.Load(), gcPaced.Load()
	switch {
	case span < gcMaxShare*sum:
		paced = min(2*paced, gcMaxStretch*base)
	case span > 4*gcMaxShare*sum:
		paced = max(paced/2, base)
	}
	gcPaced.Store(paced)
}

// storageBytes returns how many bytes h's storage held when the shim made the handle (the
// handle's header, read without a call into the shim).
func storageBytes(h C.st_tensor) int64 {
	return int64((*C.st_tensor_head)(unsafe.Pointer(h)).nbytes)
}

// account counts n more unscoped bytes and collects when the goal is passed.
func account(n int64) {
	if n == 0 {
		return
	}
	if nativeBytes.Add(n) > gcGoal.Load() {
		collect()
	}
}

// unaccount counts n unscoped bytes freed.
func unaccount(n int64) {
	if n == 0 {
		return
	}
	v := nativeBytes.Add(-n)
	for {
		low := lowBytes.Load()
		if v >= low || lowBytes.CompareAndSwap(low, v) {
			return
		}
	}
}

// collect runs the garbage collector for native memory, one goroutine at a time (others go
// on: the running collection frees their garbage too). The tensors it finds unreachable are
// freed by their cleanups, which run on the runtime's cleanup goroutine right after.
func collect() {
	if !gcRunning.CompareAndSwap(false, true) {
		return
	}
	defer gcRunning.Store(false)
	// The low point since the previous collection is what that collection left alive: the
	// survivors that set the next goal.
	survivors := lowBytes.Swap(nativeBytes.Load())
	start := time.Now()
	runtime.GC()
	end := time.Now()
	took := end.Sub(start)
	gcTime.Add(int64(took))
	gcForced.Add(1)
	pace(start, took)
	gcGoal.Store(nextGoal(survivors))
}
