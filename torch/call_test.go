package torch

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestCallTopk(t *testing.T) {
	checkLive(t)
	x := FromSlice([]float32{1, 5, 3, 4}, 4)
	defer x.Close()
	r := Call("aten::topk", x, int64(2))
	if len(r) != 2 {
		t.Fatalf("aten::topk returned %d values, want 2", len(r))
	}
	v, i := r[0].(*Tensor), r[1].(*Tensor)
	defer v.Close()
	defer i.Close()
	if got := v.Float32s(); got[0] != 5 || got[1] != 4 {
		t.Errorf("values %v, want [5 4]", got)
	}
	if got := i.Int64s(); got[0] != 1 || got[1] != 3 {
		t.Errorf("indices %v, want [1 3]", got)
	}
	// The generated wrapper calls the same operator.
	gv, gi := x.Topk(2, -1, true, true)
	defer gv.Close()
	defer gi.Close()
	if !gv.Equal(v) || !gi.Equal(i) {
		t.Errorf("Topk = %v %v, Call gave %v %v", gv, gi, v, i)
	}
}

func TestCallValues(t *testing.T) {
	checkLive(t)
	outer := NewScope() // the table's tensors
	defer outer.Close()
	m := FromSlice([]float32{1, 2, 3, 4}, 2, 2)
	tests := []struct {
		name string
		op   string
		args []any
		want func(r []any) bool
	}{
		{"int list and bool", "aten::sum.dim_IntList", []any{m, []int64{1}, true}, func(r []any) bool {
			x := r[0].(*Tensor)
			return slices.Equal(x.Shape(), []int64{2, 1}) && slices.Equal(x.Float32s(), []float32{3, 7})
		}},
		{"one int fills int[1]", "aten::sum.dim_IntList", []any{m, 0}, func(r []any) bool {
			return slices.Equal(r[0].(*Tensor).Float32s(), []float32{4, 6})
		}},
		{"defaults fill the rest", "aten::sum", []any{m}, func(r []any) bool {
			return r[0].(*Tensor).Item() == 10
		}},
		{"dtype argument", "aten::sum", []any{m, Float64}, func(r []any) bool {
			return r[0].(*Tensor).DType() == Float64
		}},
		{"tensor list result", "aten::unbind.int", []any{m}, func(r []any) bool {
			ts := r[0].([]*Tensor)
			return len(ts) == 2 && slices.Equal(ts[1].Float32s(), []float32{3, 4})
		}},
		{"optional tensors in a list", "aten::index.Tensor", []any{m, []*Tensor{nil, FromSlice([]int64{1})}}, func(r []any) bool {
			return slices.Equal(r[0].(*Tensor).Float32s(), []float32{2, 4})
		}},
		{"int result", "aten::size.int", []any{m, int64(1)}, func(r []any) bool { return r[0].(int64) == 2 }},
		{"bool result", "aten::is_floating_point", []any{m}, func(r []any) bool { return r[0].(bool) }},
		{"float result", "aten::item", []any{FromSlice([]float64{2.5})}, func(r []any) bool { return r[0].(float64) == 2.5 }},
		{"factory with dtype and device", "aten::zeros", []any{[]int64{3}, Float64, nil, CPU}, func(r []any) bool {
			x := r[0].(*Tensor)
			return x.DType() == Float64 && slices.Equal(x.Shape(), []int64{3})
		}},
		{"int Scalar keeps an int tensor int", "aten::add.Scalar", []any{FromSlice([]int64{1, 2}), 3}, func(r []any) bool {
			x := r[0].(*Tensor)
			return x.DType() == Int64 && slices.Equal(x.Int64s(), []int64{4, 5})
		}},
		{"float Scalar promotes", "aten::add.Scalar", []any{FromSlice([]int64{1, 2}), 0.5}, func(r []any) bool {
			return r[0].(*Tensor).DType() == Float32
		}},
		{"string argument", "aten::div.Tensor_mode", []any{FromSlice([]float32{7}), FromSlice([]float32{2}), "floor"}, func(r []any) bool {
			return r[0].(*Tensor).Item() == 3
		}},
		{"no results", "aten::is_nonzero", []any{FromSlice([]float32{1})}, func(r []any) bool { return len(r) == 1 && r[0].(bool) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewScope()
			defer s.Close()
			r := Call(tc.op, tc.args...)
			if !tc.want(r) {
				t.Errorf("%s%v = %v", tc.op, tc.args, r)
			}
		})
	}
}

func TestCallErrors(t *testing.T) {
	checkLive(t)
	x := FromSlice([]float32{1, 2})
	defer x.Close()
	closed := FromSlice([]float32{1})
	closed.Close()
	tests := []struct {
		name string
		op   string
		args []any
		want []string // substrings of the error's first line
	}{
		{"unknown op", "aten::no_such_op", []any{x}, []string{"aten::no_such_op", "has no operator"}},
		{"unknown overload", "aten::topk.nope", []any{x, int64(1)}, []string{"aten::topk.nope", "its overloads: aten::topk"}},
		{"no namespace", "topk", []any{x}, []string{"aten::topk"}},
		{"too many arguments", "aten::neg", []any{x, x}, []string{"at most 1 arguments", "schema: aten::neg(Tensor self) -> Tensor"}},
		{"missing argument", "aten::topk", []any{x}, []string{"missing argument 2 (int k)", "schema: aten::topk("}},
		{"wrong type", "aten::topk", []any{x, 1.5}, []string{"argument 2 (int k): cannot take a Go float", "schema: aten::topk("}},
		{"Go type with no ATen counterpart", "aten::topk", []any{x, struct{}{}}, []string{"argument 2: cannot pass a Go struct {}"}},
		{"closed tensor", "aten::neg", []any{closed}, []string{"closed tensor"}},
		{"libtorch's own error", "aten::mm", []any{x, x}, []string{"aten::mm", "schema: aten::mm("}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Try(func() { Call(tc.op, tc.args...) })
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("Call(%q) returned %v, want a *torch.Error", tc.op, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// The in-place chain of the ATen issue: PyTorch gives x.grad = 6.
func TestInPlaceRecordedByAutograd(t *testing.T) {
	checkLive(t)
	tests := []struct {
		name    string
		inPlace func(y *Tensor)
	}{
		{"hand-written MulScalarInPlace", func(y *Tensor) { y.MulScalarInPlace(3) }},
		{"generated MulTensorInPlace", func(y *Tensor) { y.MulTensorInPlace(Scalar(3)) }},
		{"Call aten::mul_.Scalar", func(y *Tensor) { Call("aten::mul_.Scalar", y, 3.0) }},
		{"hand-written AddInPlace then MulInPlace", func(y *Tensor) { y.AddInPlace(Scalar(0), 1); y.MulInPlace(Scalar(3)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewScope()
			defer s.Close()
			x := FromSlice([]float32{1, 2}).SetRequiresGrad(true)
			y := x.MulScalar(2)
			tc.inPlace(y)
			y.Sum().Backward()
			if g := x.Grad().Float32s(); g[0] != 6 || g[1] != 6 {
				t.Errorf("x.grad = %v, want [6 6] (PyTorch's)", g)
			}
		})
	}
}

func TestInPlaceOnLeafRequiringGrad(t *testing.T) {
	checkLive(t)
	s := NewScope()
	defer s.Close()
	x := FromSlice([]float32{1, 2}).SetRequiresGrad(true)
	for name, f := range map[string]func(){
		"hand-written": func() { x.MulScalarInPlace(3) },
		"generated":    func() { x.MulTensorInPlace(Scalar(3)) },
		"Call":         func() { Call("aten::add_.Scalar", x, 1) },
	} {
		err := Try(f)
		var te *Error
		if !errors.As(err, &te) || !strings.Contains(te.Msg, "a leaf Variable that requires grad is being used in an in-place operation") {
			t.Errorf("%s: in-place op on a leaf requiring grad: %v, want PyTorch's error", name, err)
		}
	}
	// Under NoGrad, as an optimizer's update, it works and is not recorded.
	NoGrad(func() { x.MulScalarInPlace(3) })
	if v := x.Float32s(); v[0] != 3 || v[1] != 6 || !x.RequiresGrad() {
		t.Errorf("after an update under NoGrad x = %v requires_grad=%v, want [3 6] true", v, x.RequiresGrad())
	}
}

func TestGeneratedResults(t *testing.T) {
	checkLive(t)
	s := NewScope()
	defer s.Close()
	x := FromSlice([]float32{3, 1, 2})
	// An in-place op returns its receiver, not a new handle.
	if r := x.AbsInPlace(); r != x {
		t.Errorf("AbsInPlace returned %p, want its receiver %p", r, x)
	}
	// An out= variant returns the tensor it wrote.
	out := Zeros([]int64{3})
	if r := x.CumsumOut(0, nil, out); r != out || !slices.Equal(out.Float32s(), []float32{3, 4, 6}) {
		t.Errorf("CumsumOut returned %v (out %v), want out = [3 4 6]", r, out)
	}
	// Optional arguments: nil is None.
	if r := x.Cumsum(0, nil); r.DType() != Float32 {
		t.Errorf("Cumsum(dtype=None) has dtype %v", r.DType())
	}
	dt := Float64
	if r := x.Cumsum(0, &dt); r.DType() != Float64 {
		t.Errorf("Cumsum(dtype=float64) has dtype %v", r.DType())
	}
	// Package functions for ops without self; tensor lists in and out.
	parts := x.SplitTensor(1, 0)
	if len(parts) != 3 || Hstack(parts).Numel() != 3 {
		t.Errorf("Split/Hstack: %v", parts)
	}
	if !x.Equal(Where(x.GtScalar(0), x, x)) {
		t.Error("Equal")
	}
}

// Many goroutines calling the same operators at once (run with -race).
func TestCallConcurrent(t *testing.T) {
	checkLive(t)
	x := FromSlice([]float32{1, 5, 3, 4})
	defer x.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				v, i := x.Topk(1, 0, true, true)
				if v.Item() != 5 || i.Item() != 1 {
					t.Error("Topk from many goroutines")
				}
				v.Close()
				i.Close()
				for _, r := range Call("aten::sort", x) {
					r.(*Tensor).Close()
				}
			}
		}()
	}
	wg.Wait()
}
