package torch

/*
#include "shim.h"
*/
import "C"

import "math"

// Option sets the dtype or device of a created tensor.
type Option func(*createOpts)

type createOpts struct {
	dtype    DType
	dtypeSet bool
	device   Device
}

// WithDType makes a creation function produce dtype d.
func WithDType(d DType) Option { return func(o *createOpts) { o.dtype, o.dtypeSet = d, true } }

// WithDevice makes a creation function allocate on device d.
func WithDevice(d Device) Option { return func(o *createOpts) { o.device = d } }

func makeOpts(def DType, opts []Option) createOpts {
	o := createOpts{dtype: def}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Zeros returns a tensor of zeros (float32 on the CPU unless options say otherwise).
func Zeros(shape []int64, opts ...Option) *Tensor {
	o := makeOpts(Float32, opts)
	return unary("Zeros", func(out *C.st_tensor) C.st_err {
		return C.st_zeros(int64Ptr(shape), C.int(len(shape)), C.int(o.dtype.code()), C.int(o.device.Type), C.int(o.device.Index), out)
	})
}

// Ones returns a tensor of ones.
func Ones(shape []int64, opts ...Option) *Tensor { return Full(shape, 1, opts...) }

// Full returns a tensor filled with v.
func Full(shape []int64, v float64, opts ...Option) *Tensor {
	o := makeOpts(Float32, opts)
	return unary("Full", func(out *C.st_tensor) C.st_err {
		return C.st_full(int64Ptr(shape), C.int(len(shape)), C.double(v), C.int(o.dtype.code()), C.int(o.device.Type), C.int(o.device.Index), out)
	})
}

// Arange returns the values start, start+step, ... below end. As in PyTorch the dtype is int64
// when start, end and step are all integers, float32 otherwise.
func Arange(start, end, step float64, opts ...Option) *Tensor {
	def := Float32
	if start == math.Trunc(start) && end == math.Trunc(end) && step == math.Trunc(step) {
		def = Int64
	}
	o := makeOpts(def, opts)
	return unary("Arange", func(out *C.st_tensor) C.st_err {
		return C.st_arange(C.double(start), C.double(end), C.double(step), C.int(o.dtype.code()), C.int(o.device.Type), C.int(o.device.Index), out)
	})
}

// Rand returns uniform samples in [0, 1) from libtorch's default generator.
func Rand(shape []int64, opts ...Option) *Tensor {
	o := makeOpts(Float32, opts)
	return unary("Rand", func(out *C.st_tensor) C.st_err {
		return C.st_rand(int64Ptr(shape), C.int(len(shape)), C.int(o.dtype.code()), C.int(o.device.Type), C.int(o.device.Index), out)
	})
}

// Randn returns standard normal samples from libtorch's default generator.
func Randn(shape []int64, opts ...Option) *Tensor {
	o := makeOpts(Float32, opts)
	return unary("Randn", func(out *C.st_tensor) C.st_err {
		return C.st_randn(int64Ptr(shape), C.int(len(shape)), C.int(o.dtype.code()), C.int(o.device.Type), C.int(o.device.Index), out)
	})
}

// Randperm returns a random permutation of 0..n-1 (int64 by default).
func Randperm(n int64, opts ...Option) *Tensor {
	o := makeOpts(Int64, opts)
	return unary("Randperm", func(out *C.st_tensor) C.st_err {
		return C.st_randperm(C.int64_t(n), C.int(o.dtype.code()), C.int(o.device.Type), C.int(o.device.Index), out)
	})
}
