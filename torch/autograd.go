package torch

/*
#include "shim.h"
*/
import "C"

import "runtime"

// SetRequiresGrad sets whether autograd records operations on t, and returns t.
func (t *Tensor) SetRequiresGrad(b bool) *Tensor {
	t.do1("SetRequiresGrad", func(h C.st_tensor) C.st_err { return C.st_set_requires_grad(h, cbool(b)) })
	return t
}

// RequiresGrad reports whether autograd records operations on t.
func (t *Tensor) RequiresGrad() bool {
	var r C.int
	t.do1("RequiresGrad", func(h C.st_tensor) C.st_err { return C.st_requires_grad(h, &r) })
	return r != 0
}

// Backward computes gradients of t (a scalar) with respect to the graph's leaves.
func (t *Tensor) Backward() { t.BackwardWith(nil, false) }

// BackwardWith computes gradients of t given the gradient of some output with respect to t
// (nil for a scalar t), keeping the graph when retainGraph is set.
func (t *Tensor) BackwardWith(grad *Tensor, retainGraph bool) {
	hg := grad.acquireOpt("Backward")
	defer grad.release()
	t.do1("Backward", func(h C.st_tensor) C.st_err { return C.st_backward(h, hg, cbool(retainGraph)) })
}

// Grad returns a new handle to t's accumulated gradient, or nil if it has none. Like
// `g = p.grad` in Python, the handle keeps that gradient's memory alive, even after ZeroGrad
// drops it from t, until the handle is closed, its scope closes, or (outside scopes) the
// garbage collector frees it: its storage counts in the unscoped account (ReadMemStats), so
// handles dropped in a loop are collected within the memory budget.
func (t *Tensor) Grad() *Tensor {
	var out C.st_tensor
	t.do1("Grad", func(h C.st_tensor) C.st_err { return C.st_grad(h, &out) })
	if out == nil {
		return nil
	}
	return newTensor(out)
}

// ZeroGrad drops t's gradient (PyTorch's set_to_none=True default).
func (t *Tensor) ZeroGrad() {
	t.do1("ZeroGrad", func(h C.st_tensor) C.st_err { return C.st_zero_grad(h, 1) })
}

// GradEnabled reports whether autograd is recording on this OS thread.
func GradEnabled() bool {
	var e C.int
	check("GradEnabled", C.st_is_grad_enabled(&e))
	return e != 0
}

// SetGradEnabled turns autograd recording on or off for this OS thread. Call it only while the
// goroutine is locked to its thread (inside a Scope, or after runtime.LockOSThread), and
// restore the previous mode before unlocking: otherwise the mode stays with a thread that
// other goroutines will run on. NoGrad does all of this.
func SetGradEnabled(b bool) { check("SetGradEnabled", C.st_set_grad_enabled(cbool(b))) }

// NoGrad runs f with autograd recording off, as `with torch.no_grad()`, and restores the
// previous mode afterwards, even if f panics. The goroutine stays on its OS thread meanwhile,
// so the mode applies to f's goroutine alone (not to goroutines f starts), and other goroutines
// keep theirs.
func NoGrad(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prev := GradEnabled()
	SetGradEnabled(false)
	defer SetGradEnabled(prev)
	f()
}

// ---- in place ----
//
// In-place ops follow PyTorch's autograd rules: with grad mode on, autograd records them (a
// later Backward differentiates through them, and libtorch's version counters refuse a
// backward through values an in-place op overwrote); on a leaf that requires grad (a
// parameter) they panic with *Error carrying PyTorch's message. Update parameters inside
// NoGrad, as optimizers and initialisation do (PyTorch's torch.no_grad()).

// AddInPlace does t += alpha * o.
func (t *Tensor) AddInPlace(o *Tensor, alpha float64) {
	t.do2("AddInPlace", o, func(a, b C.st_tensor) C.st_err { return C.st_add_(a, b, C.double(alpha)) })
}

// MulInPlace does t *= o.
func (t *Tensor) MulInPlace(o *Tensor) {
	t.do2("MulInPlace", o, func(a, b C.st_tensor) C.st_err { return C.st_mul_(a, b) })
}

// MulScalarInPlace does t *= s.
func (t *Tensor) MulScalarInPlace(s float64) {
	t.do1("MulScalarInPlace", func(h C.st_tensor) C.st_err { return C.st_mul_scalar_(h, C.double(s)) })
}

// AddScalarInPlace does t += s.
func (t *Tensor) AddScalarInPlace(s float64) {
	t.do1("AddScalarInPlace", func(h C.st_tensor) C.st_err { return C.st_add_scalar_(h, C.double(s)) })
}

// AddcmulInPlace does t += value * a * b.
func (t *Tensor) AddcmulInPlace(a, b *Tensor, value float64) {
	hb := b.acquire("AddcmulInPlace")
	defer b.release()
	t.do2("AddcmulInPlace", a, func(ht, ha C.st_tensor) C.st_err { return C.st_addcmul_(ht, ha, hb, C.double(value)) })
}

// AddcdivInPlace does t += value * a / b.
func (t *Tensor) AddcdivInPlace(a, b *Tensor, value float64) {
	hb := b.acquire("AddcdivInPlace")
	defer b.release()
	t.do2("AddcdivInPlace", a, func(ht, ha C.st_tensor) C.st_err { return C.st_addcdiv_(ht, ha, hb, C.double(value)) })
}

// CopyFrom copies src's values into t (broadcasting, converting dtype and device).
func (t *Tensor) CopyFrom(src *Tensor) {
	t.do2("CopyFrom", src, func(a, b C.st_tensor) C.st_err { return C.st_copy_(a, b) })
}

// Fill sets every element of t to v.
func (t *Tensor) Fill(v float64) {
	t.do1("Fill", func(h C.st_tensor) C.st_err { return C.st_fill_(h, C.double(v)) })
}

// UniformInPlace fills t with samples from U(from, to) using libtorch's default generator.
func (t *Tensor) UniformInPlace(from, to float64) {
	t.do1("UniformInPlace", func(h C.st_tensor) C.st_err { return C.st_uniform_(h, C.double(from), C.double(to)) })
}

// NormalInPlace fills t with samples from N(mean, std²).
func (t *Tensor) NormalInPlace(mean, std float64) {
	t.do1("NormalInPlace", func(h C.st_tensor) C.st_err { return C.st_normal_(h, C.double(mean), C.double(std)) })
}

// SetData makes t hold src's data (shape, dtype, device), keeping t's identity and
// requires_grad, as `param.data = src` in PyTorch. Modules use it to move parameters.
func (t *Tensor) SetData(src *Tensor) {
	t.do2("SetData", src, func(a, b C.st_tensor) C.st_err { return C.st_set_data(a, b) })
}
