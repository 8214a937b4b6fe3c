package torch

import (
	"runtime"
	"testing"
)

// BenchmarkAdd1 measures per-op overhead: adding two 1-element tensors and freeing the result.
// scripts/bench-ops.sh runs the same loop in Python on the same libtorch.
func BenchmarkAdd1(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_ = SetNumThreads(1)
	x := FromSlice([]float32{1})
	y := FromSlice([]float32{2})
	defer x.Close()
	defer y.Close()
	b.ReportAllocs()
	for b.Loop() {
		x.Add(y).Close()
	}
}

// BenchmarkMatmul64x80 multiplies a 64x80 by an 80x80 matrix.
func BenchmarkMatmul64x80(b *testing.B) {
	_ = SetNumThreads(1)
	ManualSeed(0)
	x := Randn([]int64{64, 80})
	y := Randn([]int64{80, 80})
	defer x.Close()
	defer y.Close()
	b.ReportAllocs()
	for b.Loop() {
		x.Matmul(y).Close()
	}
}

// BenchmarkAdd1Scoped is BenchmarkAdd1 with the result freed by a Scope, as in a training step.
func BenchmarkAdd1Scoped(b *testing.B) {
	x := FromSlice([]float32{1})
	y := FromSlice([]float32{2})
	defer x.Close()
	defer y.Close()
	b.ReportAllocs()
	for b.Loop() {
		s := NewScope()
		x.Add(y)
		s.Close()
	}
}

// BenchmarkAdd1InScope is the per-op cost as a training step pays it: the results belong to an
// open Scope (one per 1000 ops), which frees them when it closes.
func BenchmarkAdd1InScope(b *testing.B) {
	_ = SetNumThreads(1)
	x := FromSlice([]float32{1})
	y := FromSlice([]float32{2})
	defer x.Close()
	defer y.Close()
	b.ReportAllocs()
	s := NewScope()
	n := 0
	for b.Loop() {
		x.Add(y)
		if n++; n == 1000 {
			s.Close()
			s, n = NewScope(), 0
		}
	}
	s.Close()
}
