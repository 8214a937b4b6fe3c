package torch

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Tensor is an owned handle to a libtorch tensor. The zero value and nil are invalid for ops;
// Close is safe on both. A tensor may be read by several goroutines at once (a model's
// parameters, say) and closed by any goroutine; an op that starts after Close panics, and one
// already running when Close is called finishes first: the native memory is freed when the
// last running op returns.
type Tensor struct {
	h       C.st_tensor           // set at creation, never changed; passed to C only while a use is counted
	state   atomic.Int64          // tensorClosed bit | tensorUse × calls reading h
	scope   atomic.Pointer[Scope] // the open scope that owns the tensor, or nil
	cleanup runtime.Cleanup
	watched bool  // cleanup is attached (written once, before any Close can free the tensor)
	nbytes  int64 // storage bytes counted in the unscoped account while watched (see memory.go)
	// closedBy is the scope whose Close freed the tensor, for the message of a use after it.
	closedBy atomic.Pointer[Scope]
}

const (
	tensorClosed = 1 // state bit: Close was called (or the owning scope closed)
	tensorUse    = 2 // state unit: one call into the shim is reading the handle
)

var (
	live   atomic.Int64
	leaked atomic.Int64
)

// Live returns the number of tensors created and not yet freed (including leaked tensors that
// the garbage collector has not yet found). A tensor closed while an op on another goroutine
// is still reading it counts until that op returns.
func Live() int64 { return live.Load() }

// Leaked returns how many tensors the garbage collector freed because they became unreachable
// while open: nobody closed them and no scope held them. In code written without scopes, as
// PyTorch code is, that is how tensors are freed (see ReadMemStats and the package
// documentation); in code that closes its tensors or uses scopes, a growing count points at a
// tensor someone forgot.
func Leaked() int64 { return leaked.Load() }

// leakedTensor is what the cleanup of an unscoped tensor needs to free it (not the Tensor
// itself, which must become unreachable for the cleanup to run).
type leakedTensor struct {
	h      C.st_tensor
	nbytes int64
}

func freeLeaked(l leakedTensor) {
	leaked.Add(1)
	live.Add(-1)
	C.st_free(l.h)
	unaccount(l.nbytes)
}

// newTensor takes ownership of h and registers the tensor with the calling thread's innermost
// open scope. Only tensors outside any scope are left to the garbage collector, counted with
// their storage's bytes (see memory.go): a scope holds its tensors until it closes, so the
// collector could never free them (Keep and Unscope add them).
func newTensor(h C.st_tensor) *Tensor {
	t := &Tensor{h: h}
	live.Add(1)
	if s := currentScope(); s != nil {
		t.scope.Store(s)
		s.tensors = append(s.tensors, t)
	} else {
		t.watch()
	}
	return t
}

// watch attaches the cleanup that frees t once unreachable, and counts its storage in the
// unscoped account (which may run a collection).
func (t *Tensor) watch() {
	t.nbytes = storageBytes(t.h)
	t.cleanup = runtime.AddCleanup(t, freeLeaked, leakedTensor{t.h, t.nbytes})
	t.watched = true
	account(t.nbytes)
}

// Close releases the tensor's native memory. It is idempotent, safe on nil, and safe to call
// from any goroutine: if an op on another goroutine is reading t at that moment, the memory is
// freed when that op returns, and ops started afterwards panic.
func (t *Tensor) Close() {
	if t != nil && t.h != nil && t.markClosed() {
		t.free()
	}
}

// Closed reports whether t is nil, the zero Tensor, or closed.
func (t *Tensor) Closed() bool { return t == nil || t.h == nil || t.state.Load()&tensorClosed != 0 }

// ClosedBy describes the Scope that closed t, "the Scope opened at FILE:LINE (FUNCTION)",
// or returns "" when t is open, nil, or was closed otherwise (by Close).
func (t *Tensor) ClosedBy() string {
	if t == nil || !t.Closed() {
		return ""
	}
	if s := t.closedBy.Load(); s != nil {
		return "the Scope opened at " + s.openedAt()
	}
	return ""
}

// markClosed sets t's closed bit. It reports whether the caller must free t now: t was open
// and no op was reading it (otherwise the last such op frees it in release).
func (t *Tensor) markClosed() bool {
	for {
		s := t.state.Load()
		if s&tensorClosed != 0 {
			return false
		}
		if t.state.CompareAndSwap(s, s|tensorClosed) {
			return s == 0
		}
	}
}

// free releases t's native memory; it runs once, when t is closed and no op reads it.
func (t *Tensor) free() {
	if t.watched {
		t.cleanup.Stop()
		unaccount(t.nbytes)
	}
	C.st_free(t.h)
	live.Add(-1)
}

// acquire returns t's handle for one call into the shim and counts the use: until the
// matching release no Close, on any goroutine, can free the handle, so a freed handle never
// reaches C. It panics with *Error on a nil, zero or closed tensor. Callers pair it with a
// deferred release:
//
//	h := t.acquire(op)
//	defer t.release()
func (t *Tensor) acquire(op string) C.st_tensor {
	if h, ok := t.tryAcquire(); ok {
		return h
	}
	panic(useError(op, t))
}

// acquireOpt is acquire for an optional argument: nil stays nil (release is nil-safe).
func (t *Tensor) acquireOpt(op string) C.st_tensor {
	if t == nil {
		return nil
	}
	return t.acquire(op)
}

func (t *Tensor) tryAcquire() (C.st_tensor, bool) {
	if t == nil || t.h == nil {
		return nil, false
	}
	for {
		s := t.state.Load()
		if s&tensorClosed != 0 {
			return nil, false
		}
		if t.state.CompareAndSwap(s, s+tensorUse) {
			return t.h, true
		}
	}
}

// release ends a use counted by acquire, freeing t if it was closed meanwhile and this was its
// last use. It is a no-op on nil (an absent optional argument).
func (t *Tensor) release() {
	if t != nil && t.state.Add(-tensorUse) == tensorClosed {
		t.free()
	}
}

func useError(op string, t *Tensor) *Error {
	if t == nil || t.h == nil {
		return &Error{Op: op, Msg: "use of a nil or closed tensor"}
	}
	if s := t.closedBy.Load(); s != nil {
		return &Error{Op: op, Msg: "use of a closed tensor: the Scope opened at " + s.openedAt() +
			" freed it when it closed (take what must outlive a scope out of it with Keep or Escape," +
			" or, for a recurrent state carried to the next batch, nn.State.Detach)"}
	}
	return &Error{Op: op, Msg: "use of a closed tensor (closed by Close, or by a function that consumes its argument, such as nn.State.Detach)"}
}

// acquireAll acquires every tensor of ts (nil tensors are rejected); on a failure it releases
// the ones it acquired before panicking. Pair it with a deferred releaseAll(ts).
func acquireAll(op string, ts []*Tensor) []C.st_tensor {
	hs := make([]C.st_tensor, len(ts))
	for i, t := range ts {
		h, ok := t.tryAcquire()
		if !ok {
			releaseAll(ts[:i])
			panic(useError(op, t))
		}
		hs[i] = h
	}
	return hs
}

func releaseAll(ts []*Tensor) {
	for _, t := range ts {
		t.release()
	}
}

// do1 runs f on t's handle (t counted in use meanwhile, see acquire), panicking on its error.
func (t *Tensor) do1(op string, f func(a C.st_tensor) C.st_err) {
	h := t.acquire(op)
	defer t.release()
	check(op, f(h))
}

// do2 is do1 for a shim function of two tensors.
func (t *Tensor) do2(op string, o *Tensor, f func(a, b C.st_tensor) C.st_err) {
	ha := t.acquire(op)
	defer t.release()
	hb := o.acquire(op)
	defer o.release()
	check(op, f(ha, hb))
}

// unary runs a shim function with one tensor result.
func unary(op string, f func(out *C.st_tensor) C.st_err) *Tensor {
	var out C.st_tensor
	check(op, f(&out))
	return newTensor(out)
}

// ---- creation from Go data and back ----

// Elem is the set of Go element types a tensor can be built from.
type Elem interface {
	~float32 | ~float64 | ~int64 | ~bool
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// FromSlice copies data into a new CPU tensor of the given shape (a 1-D tensor of len(data)
// when no shape is given). Its dtype follows the element type: float32, float64, int64, bool.
func FromSlice[T Elem](data []T, shape ...int64) *Tensor {
	var dt DType
	var zero T
	switch any(zero).(type) {
	case float32:
		dt = Float32
	case float64:
		dt = Float64
	case int64:
		dt = Int64
	case bool:
		dt = Bool
	}
	if len(shape) == 0 {
		shape = []int64{int64(len(data))}
	}
	for _, d := range shape {
		if d < 0 {
			panic(&Error{Op: "FromSlice", Msg: fmt.Sprintf("negative dimension in shape %v", shape)})
		}
	}
	if n := numel(shape); n != int64(len(data)) {
		panic(&Error{Op: "FromSlice", Msg: fmt.Sprintf("shape %v holds %d elements, data has %d", shape, n, len(data))})
	}
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	return unary("FromSlice", func(out *C.st_tensor) C.st_err {
		return C.st_from_data(p, int64Ptr(shape), C.int(len(shape)), C.int(dt.code()), out)
	})
}

// Scalar returns a 0-dim tensor holding v (float32 unless an option says otherwise).
func Scalar(v float64, opts ...Option) *Tensor { return Full(nil, v, opts...) }

func copyOut[T Elem](t *Tensor, op string, want DType) []T {
	if got := t.DType(); got != want {
		panic(&Error{Op: op, Msg: fmt.Sprintf("tensor has dtype %v, want %v (convert with ToDType)", got, want)})
	}
	out := make([]T, t.Numel())
	var p unsafe.Pointer
	if len(out) > 0 {
		p = unsafe.Pointer(&out[0])
	}
	var zero T
	h := t.acquire(op)
	defer t.release()
	check(op, C.st_copy_data(h, p, C.int64_t(int64(len(out))*int64(unsafe.Sizeof(zero)))))
	return out
}

// Float32s copies a float32 tensor's elements (row-major, from any device) into a new slice.
func (t *Tensor) Float32s() []float32 { return copyOut[float32](t, "Float32s", Float32) }

// Float64s copies a float64 tensor's elements into a new slice.
func (t *Tensor) Float64s() []float64 { return copyOut[float64](t, "Float64s", Float64) }

// Int64s copies an int64 tensor's elements into a new slice.
func (t *Tensor) Int64s() []int64 { return copyOut[int64](t, "Int64s", Int64) }

// Bools copies a bool tensor's elements into a new slice.
func (t *Tensor) Bools() []bool { return copyOut[bool](t, "Bools", Bool) }

// Item returns the value of a one-element tensor as float64 (as tensor.item()).
func (t *Tensor) Item() float64 {
	h := t.acquire("Item")
	defer t.release()
	var v C.double
	check("Item", C.st_item(h, &v))
	return float64(v)
}

// Dim returns the number of dimensions.
func (t *Tensor) Dim() int {
	h := t.acquire("Dim")
	defer t.release()
	var n C.int
	check("Dim", C.st_ndim(h, &n))
	return int(n)
}

// Shape returns the sizes of the dimensions.
func (t *Tensor) Shape() []int64 {
	h := t.acquire("Shape")
	defer t.release()
	var n C.int
	check("Shape", C.st_ndim(h, &n))
	s := make([]int64, int(n))
	check("Shape", C.st_shape(h, int64Ptr(s), n))
	return s
}

// Size returns the size of dimension d (negative d counts from the end).
func (t *Tensor) Size(d int) int64 {
	s := t.Shape()
	if d < 0 {
		d += len(s)
	}
	if d < 0 || d >= len(s) {
		panic(&Error{Op: "Size", Msg: fmt.Sprintf("dimension %d out of range for a %d-dim tensor", d, len(s))})
	}
	return s[d]
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int64 { return numel(t.Shape()) }

// DType returns the element type.
func (t *Tensor) DType() DType {
	h := t.acquire("DType")
	defer t.release()
	var c C.int
	check("DType", C.st_dtype(h, &c))
	return dtypeFromCode(int(c))
}

// Device returns the device holding the tensor.
func (t *Tensor) Device() Device {
	h := t.acquire("Device")
	defer t.release()
	var typ, idx C.int
	check("Device", C.st_device(h, &typ, &idx))
	return Device{Type: DeviceType(typ), Index: int(idx)}
}

// To returns a copy of t on device d (t itself is unchanged; a new tensor is always returned).
func (t *Tensor) To(d Device) *Tensor {
	if d.IsCUDA() && !CUDABuild() {
		panic(&Error{Op: "To", Msg: fmt.Sprintf("device %v: libtorch %s has no CUDA support", d, Version())})
	}
	return t.apply1("To", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_to(a, C.int(d.Type), C.int(d.Index), -1, out)
	})
}

// ToDType returns t converted to dtype dt.
func (t *Tensor) ToDType(dt DType) *Tensor {
	return t.apply1("ToDType", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		var typ, idx C.int
		if e := C.st_device(a, &typ, &idx); e != nil {
			return e
		}
		return C.st_to(a, typ, idx, C.int(dt.code()), out)
	})
}
