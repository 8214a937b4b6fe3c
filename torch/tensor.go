package torch

/*
#include "shim.h"

// The calling OS thread's scope slot: 0 while the thread holds no open torch.Scope, else the
// index of its entry in the Go-side slot table (scopeSlots). C's thread-local storage is the
// cheapest way for Go to tell OS threads apart: one cgo call (Go has no thread-local storage,
// and gettid is a system call, some twenty times dearer on a virtual machine). A thread that
// starts gets 0, so an id is never inherited from a thread that died.
static __thread int seqtorch_scope_slot;
static int seqtorch_get_scope_slot(void) { return seqtorch_scope_slot; }
static void seqtorch_set_scope_slot(int s) { seqtorch_scope_slot = s; }
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
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
	watched bool // cleanup is attached (written once, before any Close can free the tensor)
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

// Leaked returns how many tensors the garbage collector released because their owner never
// closed them. It is a safety net for finding bugs, not a memory-management strategy.
func Leaked() int64 { return leaked.Load() }

func freeLeaked(h C.st_tensor) {
	leaked.Add(1)
	live.Add(-1)
	C.st_free(h)
}

// newTensor takes ownership of h and registers the tensor with the calling thread's innermost
// open scope. Only tensors outside any scope get the garbage collector's leak net: a scope
// holds its tensors until it closes, so the net could never fire for them (Keep adds it).
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

// watch attaches the leak-counting cleanup to t.
func (t *Tensor) watch() {
	t.cleanup = runtime.AddCleanup(t, freeLeaked, t.h)
	t.watched = true
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
	return &Error{Op: op, Msg: "use of a closed tensor (closed by Close, or by the Scope that owned it)"}
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

// ---- scopes ----

// Scope frees, on Close, every tensor created while it was the innermost open scope of its
// goroutine, except the tensors handed out of it with Keep or Escape.
//
// A scope belongs to the goroutine that opened it. NewScope locks that goroutine to its OS
// thread (runtime.LockOSThread) and Close unlocks it, so each goroutine has a stack of scopes
// of its own: any number of goroutines may open scopes, create and free tensors and run models
// at the same time, and a tensor joins the innermost scope of the goroutine that created it.
// Scopes nest; Close, Keep and Escape must be called on the goroutine that opened the scope
// (elsewhere they panic with *Error and change nothing), and that goroutine must not undo the
// lock with extra runtime.UnlockOSThread calls while the scope is open. A goroutine that ends
// with a scope still open leaks the scope's tensors. While its goroutine blocks (on I/O, a
// channel, a lock), an open scope keeps an OS thread idle, and waking a locked goroutine costs
// a thread switch: open scopes around libtorch work, not around waiting.
//
// Ownership of a tensor created while a scope is open:
//   - by default the scope owns it: Close frees it;
//   - Escape(t) hands it to the enclosing scope (the one that was innermost when this scope
//     was opened), which frees it when it closes: a function can run in a scope of its own and
//     return its result into its caller's scope, as if it had made no scope at all;
//   - Keep(t) (or Unscope(t)) takes it out of every scope: the caller owns it and must Close
//     it (modules own their parameters and optimizers their state this way).
//
// To hand a tensor to another goroutine, take it out of the scope first (Keep, or Escape from
// an outermost scope); the receiver then owns it. Using a tensor after its scope closed panics
// with *Error, on any goroutine; an op racing the Close finishes before the memory is freed.
type Scope struct {
	tensors []*Tensor // the owner goroutine's only
	parent  *Scope
	slot    int32 // the opening thread's entry in scopeSlots
	closed  atomic.Bool
}

// openScopes counts the open scopes of the whole process: while it is 0, creating a tensor
// skips looking up the calling thread's scope.
var openScopes atomic.Int64

// slotTable maps a thread's scope slot (kept in C thread-local storage) to the thread's
// innermost open scope. A slot is taken when a thread opens its outermost scope and given back
// when that scope closes.
type slotTable struct {
	mu     sync.Mutex
	free   []int32
	next   int32 // the lowest slot never handed out (slot 0 means "none")
	chunks [maxSlotChunks]atomic.Pointer[[slotChunkSize]atomic.Pointer[Scope]]
}

const (
	slotChunkBits = 8
	slotChunkSize = 1 << slotChunkBits
	maxSlotChunks = 256 // 65536 goroutines with open scopes at once (Go allows 10000 OS threads by default)
)

var scopeSlots = slotTable{next: 1}

// alloc hands out a free slot; it reports false when all are taken.
func (st *slotTable) alloc() (int32, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if n := len(st.free); n > 0 {
		i := st.free[n-1]
		st.free = st.free[:n-1]
		return i, true
	}
	i := st.next
	c := i >> slotChunkBits
	if c >= maxSlotChunks {
		return 0, false
	}
	if st.chunks[c].Load() == nil {
		st.chunks[c].Store(new([slotChunkSize]atomic.Pointer[Scope]))
	}
	st.next++
	return i, true
}

func (st *slotTable) release(i int32) {
	st.mu.Lock()
	st.free = append(st.free, i)
	st.mu.Unlock()
}

// top is the cell holding slot i's innermost open scope.
func (st *slotTable) top(i int32) *atomic.Pointer[Scope] {
	return &st.chunks[i>>slotChunkBits].Load()[i&(slotChunkSize-1)]
}

// threadSlot returns the calling OS thread's scope slot (0: it holds no open scope).
func threadSlot() int32 { return int32(C.seqtorch_get_scope_slot()) }

// currentScope returns the calling goroutine's innermost open scope, or nil. A goroutine with
// an open scope is locked to its thread, and no other goroutine runs on a locked thread, so
// the thread's scope is the goroutine's.
func currentScope() *Scope {
	if openScopes.Load() == 0 {
		return nil
	}
	if i := threadSlot(); i != 0 {
		return scopeSlots.top(i).Load()
	}
	return nil
}

// NewScope opens a scope and makes it the calling goroutine's innermost one. It locks the
// goroutine to its OS thread until the scope closes.
func NewScope() *Scope {
	runtime.LockOSThread()
	i := threadSlot()
	var parent *Scope
	if i == 0 {
		var ok bool
		if i, ok = scopeSlots.alloc(); !ok {
			runtime.UnlockOSThread()
			panic(&Error{Op: "NewScope", Msg: fmt.Sprintf("more than %d goroutines hold open scopes at once", maxSlotChunks*slotChunkSize-1)})
		}
		C.seqtorch_set_scope_slot(C.int(i))
	} else {
		parent = scopeSlots.top(i).Load()
	}
	s := &Scope{parent: parent, slot: i}
	scopeSlots.top(i).Store(s)
	openScopes.Add(1)
	return s
}

// checkOwner panics unless the calling goroutine opened s (s must be open: a closed scope's
// slot may have passed to another thread).
func (s *Scope) checkOwner(op string) {
	if threadSlot() != s.slot {
		panic(&Error{Op: op, Msg: "the scope belongs to another goroutine: a Scope is closed, and its " +
			"tensors kept or escaped, on the goroutine that opened it (which must not call " +
			"runtime.UnlockOSThread while the scope is open)"})
	}
}

// Keep removes ts from the scope: they survive its Close and the caller owns them and must
// Close them. They do not move to an enclosing scope (Escape does that), so state created
// lazily inside a step (an optimizer's moments, say) can outlive every scope around it.
// Tensors that are not this scope's are left as they are. Call it on s's goroutine.
func (s *Scope) Keep(ts ...*Tensor) {
	for _, t := range ts {
		if t != nil && t.scope.Load() == s {
			s.checkOwner("Scope.Keep")
			unscope(t)
		}
	}
}

// Escape hands t from s to the scope that encloses s (the innermost open one when s was
// opened), so that t survives s's Close and is freed when that scope closes; it returns t.
// With no enclosing scope t leaves scopes altogether, as with Keep, and the caller owns it.
// A tensor that is not s's (nil, closed, created outside s, or already kept) is left as it
// is: it outlives s already. Call it on s's goroutine. Typical use, a function returning its
// result into its caller's scope while every intermediate it made is freed:
//
//	func (m *Model) Forward(x *torch.Tensor) *torch.Tensor {
//		s := torch.NewScope()
//		defer s.Close()
//		h := m.Hidden.Forward(x).Relu() // freed by s.Close
//		return s.Escape(m.Out.Forward(h))
//	}
func (s *Scope) Escape(t *Tensor) *Tensor {
	if t == nil || t.Closed() || t.scope.Load() != s {
		return t
	}
	s.checkOwner("Scope.Escape")
	p := s.parent
	for p != nil && p.closed.Load() {
		p = p.parent
	}
	if p != nil {
		t.scope.Store(p)
		p.tensors = append(p.tensors, t)
	} else {
		unscope(t)
	}
	return t
}

// Unscope takes each tensor out of whatever scope holds it, if any: it survives every
// scope's Close and its owner must Close it. Modules use it for their parameters and
// optimizers for their state, which belong to them and not to the scope that happened to be
// open when they were created. A tensor held by a scope of another goroutine panics.
func Unscope(ts ...*Tensor) {
	for _, t := range ts {
		if t == nil {
			continue
		}
		if s := t.scope.Load(); s != nil {
			s.checkOwner("Unscope")
			unscope(t)
		}
	}
}

// unscope detaches t from its scope and gives it the leak net that tensors outside scopes
// have (see newTensor). The net is attached under a counted use, so that no Close on another
// goroutine frees t meanwhile.
func unscope(t *Tensor) {
	t.scope.Store(nil)
	if _, ok := t.tryAcquire(); ok {
		if !t.watched {
			t.watch()
		}
		t.release()
	}
}

// Close closes the scope's tensors (except kept ones) and any scopes still open inside it,
// and unlocks the goroutine from its OS thread (once per scope closed). It is idempotent.
// Closing an open scope on a goroutine other than the one that opened it panics with *Error
// and closes nothing.
func (s *Scope) Close() {
	if s.closed.Load() {
		return
	}
	s.checkOwner("Scope.Close")
	cell := scopeSlots.top(s.slot)
	top := cell.Load()
	for c := top; c != s; c = c.parent {
		if c == nil { // cannot happen: an open scope is on its thread's stack
			panic(&Error{Op: "Scope.Close", Msg: "internal error: the scope is not on its thread's stack"})
		}
	}
	cell.Store(s.parent)
	// Unwind to s's parent, closing inner scopes that were left open.
	for c := top; ; c = c.parent {
		c.closed.Store(true)
		c.free()
		openScopes.Add(-1)
		runtime.UnlockOSThread()
		if c == s {
			break
		}
	}
	if s.parent == nil {
		C.seqtorch_set_scope_slot(0)
		scopeSlots.release(s.slot)
	}
}

// free releases the scope's own tensors (newest first) with one call into the shim. A tensor
// that an op on another goroutine is reading at this moment is freed when that op returns.
func (s *Scope) free() {
	hs := make([]C.st_tensor, 0, len(s.tensors))
	for i := len(s.tensors) - 1; i >= 0; i-- {
		t := s.tensors[i]
		if t.scope.Load() != s {
			continue
		}
		t.scope.Store(nil)
		if !t.markClosed() {
			continue // closed already, or in use elsewhere: its last use frees it
		}
		if t.watched {
			t.cleanup.Stop()
		}
		hs = append(hs, t.h)
	}
	s.tensors = nil
	if len(hs) > 0 {
		C.st_free_many(&hs[0], C.int(len(hs)))
		live.Add(-int64(len(hs)))
	}
}

// WithScope runs f inside a new scope and closes the scope when f returns or panics.
func WithScope(f func(s *Scope)) {
	s := NewScope()
	defer s.Close()
	f(s)
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

// String describes the tensor's shape, dtype and device (not its values).
func (t *Tensor) String() string {
	if t.Closed() {
		return "Tensor(closed)"
	}
	s := t.Shape()
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return fmt.Sprintf("Tensor[%s](%v, %v)", strings.Join(parts, ", "), t.DType(), t.Device())
}
