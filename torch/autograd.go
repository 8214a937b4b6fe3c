package torch

/*
#include "shim.h"
*/
import "C"

import "runtime"

// SetRequiresGrad sets whether autograd records operations on t, and returns t.
func (t *Tensor) SetRequiresGrad(b bool) *Tensor {
	check("SetRequiresGrad", C.st_set_requires_grad(t.handle("SetRequiresGrad"), cbool(b)))
	return t
}

// RequiresGrad reports whether autograd records operations on t.
func (t *Tensor) RequiresGrad() bool {
	var r C.int
	check("RequiresGrad", C.st_requires_grad(t.handle("RequiresGrad"), &r))
	return r != 0
}

// Backward computes gradients of t (a scalar) with respect to the graph's leaves.
func (t *Tensor) Backward() { t.BackwardWith(nil, false) }

// BackwardWith computes gradients of t given the gradient of some output with respect to t
// (nil for a scalar t), keeping the graph when retainGraph is set.
func (t *Tensor) BackwardWith(grad *Tensor, retainGraph bool) {
	check("Backward", C.st_backward(t.handle("Backward"), optHandle("Backward", grad), cbool(retainGraph)))
}

// Grad returns a new handle to t's accumulated gradient, or nil if it has none.
func (t *Tensor) Grad() *Tensor {
	var out C.st_tensor
	check("Grad", C.st_grad(t.handle("Grad"), &out))
	if out == nil {
		return nil
	}
	return newTensor(out)
}

// ZeroGrad drops t's gradient (PyTorch's set_to_none=True default).
func (t *Tensor) ZeroGrad() { check("ZeroGrad", C.st_zero_grad(t.handle("ZeroGrad"), 1)) }

// GradEnabled reports whether autograd is recording on this OS thread.
func GradEnabled() bool {
	var e C.int
	check("GradEnabled", C.st_is_grad_enabled(&e))
	return e != 0
}

// SetGradEnabled turns autograd recording on or off for this OS thread.
func SetGradEnabled(b bool) { check("SetGradEnabled", C.st_set_grad_enabled(cbool(b))) }

// NoGrad runs f with autograd recording off, as `with torch.no_grad()`, and restores the
// previous mode afterwards, even if f panics. The goroutine stays on its OS thread meanwhile.
func NoGrad(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prev := GradEnabled()
	SetGradEnabled(false)
	defer SetGradEnabled(prev)
	f()
}

// ---- in place, for optimizers and initialisation: never recorded by autograd ----

// AddInPlace does t += alpha * o.
func (t *Tensor) AddInPlace(o *Tensor, alpha float64) {
	check("AddInPlace", C.st_add_(t.handle("AddInPlace"), o.handle("AddInPlace"), C.double(alpha)))
}

// MulInPlace does t *= o.
func (t *Tensor) MulInPlace(o *Tensor) {
	check("MulInPlace", C.st_mul_(t.handle("MulInPlace"), o.handle("MulInPlace")))
}

// MulScalarInPlace does t *= s.
func (t *Tensor) MulScalarInPlace(s float64) {
	check("MulScalarInPlace", C.st_mul_scalar_(t.handle("MulScalarInPlace"), C.double(s)))
}

// AddScalarInPlace does t += s.
func (t *Tensor) AddScalarInPlace(s float64) {
	check("AddScalarInPlace", C.st_add_scalar_(t.handle("AddScalarInPlace"), C.double(s)))
}

// AddcmulInPlace does t += value * a * b.
func (t *Tensor) AddcmulInPlace(a, b *Tensor, value float64) {
	check("AddcmulInPlace", C.st_addcmul_(t.handle("AddcmulInPlace"), a.handle("AddcmulInPlace"), b.handle("AddcmulInPlace"), C.double(value)))
}

// AddcdivInPlace does t += value * a / b.
func (t *Tensor) AddcdivInPlace(a, b *Tensor, value float64) {
	check("AddcdivInPlace", C.st_addcdiv_(t.handle("AddcdivInPlace"), a.handle("AddcdivInPlace"), b.handle("AddcdivInPlace"), C.double(value)))
}

// CopyFrom copies src's values into t (broadcasting, converting dtype and device).
func (t *Tensor) CopyFrom(src *Tensor) {
	check("CopyFrom", C.st_copy_(t.handle("CopyFrom"), src.handle("CopyFrom")))
}

// Fill sets every element of t to v.
func (t *Tensor) Fill(v float64) { check("Fill", C.st_fill_(t.handle("Fill"), C.double(v))) }

// UniformInPlace fills t with samples from U(from, to) using libtorch's default generator.
func (t *Tensor) UniformInPlace(from, to float64) {
	check("UniformInPlace", C.st_uniform_(t.handle("UniformInPlace"), C.double(from), C.double(to)))
}

// NormalInPlace fills t with samples from N(mean, std²).
func (t *Tensor) NormalInPlace(mean, std float64) {
	check("NormalInPlace", C.st_normal_(t.handle("NormalInPlace"), C.double(mean), C.double(std)))
}

// SetData makes t hold src's data (shape, dtype, device), keeping t's identity and
// requires_grad, as `param.data = src` in PyTorch. Modules use it to move parameters.
func (t *Tensor) SetData(src *Tensor) {
	check("SetData", C.st_set_data(t.handle("SetData"), src.handle("SetData")))
}
