package torch

/*
#include "shim.h"
*/
import "C"

type unaryFn func(a C.st_tensor, out *C.st_tensor) C.st_err

// apply1 runs f on t's handle (t counted in use meanwhile, see acquire) and wraps its result.
func (t *Tensor) apply1(op string, f unaryFn) *Tensor {
	h := t.acquire(op)
	defer t.release()
	var out C.st_tensor
	check(op, f(h, &out))
	return newTensor(out)
}

// apply2 is apply1 for a shim function of two tensors.
func (t *Tensor) apply2(op string, o *Tensor, f func(a, b C.st_tensor, out *C.st_tensor) C.st_err) *Tensor {
	ha := t.acquire(op)
	defer t.release()
	hb := o.acquire(op)
	defer o.release()
	var out C.st_tensor
	check(op, f(ha, hb, &out))
	return newTensor(out)
}

// Neg returns -t.
func (t *Tensor) Neg() *Tensor {
	return t.apply1("Neg", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_neg(a, o) })
}

// Abs returns |t|.
func (t *Tensor) Abs() *Tensor {
	return t.apply1("Abs", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_abs(a, o) })
}

// Exp returns e^t.
func (t *Tensor) Exp() *Tensor {
	return t.apply1("Exp", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_exp(a, o) })
}

// Log returns the natural logarithm of t.
func (t *Tensor) Log() *Tensor {
	return t.apply1("Log", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_log(a, o) })
}

// Sqrt returns the square root of t.
func (t *Tensor) Sqrt() *Tensor {
	return t.apply1("Sqrt", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_sqrt(a, o) })
}

// Relu returns max(t, 0).
func (t *Tensor) Relu() *Tensor {
	return t.apply1("Relu", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_relu(a, o) })
}

// Tanh returns tanh(t).
func (t *Tensor) Tanh() *Tensor {
	return t.apply1("Tanh", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_tanh(a, o) })
}

// Sigmoid returns 1/(1+e^-t).
func (t *Tensor) Sigmoid() *Tensor {
	return t.apply1("Sigmoid", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_sigmoid(a, o) })
}

// Contiguous returns a contiguous tensor with t's values.
func (t *Tensor) Contiguous() *Tensor {
	return t.apply1("Contiguous", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_contiguous(a, o) })
}

// Detach returns a tensor sharing t's data, cut from the autograd graph.
func (t *Tensor) Detach() *Tensor {
	return t.apply1("Detach", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_detach(a, o) })
}

// Clone returns a copy of t (differentiable, as tensor.clone()).
func (t *Tensor) Clone() *Tensor {
	return t.apply1("Clone", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_clone(a, o) })
}

// LogicalNot returns the elementwise logical negation.
func (t *Tensor) LogicalNot() *Tensor {
	return t.apply1("LogicalNot", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_logical_not(a, o) })
}

func (t *Tensor) binary(op string, code C.int, o *Tensor) *Tensor {
	return t.apply2(op, o, func(a, b C.st_tensor, out *C.st_tensor) C.st_err { return C.st_binary(code, a, b, out) })
}

func (t *Tensor) binaryScalar(op string, code C.int, s float64) *Tensor {
	return t.apply1(op, func(a C.st_tensor, out *C.st_tensor) C.st_err { return C.st_binary_scalar(code, a, C.double(s), out) })
}

// Add returns t + o (broadcasting).
func (t *Tensor) Add(o *Tensor) *Tensor { return t.binary("Add", C.ST_ADD, o) }

// Sub returns t - o.
func (t *Tensor) Sub(o *Tensor) *Tensor { return t.binary("Sub", C.ST_SUB, o) }

// Mul returns t * o elementwise.
func (t *Tensor) Mul(o *Tensor) *Tensor { return t.binary("Mul", C.ST_MUL, o) }

// Div returns t / o elementwise (true division).
func (t *Tensor) Div(o *Tensor) *Tensor { return t.binary("Div", C.ST_DIV, o) }

// Pow returns t ** o elementwise.
func (t *Tensor) Pow(o *Tensor) *Tensor { return t.binary("Pow", C.ST_POW, o) }

// Matmul returns the matrix product of t and o, as torch.matmul.
func (t *Tensor) Matmul(o *Tensor) *Tensor { return t.binary("Matmul", C.ST_MATMUL, o) }

// Maximum returns the elementwise maximum of t and o.
func (t *Tensor) Maximum(o *Tensor) *Tensor { return t.binary("Maximum", C.ST_MAXIMUM, o) }

// Minimum returns the elementwise minimum of t and o.
func (t *Tensor) Minimum(o *Tensor) *Tensor { return t.binary("Minimum", C.ST_MINIMUM, o) }

// Eq returns t == o elementwise (bool).
func (t *Tensor) Eq(o *Tensor) *Tensor { return t.binary("Eq", C.ST_EQ, o) }

// Ne returns t != o elementwise.
func (t *Tensor) Ne(o *Tensor) *Tensor { return t.binary("Ne", C.ST_NE, o) }

// Lt returns t < o elementwise.
func (t *Tensor) Lt(o *Tensor) *Tensor { return t.binary("Lt", C.ST_LT, o) }

// Le returns t <= o elementwise.
func (t *Tensor) Le(o *Tensor) *Tensor { return t.binary("Le", C.ST_LE, o) }

// Gt returns t > o elementwise.
func (t *Tensor) Gt(o *Tensor) *Tensor { return t.binary("Gt", C.ST_GT, o) }

// Ge returns t >= o elementwise.
func (t *Tensor) Ge(o *Tensor) *Tensor { return t.binary("Ge", C.ST_GE, o) }

// LogicalAnd returns t && o elementwise.
func (t *Tensor) LogicalAnd(o *Tensor) *Tensor { return t.binary("LogicalAnd", C.ST_LOGICAL_AND, o) }

// LogicalOr returns t || o elementwise.
func (t *Tensor) LogicalOr(o *Tensor) *Tensor { return t.binary("LogicalOr", C.ST_LOGICAL_OR, o) }

// AddScalar returns t + s.
func (t *Tensor) AddScalar(s float64) *Tensor { return t.binaryScalar("AddScalar", C.ST_ADD, s) }

// SubScalar returns t - s.
func (t *Tensor) SubScalar(s float64) *Tensor { return t.binaryScalar("SubScalar", C.ST_SUB, s) }

// MulScalar returns t * s.
func (t *Tensor) MulScalar(s float64) *Tensor { return t.binaryScalar("MulScalar", C.ST_MUL, s) }

// DivScalar returns t / s.
func (t *Tensor) DivScalar(s float64) *Tensor { return t.binaryScalar("DivScalar", C.ST_DIV, s) }

// PowScalar returns t ** s.
func (t *Tensor) PowScalar(s float64) *Tensor { return t.binaryScalar("PowScalar", C.ST_POW, s) }

// EqScalar returns t == s elementwise.
func (t *Tensor) EqScalar(s float64) *Tensor { return t.binaryScalar("EqScalar", C.ST_EQ, s) }

// NeScalar returns t != s elementwise.
func (t *Tensor) NeScalar(s float64) *Tensor { return t.binaryScalar("NeScalar", C.ST_NE, s) }

// LtScalar returns t < s elementwise.
func (t *Tensor) LtScalar(s float64) *Tensor { return t.binaryScalar("LtScalar", C.ST_LT, s) }

// LeScalar returns t <= s elementwise.
func (t *Tensor) LeScalar(s float64) *Tensor { return t.binaryScalar("LeScalar", C.ST_LE, s) }

// GtScalar returns t > s elementwise.
func (t *Tensor) GtScalar(s float64) *Tensor { return t.binaryScalar("GtScalar", C.ST_GT, s) }

// GeScalar returns t >= s elementwise.
func (t *Tensor) GeScalar(s float64) *Tensor { return t.binaryScalar("GeScalar", C.ST_GE, s) }

// RSubScalar returns s - t.
func (t *Tensor) RSubScalar(s float64) *Tensor {
	return t.apply1("RSubScalar", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_rsub_scalar(a, C.double(s), out)
	})
}

// Clamp limits t to [min, max], as torch.clamp(t, min, max).
func (t *Tensor) Clamp(min, max float64) *Tensor { return t.clamp(true, min, true, max) }

// ClampMin limits t from below, as t.clamp(min=min).
func (t *Tensor) ClampMin(min float64) *Tensor { return t.clamp(true, min, false, 0) }

// ClampMax limits t from above, as t.clamp(max=max).
func (t *Tensor) ClampMax(max float64) *Tensor { return t.clamp(false, 0, true, max) }

func (t *Tensor) clamp(hasMin bool, min float64, hasMax bool, max float64) *Tensor {
	return t.apply1("Clamp", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_clamp(a, cbool(hasMin), C.double(min), cbool(hasMax), C.double(max), out)
	})
}

// Where returns a where cond is true and b elsewhere, as torch.where(cond, a, b).
func Where(cond, a, b *Tensor) *Tensor {
	hc := cond.acquire("Where")
	defer cond.release()
	return a.apply2("Where", b, func(ha, hb C.st_tensor, out *C.st_tensor) C.st_err { return C.st_where(hc, ha, hb, out) })
}

// MaskedFill returns t with value written where mask is true.
func (t *Tensor) MaskedFill(mask *Tensor, value float64) *Tensor {
	return t.apply2("MaskedFill", mask, func(a, m C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_masked_fill(a, m, C.double(value), out)
	})
}

// ---- reductions ----

// Sum returns the sum of all elements (0-dim).
func (t *Tensor) Sum() *Tensor { return t.SumDim(false) }

// SumDim sums over dims, keeping them as size 1 when keepdim is set. No dims sums everything.
func (t *Tensor) SumDim(keepdim bool, dims ...int64) *Tensor {
	return t.apply1("Sum", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_sum(a, int64Ptr(dims), C.int(len(dims)), cbool(keepdim), out)
	})
}

// Mean returns the mean of all elements (0-dim).
func (t *Tensor) Mean() *Tensor { return t.MeanDim(false) }

// MeanDim averages over dims. No dims averages everything.
func (t *Tensor) MeanDim(keepdim bool, dims ...int64) *Tensor {
	return t.apply1("Mean", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_mean(a, int64Ptr(dims), C.int(len(dims)), cbool(keepdim), out)
	})
}

// Max returns the largest element (0-dim).
func (t *Tensor) Max() *Tensor {
	return t.apply1("Max", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_max_all(a, o) })
}

// Min returns the smallest element (0-dim).
func (t *Tensor) Min() *Tensor {
	return t.apply1("Min", func(a C.st_tensor, o *C.st_tensor) C.st_err { return C.st_min_all(a, o) })
}

// MaxDim returns the maxima along dim and their indices, as t.max(dim, keepdim).
func (t *Tensor) MaxDim(dim int64, keepdim bool) (values, indices *Tensor) {
	h := t.acquire("MaxDim")
	defer t.release()
	var v, i C.st_tensor
	check("MaxDim", C.st_max_dim(h, C.int64_t(dim), cbool(keepdim), &v, &i))
	return newTensor(v), newTensor(i)
}

// Argmax returns the indices of the maxima along dim.
func (t *Tensor) Argmax(dim int64, keepdim bool) *Tensor {
	return t.apply1("Argmax", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_argmax(a, C.int64_t(dim), cbool(keepdim), out)
	})
}

// Norm returns the p-norm over dims (all elements when no dims are given), as torch.norm.
func (t *Tensor) Norm(p float64, keepdim bool, dims ...int64) *Tensor {
	return t.apply1("Norm", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_norm(a, C.double(p), int64Ptr(dims), C.int(len(dims)), cbool(keepdim), out)
	})
}

// Sort sorts along dim, returning values and the permutation, as torch.sort.
func (t *Tensor) Sort(dim int64, descending bool) (values, indices *Tensor) {
	h := t.acquire("Sort")
	defer t.release()
	var v, i C.st_tensor
	check("Sort", C.st_sort(h, C.int64_t(dim), cbool(descending), &v, &i))
	return newTensor(v), newTensor(i)
}

// Softmax returns softmax along dim.
func (t *Tensor) Softmax(dim int64) *Tensor {
	return t.apply1("Softmax", func(a C.st_tensor, out *C.st_tensor) C.st_err { return C.st_softmax(a, C.int64_t(dim), out) })
}

// LogSoftmax returns log(softmax) along dim, computed stably.
func (t *Tensor) LogSoftmax(dim int64) *Tensor {
	return t.apply1("LogSoftmax", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_log_softmax(a, C.int64_t(dim), out)
	})
}

// Dropout zeroes elements with probability p and scales the rest by 1/(1-p) when train is
// set; otherwise it returns a copy of t, as torch.nn.functional.dropout.
func Dropout(t *Tensor, p float64, train bool) *Tensor {
	return t.apply1("Dropout", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_dropout(a, C.double(p), cbool(train), out)
	})
}

// ---- shape and indexing ----

// Cat concatenates ts along dim.
func Cat(ts []*Tensor, dim int64) *Tensor {
	hs := acquireAll("Cat", ts)
	defer releaseAll(ts)
	return unary("Cat", func(out *C.st_tensor) C.st_err {
		return C.st_cat(handlesPtr(hs), C.int(len(hs)), C.int64_t(dim), out)
	})
}

// Stack stacks ts along a new dim.
func Stack(ts []*Tensor, dim int64) *Tensor {
	hs := acquireAll("Stack", ts)
	defer releaseAll(ts)
	return unary("Stack", func(out *C.st_tensor) C.st_err {
		return C.st_stack(handlesPtr(hs), C.int(len(hs)), C.int64_t(dim), out)
	})
}

// View returns a view of t with a new shape (one dim may be -1).
func (t *Tensor) View(shape ...int64) *Tensor {
	return t.apply1("View", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_view(a, int64Ptr(shape), C.int(len(shape)), out)
	})
}

// Reshape returns t with a new shape, copying only when needed.
func (t *Tensor) Reshape(shape ...int64) *Tensor {
	return t.apply1("Reshape", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_reshape(a, int64Ptr(shape), C.int(len(shape)), out)
	})
}

// Expand broadcasts t to shape without copying (-1 keeps a dim).
func (t *Tensor) Expand(shape ...int64) *Tensor {
	return t.apply1("Expand", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_expand(a, int64Ptr(shape), C.int(len(shape)), out)
	})
}

// Transpose swaps dims d0 and d1.
func (t *Tensor) Transpose(d0, d1 int64) *Tensor {
	return t.apply1("Transpose", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_transpose(a, C.int64_t(d0), C.int64_t(d1), out)
	})
}

// Permute reorders dims.
func (t *Tensor) Permute(dims ...int64) *Tensor {
	return t.apply1("Permute", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_permute(a, int64Ptr(dims), C.int(len(dims)), out)
	})
}

// Squeeze removes all dims of size 1.
func (t *Tensor) Squeeze() *Tensor {
	return t.apply1("Squeeze", func(a C.st_tensor, out *C.st_tensor) C.st_err { return C.st_squeeze(a, 0, 0, out) })
}

// SqueezeDim removes dim if its size is 1.
func (t *Tensor) SqueezeDim(dim int64) *Tensor {
	return t.apply1("Squeeze", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_squeeze(a, 1, C.int64_t(dim), out)
	})
}

// Unsqueeze inserts a dim of size 1 at dim.
func (t *Tensor) Unsqueeze(dim int64) *Tensor {
	return t.apply1("Unsqueeze", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_unsqueeze(a, C.int64_t(dim), out)
	})
}

// IndexSelect picks the entries at index (int64, 1-D) along dim.
func (t *Tensor) IndexSelect(dim int64, index *Tensor) *Tensor {
	return t.apply2("IndexSelect", index, func(a, idx C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_index_select(a, C.int64_t(dim), idx, out)
	})
}

// Gather collects values along dim at index, as torch.gather.
func (t *Tensor) Gather(dim int64, index *Tensor) *Tensor {
	return t.apply2("Gather", index, func(a, idx C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_gather(a, C.int64_t(dim), idx, out)
	})
}

// Narrow returns the slice [start, start+length) of dim (a view).
func (t *Tensor) Narrow(dim, start, length int64) *Tensor {
	return t.apply1("Narrow", func(a C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_narrow(a, C.int64_t(dim), C.int64_t(start), C.int64_t(length), out)
	})
}
