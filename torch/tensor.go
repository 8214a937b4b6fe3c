package torch

/*
#include "shim.h"
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
// Close is safe on both.
type Tensor struct {
	h       C.st_tensor
	scope   *Scope
	cleanup runtime.Cleanup
	watched bool // cleanup is attached
}

var (
	live   atomic.Int64
	leaked atomic.Int64
)

// Live returns the number of tensors created and not yet closed (including leaked tensors that
// the garbage collector has not yet found).
func Live() int64 { return live.Load() }

// Leaked returns how many tensors the garbage collector released because their owner never
// closed them. It is a safety net for finding bugs, not a memory-management strategy.
func Leaked() int64 { return leaked.Load() }

func freeLeaked(h C.st_tensor) {
	leaked.Add(1)
	live.Add(-1)
	C.st_free(h)
}

// newTensor takes ownership of h and registers the tensor with the innermost open scope.
// Only tensors outside any scope get the garbage collector's leak net: a scope holds its
// tensors until it closes, so the net could never fire for them (Keep adds it).
func newTensor(h C.st_tensor) *Tensor {
	t := &Tensor{h: h}
	live.Add(1)
	if !scopes.register(t) {
		t.watch()
	}
	return t
}

// watch attaches the leak-counting cleanup to t.
func (t *Tensor) watch() {
	t.cleanup = runtime.AddCleanup(t, freeLeaked, t.h)
	t.watched = true
}

// Close releases the tensor's native memory. It is idempotent and safe on nil.
func (t *Tensor) Close() {
	if t == nil || t.h == nil {
		return
	}
	if t.watched {
		t.cleanup.Stop()
	}
	C.st_free(t.h)
	t.h = nil
	t.scope = nil
	live.Add(-1)
}

// Closed reports whether t is nil or has been closed.
func (t *Tensor) Closed() bool { return t == nil || t.h == nil }

func (t *Tensor) handle(op string) C.st_tensor {
	if t == nil || t.h == nil {
		panic(&Error{Op: op, Msg: "use of a nil or closed tensor"})
	}
	return t.h
}

// optHandle returns nil for a nil tensor (an absent optional argument).
func optHandle(op string, t *Tensor) C.st_tensor {
	if t == nil {
		return nil
	}
	return t.handle(op)
}

// unary runs a shim function with one tensor result.
func unary(op string, f func(out *C.st_tensor) C.st_err) *Tensor {
	var out C.st_tensor
	check(op, f(&out))
	return newTensor(out)
}

// ---- scopes ----

// Scope frees, on Close, every tensor created while it was the innermost open scope, except
// the tensors handed out of it with Keep or Escape. Scopes nest; open and close them on one
// goroutine.
//
// Ownership of a tensor created while a scope is open:
//   - by default the scope owns it: Close frees it;
//   - Escape(t) hands it to the enclosing scope (the one that was innermost when this scope
//     was opened), which frees it when it closes: a function can run in a scope of its own and
//     return its result into its caller's scope, as if it had made no scope at all;
//   - Keep(t) (or Unscope(t)) takes it out of every scope: the caller owns it and must Close
//     it (modules own their parameters and optimizers their state this way).
type Scope struct {
	tensors []*Tensor
	parent  *Scope
	closed  bool
}

type scopeStack struct {
	mu  sync.Mutex
	top *Scope
}

var scopes scopeStack

// register adds t to the innermost open scope and reports whether there was one.
func (s *scopeStack) register(t *Tensor) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.top == nil {
		return false
	}
	t.scope = s.top
	s.top.tensors = append(s.top.tensors, t)
	return true
}

// NewScope opens a scope and makes it the innermost one.
func NewScope() *Scope {
	scopes.mu.Lock()
	defer scopes.mu.Unlock()
	s := &Scope{parent: scopes.top}
	scopes.top = s
	return s
}

// Keep removes ts from the scope: they survive its Close and the caller owns them and must
// Close them. They do not move to an enclosing scope (Escape does that), so state created
// lazily inside a step (an optimizer's moments, say) can outlive every scope around it.
// Tensors that are not this scope's are left as they are.
func (s *Scope) Keep(ts ...*Tensor) {
	for _, t := range ts {
		if t != nil && t.scope == s {
			unscope(t)
		}
	}
}

// Escape hands t from s to the scope that encloses s (the innermost open one when s was
// opened), so that t survives s's Close and is freed when that scope closes; it returns t.
// With no enclosing scope t leaves scopes altogether, as with Keep, and the caller owns it.
// A tensor that is not s's (nil, closed, created outside s, or already kept) is left as it
// is: it outlives s already. Typical use, a function returning its result into its caller's
// scope while every intermediate it made is freed:
//
//	func (m *Model) Forward(x *torch.Tensor) *torch.Tensor {
//		s := torch.NewScope()
//		defer s.Close()
//		h := m.Hidden.Forward(x).Relu() // freed by s.Close
//		return s.Escape(m.Out.Forward(h))
//	}
func (s *Scope) Escape(t *Tensor) *Tensor {
	if t == nil || t.h == nil || t.scope != s {
		return t
	}
	scopes.mu.Lock()
	p := s.parent
	for p != nil && p.closed {
		p = p.parent
	}
	if p != nil {
		t.scope = p
		p.tensors = append(p.tensors, t)
	}
	scopes.mu.Unlock()
	if p == nil {
		unscope(t)
	}
	return t
}

// Unscope takes each tensor out of whatever scope holds it, if any: it survives every
// scope's Close and its owner must Close it. Modules use it for their parameters and
// optimizers for their state, which belong to them and not to the scope that happened to be
// open when they were created.
func Unscope(ts ...*Tensor) {
	for _, t := range ts {
		if t != nil && t.scope != nil {
			unscope(t)
		}
	}
}

// unscope detaches t from its scope and gives it the leak net that tensors outside scopes
// have (see newTensor).
func unscope(t *Tensor) {
	t.scope = nil
	if !t.watched && t.h != nil {
		t.watch()
	}
}

// Close closes the scope's tensors (except kept ones) and any scopes still open inside it.
// It is idempotent.
func (s *Scope) Close() {
	scopes.mu.Lock()
	if s.closed {
		scopes.mu.Unlock()
		return
	}
	// Unwind to s's parent, closing inner scopes that were left open.
	var toClose []*Scope
	for c := scopes.top; c != nil; c = c.parent {
		toClose = append(toClose, c)
		if c == s {
			break
		}
	}
	if len(toClose) == 0 || toClose[len(toClose)-1] != s {
		toClose = []*Scope{s} // s is not on the stack (already unwound by an outer scope)
	} else {
		scopes.top = s.parent
	}
	scopes.mu.Unlock()
	for _, c := range toClose {
		c.closed = true
		c.free()
	}
}

// free releases the scope's own tensors (newest first) with one call into the shim.
func (s *Scope) free() {
	hs := make([]C.st_tensor, 0, len(s.tensors))
	for i := len(s.tensors) - 1; i >= 0; i-- {
		t := s.tensors[i]
		if t.scope != s || t.h == nil {
			continue
		}
		if t.watched {
			t.cleanup.Stop()
		}
		hs = append(hs, t.h)
		t.h, t.scope = nil, nil
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
	check(op, C.st_copy_data(t.handle(op), p, C.int64_t(int64(len(out))*int64(unsafe.Sizeof(zero)))))
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
	var v C.double
	check("Item", C.st_item(t.handle("Item"), &v))
	return float64(v)
}

// Dim returns the number of dimensions.
func (t *Tensor) Dim() int {
	var n C.int
	check("Dim", C.st_ndim(t.handle("Dim"), &n))
	return int(n)
}

// Shape returns the sizes of the dimensions.
func (t *Tensor) Shape() []int64 {
	n := t.Dim()
	s := make([]int64, n)
	check("Shape", C.st_shape(t.h, int64Ptr(s), C.int(n)))
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
	var c C.int
	check("DType", C.st_dtype(t.handle("DType"), &c))
	return dtypeFromCode(int(c))
}

// Device returns the device holding the tensor.
func (t *Tensor) Device() Device {
	var typ, idx C.int
	check("Device", C.st_device(t.handle("Device"), &typ, &idx))
	return Device{Type: DeviceType(typ), Index: int(idx)}
}

// To returns a copy of t on device d (t itself is unchanged; a new tensor is always returned).
func (t *Tensor) To(d Device) *Tensor {
	if d.IsCUDA() && !CUDABuild() {
		panic(&Error{Op: "To", Msg: fmt.Sprintf("device %v: libtorch %s has no CUDA support", d, Version())})
	}
	return unary("To", func(out *C.st_tensor) C.st_err {
		return C.st_to(t.handle("To"), C.int(d.Type), C.int(d.Index), -1, out)
	})
}

// ToDType returns t converted to dtype dt.
func (t *Tensor) ToDType(dt DType) *Tensor {
	d := t.Device()
	return unary("ToDType", func(out *C.st_tensor) C.st_err {
		return C.st_to(t.h, C.int(d.Type), C.int(d.Index), C.int(dt.code()), out)
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
