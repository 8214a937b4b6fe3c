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
	"sync"
	"sync/atomic"
)

// Scope frees, on Close, every tensor created while it was the innermost open scope of its
// goroutine, except the tensors handed out of it with Keep or Escape.
//
// Scopes are an optimization, not a requirement: tensors created outside every scope are
// freed by Close or, once unreachable, by the garbage collector, which the package runs when
// their native memory passes a budget (see ReadMemStats). A scope frees a step's tensors at
// once instead, and a use of a tensor after its scope closed panics with a message naming
// where the scope was opened.
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
	slot    int32      // the opening thread's entry in scopeSlots
	pcs     [2]uintptr // NewScope's caller and its caller, for messages (openedAt)
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
	runtime.Callers(2, s.pcs[:])
	scopeSlots.top(i).Store(s)
	openScopes.Add(1)
	return s
}

// openedAt returns "file:line (function)" of the NewScope call that opened s (WithScope's
// caller for a WithScope scope).
func (s *Scope) openedAt() string {
	frames := runtime.CallersFrames(s.pcs[:])
	for {
		f, more := frames.Next()
		if f.Function != "github.com/seqtorch/seqtorch/torch.WithScope" && f.PC != 0 {
			return fmt.Sprintf("%s:%d (%s)", f.File, f.Line, f.Function)
		}
		if !more {
			return "an unknown place"
		}
	}
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
	unlocks := 0
	for c := top; ; c = c.parent {
		c.closed.Store(true)
		c.free()
		openScopes.Add(-1)
		unlocks++
		if c == s {
			break
		}
	}
	// The thread gives its slot back before the goroutine unlocks it: once unlocked, the
	// goroutine may move to another thread, and the slot must not stay in this thread's
	// storage after another thread has taken it from the free list.
	if s.parent == nil {
		C.seqtorch_set_scope_slot(0)
		scopeSlots.release(s.slot)
	}
	for range unlocks {
		runtime.UnlockOSThread()
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
		if t.state.Load()&tensorClosed == 0 {
			t.closedBy.Store(s)
		}
		if !t.markClosed() {
			continue // closed already, or in use elsewhere: its last use frees it
		}
		if t.watched {
			t.cleanup.Stop()
			unaccount(t.nbytes)
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
