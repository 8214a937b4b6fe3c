package torch

/*
#include "shim.h"
*/
import "C"

import "unsafe"

// WithHandles calls f with the shim handles (shim.h's st_tensor, as unsafe.Pointer) of ts, in
// order, each held against Close until f returns. It is the bridge for packages of this module
// that bind further parts of the seqtorch shim (torch/distributed); f must not keep the handles.
// A nil or closed tensor panics with *Error naming op, as every op does.
func WithHandles(op string, ts []*Tensor, f func(hs []unsafe.Pointer) error) error {
	hs := make([]unsafe.Pointer, len(ts))
	for i, t := range ts {
		h, ok := t.tryAcquire()
		if !ok {
			for _, u := range ts[:i] {
				u.release()
			}
			panic(useError(op, t))
		}
		hs[i] = unsafe.Pointer(h)
	}
	defer func() {
		for _, t := range ts {
			t.release()
		}
	}()
	return f(hs)
}

// ShimError converts an st_err that a shim function returned (as unsafe.Pointer) into an *Error
// for op, freeing the message; nil stays nil. The bridge's other half, beside [WithHandles].
func ShimError(op string, e unsafe.Pointer) error {
	if e == nil {
		return nil
	}
	return newError(op, C.st_err(e))
}

// AdoptHandle returns a new *Tensor that owns h, a new st_tensor handle (as unsafe.Pointer)
// that a shim function of another package returned (torch/jit's results and module
// parameters): it is registered as every new tensor is, with the open Scope or the leak net.
// nil gives nil.
func AdoptHandle(h unsafe.Pointer) *Tensor {
	if h == nil {
		return nil
	}
	return newTensor(C.st_tensor(h))
}
