package torch

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"strings"
)

// DType is a tensor element type. The zero value is Float32, PyTorch's default dtype.
type DType int8

// The element types seqtorch uses.
const (
	Float32 DType = iota
	Float64
	Int64
	Int32
	Bool
	Float16
	Uint8
)

// dtypeCodes are the shim's dtype codes (enum st_scalar_type in shim.h, c10::ScalarType's
// values, which shim.cpp checks with static_assert).
var dtypeCodes = [...]int{Float32: C.ST_FLOAT32, Float64: C.ST_FLOAT64, Int64: C.ST_INT64, Int32: C.ST_INT32,
	Bool: C.ST_BOOL, Float16: C.ST_FLOAT16, Uint8: C.ST_UINT8}

func (d DType) code() int { return dtypeCodes[d] }

func dtypeFromCode(c int) DType {
	for d, code := range dtypeCodes {
		if code == c {
			return DType(d)
		}
	}
	panic(&Error{Op: "DType", Msg: fmt.Sprintf("unsupported libtorch scalar type %d", c)})
}

// String returns PyTorch's name for the dtype, e.g. "float32".
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	case Int64:
		return "int64"
	case Int32:
		return "int32"
	case Bool:
		return "bool"
	case Float16:
		return "float16"
	case Uint8:
		return "uint8"
	}
	return fmt.Sprintf("DType(%d)", int8(d))
}

// DeviceType is CPU or CUDA.
type DeviceType int8

// Device types, with the shim's codes (enum st_device_type, c10::DeviceType's values).
const (
	CPUDevice  DeviceType = C.ST_CPU
	CUDADevice DeviceType = C.ST_CUDA
)

// Device names where a tensor lives. The zero value is the CPU.
type Device struct {
	Type  DeviceType
	Index int
}

// CPU is the host device.
var CPU = Device{}

// CUDA returns CUDA device i.
func CUDA(i int) Device { return Device{Type: CUDADevice, Index: i} }

// String returns PyTorch's spelling: "cpu" or "cuda:N".
func (d Device) String() string {
	if d.Type == CUDADevice {
		return "cuda:" + strconv.Itoa(d.Index)
	}
	return "cpu"
}

// IsCUDA reports whether d is a CUDA device.
func (d Device) IsCUDA() bool { return d.Type == CUDADevice }

// ParseDevice parses "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU) and
// checks that the device exists in this process's libtorch.
func ParseDevice(s string) (Device, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "cpu":
		return CPU, nil
	case s == "auto":
		if CUDAAvailable() {
			return CUDA(0), nil
		}
		return CPU, nil
	case s == "cuda" || strings.HasPrefix(s, "cuda:"):
		idx := 0
		if s != "cuda" {
			n, err := strconv.Atoi(strings.TrimPrefix(s, "cuda:"))
			if err != nil || n < 0 {
				return CPU, fmt.Errorf("device %q: want cpu, cuda, cuda:N (N >= 0) or auto", s)
			}
			idx = n
		}
		if !CUDABuild() {
			return CPU, fmt.Errorf("device %q: the libtorch found (%s) has no CUDA support; rebuild with a CUDA libtorch: TORCH_PYTHON=python3 make libtorch or LIBTORCH=/path make libtorch", s, Version())
		}
		if n := CUDADeviceCount(); idx >= n {
			return CPU, fmt.Errorf("device %q: libtorch %s has CUDA but sees %d CUDA device(s)", s, Version(), n)
		}
		return CUDA(idx), nil
	}
	return CPU, fmt.Errorf("device %q: want cpu, cuda, cuda:N or auto", s)
}
