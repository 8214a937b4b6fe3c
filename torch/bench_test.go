package torch

import (
	"runtime"
	"testing"
)

// BenchmarkAdd1 measures per-op overhead: adding two 1-element tensors and freeing the result.
// scripts/bench-ops.sh runs the same loop in Python on the same libtorch.
func BenchmarkAdd1(b *testing.B) {
	x, y := onesPair(b)
	for b.Loop() {
		x.Add(y).Close()
	}
}

// onesPair sets up a per-op benchmark: one libtorch thread, the goroutine on its OS thread,
// two 1-element tensors (closed when b ends), allocations reported.
func onesPair(b *testing.B) (x, y *Tensor) {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	_ = SetNumThreads(1)
	x = FromSlice([]float32{1})
	y = FromSlice([]float32{2})
	b.Cleanup(func() { x.Close(); y.Close() })
	b.ReportAllocs()
	return x, y
}

// BenchmarkMatmul64x80 multiplies a 64x80 by an 80x80 matrix.
func BenchmarkMatmul64x80(b *testing.B) {
	x, y := matmulPair(b)
	for b.Loop() {
		x.Matmul(y).Close()
	}
}

// matmulPair sets up the matmul and log_softmax benchmarks: one thread, a 64×80 and an 80×80
// matrix drawn after ManualSeed(0), closed when b ends.
func matmulPair(b *testing.B) (x, y *Tensor) {
	_ = SetNumThreads(1)
	ManualSeed(0)
	x = Randn([]int64{64, 80})
	y = Randn([]int64{80, 80})
	b.Cleanup(func() { x.Close(); y.Close() })
	b.ReportAllocs()
	return x, y
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

// The generated path (typed wrappers over the boxed dispatcher call) against the hand-written
// one: scripts/bench-ops.sh reports the ratios.

// BenchmarkAdd1Generated is BenchmarkAdd1 through the generated AddTensor (aten::add.Tensor).
func BenchmarkAdd1Generated(b *testing.B) {
	x, y := onesPair(b)
	for b.Loop() {
		x.AddTensor(y, 1).Close()
	}
}

// BenchmarkAdd1Call is BenchmarkAdd1 through torch.Call("aten::add.Tensor", ...).
func BenchmarkAdd1Call(b *testing.B) {
	x, y := onesPair(b)
	for b.Loop() {
		Call("aten::add.Tensor", x, y)[0].(*Tensor).Close()
	}
}

// BenchmarkMatmul64x80Generated multiplies through the generated Mm (aten::mm, which
// aten::matmul runs for two matrices).
func BenchmarkMatmul64x80Generated(b *testing.B) {
	x, y := matmulPair(b)
	for b.Loop() {
		x.Mm(y).Close()
	}
}

// BenchmarkLogSoftmax is log_softmax over the last dimension of a 64x80 matrix, hand-written.
func BenchmarkLogSoftmax(b *testing.B) {
	x, _ := matmulPair(b)
	for b.Loop() {
		x.LogSoftmax(1).Close()
	}
}

// BenchmarkLogSoftmaxGenerated is BenchmarkLogSoftmax through the generated path: the
// hand-written LogSoftmax takes the generated name, so this runs the same code the generator
// writes for aten::log_softmax.int.
func BenchmarkLogSoftmaxGenerated(b *testing.B) {
	_ = SetNumThreads(1)
	ManualSeed(0)
	x := Randn([]int64{64, 80})
	defer x.Close()
	ref := &opRef{name: "aten::log_softmax", overload: "int"}
	b.ReportAllocs()
	for b.Loop() {
		c := newCaller(ref)
		c.argTensor(x)
		c.argInt(1)
		c.argDTypePtr(nil)
		c.run()
		r := c.resTensor(0)
		c.done()
		r.Close()
	}
}
