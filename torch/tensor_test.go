package torch

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// checkLive fails the test if tensors created during it are still open at its end.
func checkLive(t *testing.T) {
	t.Helper()
	start := Live()
	t.Cleanup(func() {
		if got := Live(); got != start {
			t.Errorf("Live() = %d at the end, %d at the start: tensors leaked", got, start)
		}
	})
}

func near(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol || math.IsNaN(float64(a[i])) != math.IsNaN(float64(b[i])) {
			return false
		}
	}
	return true
}

func TestFromSliceRoundTrip(t *testing.T) {
	checkLive(t)
	s := NewScope()
	defer s.Close()
	f32 := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if got := f32.Shape(); !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("shape = %v", got)
	}
	if f32.DType() != Float32 || f32.Device() != CPU || f32.Numel() != 6 || f32.Dim() != 2 || f32.Size(-1) != 3 {
		t.Errorf("got %v", f32)
	}
	if got := f32.Float32s(); !near(got, []float32{1, 2, 3, 4, 5, 6}, 0) {
		t.Errorf("Float32s = %v", got)
	}
	if got := FromSlice([]float64{1.5, -2}).Float64s(); got[0] != 1.5 || got[1] != -2 {
		t.Errorf("Float64s = %v", got)
	}
	if got := FromSlice([]int64{7, -8, 9}).Int64s(); got[0] != 7 || got[1] != -8 || got[2] != 9 {
		t.Errorf("Int64s = %v", got)
	}
	if got := FromSlice([]bool{true, false}).Bools(); !got[0] || got[1] {
		t.Errorf("Bools = %v", got)
	}
	if got := FromSlice([]float32{}).Numel(); got != 0 {
		t.Errorf("empty numel = %d", got)
	}
	if got := Scalar(2.5).Item(); got != 2.5 {
		t.Errorf("Scalar.Item = %v", got)
	}
	if got := Scalar(2.5).Dim(); got != 0 {
		t.Errorf("Scalar dim = %v", got)
	}
	if got := f32.ToDType(Int64).Int64s(); got[5] != 6 {
		t.Errorf("ToDType = %v", got)
	}
	if got := f32.To(CPU).Float32s(); got[0] != 1 {
		t.Errorf("To = %v", got)
	}
	if f32.String() != "tensor([[1., 2., 3.],\n        [4., 5., 6.]])" {
		t.Errorf("String = %q", f32.String())
	}
}

func TestOps(t *testing.T) {
	checkLive(t)
	s := NewScope()
	defer s.Close()
	a := FromSlice([]float32{1, -2, 3, -4}, 2, 2)
	b := FromSlice([]float32{0.5, 2, -1, 4}, 2, 2)
	p := FromSlice([]float32{1, 4, 9, 16}, 2, 2)
	cases := []struct {
		name  string
		got   *Tensor
		want  []float32
		shape []int64
	}{
		{"add", a.Add(b), []float32{1.5, 0, 2, 0}, []int64{2, 2}},
		{"sub", a.Sub(b), []float32{0.5, -4, 4, -8}, []int64{2, 2}},
		{"mul", a.Mul(b), []float32{0.5, -4, -3, -16}, []int64{2, 2}},
		{"div", a.Div(b), []float32{2, -1, -3, -1}, []int64{2, 2}},
		{"pow", p.Pow(FromSlice([]float32{0.5})), []float32{1, 2, 3, 4}, []int64{2, 2}},
		{"matmul", a.Matmul(b), []float32{2.5, -6, 5.5, -10}, []int64{2, 2}},
		{"add scalar", a.AddScalar(1), []float32{2, -1, 4, -3}, []int64{2, 2}},
		{"sub scalar", a.SubScalar(1), []float32{0, -3, 2, -5}, []int64{2, 2}},
		{"mul scalar", a.MulScalar(-2), []float32{-2, 4, -6, 8}, []int64{2, 2}},
		{"div scalar", a.DivScalar(2), []float32{0.5, -1, 1.5, -2}, []int64{2, 2}},
		{"pow scalar", a.PowScalar(2), []float32{1, 4, 9, 16}, []int64{2, 2}},
		{"rsub scalar", a.RSubScalar(1), []float32{0, 3, -2, 5}, []int64{2, 2}},
		{"neg", a.Neg(), []float32{-1, 2, -3, 4}, []int64{2, 2}},
		{"abs", a.Abs(), []float32{1, 2, 3, 4}, []int64{2, 2}},
		{"exp", FromSlice([]float32{0, 1}).Exp(), []float32{1, float32(math.E)}, []int64{2}},
		{"log", FromSlice([]float32{1, float32(math.E)}).Log(), []float32{0, 1}, []int64{2}},
		{"sqrt", p.Sqrt(), []float32{1, 2, 3, 4}, []int64{2, 2}},
		{"relu", a.Relu(), []float32{1, 0, 3, 0}, []int64{2, 2}},
		{"tanh", FromSlice([]float32{0, 1}).Tanh(), []float32{0, float32(math.Tanh(1))}, []int64{2}},
		{"sigmoid", FromSlice([]float32{0, 2}).Sigmoid(), []float32{0.5, float32(1 / (1 + math.Exp(-2)))}, []int64{2}},
		{"clamp", a.Clamp(-1, 2), []float32{1, -1, 2, -1}, []int64{2, 2}},
		{"clamp min", a.ClampMin(0), []float32{1, 0, 3, 0}, []int64{2, 2}},
		{"clamp max", a.ClampMax(0), []float32{0, -2, 0, -4}, []int64{2, 2}},
		{"maximum", a.Maximum(b), []float32{1, 2, 3, 4}, []int64{2, 2}},
		{"minimum", a.Minimum(b), []float32{0.5, -2, -1, -4}, []int64{2, 2}},
		{"sum", a.Sum(), []float32{-2}, []int64{}},
		{"sum dim0", a.SumDim(false, 0), []float32{4, -6}, []int64{2}},
		{"sum dim1 keep", a.SumDim(true, 1), []float32{-1, -1}, []int64{2, 1}},
		{"mean", a.Mean(), []float32{-0.5}, []int64{}},
		{"mean dim1", a.MeanDim(false, 1), []float32{-0.5, -0.5}, []int64{2}},
		{"max", a.Max(), []float32{3}, []int64{}},
		{"min", a.Min(), []float32{-4}, []int64{}},
		{"norm p2 dim1", a.Norm(2, false, 1), []float32{float32(math.Sqrt(5)), 5}, []int64{2}},
		{"norm p1 all", a.Norm(1, false), []float32{10}, []int64{}},
		{"softmax", FromSlice([]float32{0, 0, 0, float32(math.Log(3))}, 2, 2).Softmax(1), []float32{0.5, 0.5, 0.25, 0.75}, []int64{2, 2}},
		{"log softmax", FromSlice([]float32{0, 0}, 1, 2).LogSoftmax(1), []float32{float32(-math.Ln2), float32(-math.Ln2)}, []int64{1, 2}},
		{"cat 0", Cat([]*Tensor{a, b}, 0), []float32{1, -2, 3, -4, 0.5, 2, -1, 4}, []int64{4, 2}},
		{"cat 1", Cat([]*Tensor{a, b}, 1), []float32{1, -2, 0.5, 2, 3, -4, -1, 4}, []int64{2, 4}},
		{"stack", Stack([]*Tensor{a, b}, 0), []float32{1, -2, 3, -4, 0.5, 2, -1, 4}, []int64{2, 2, 2}},
		{"view", a.View(4), []float32{1, -2, 3, -4}, []int64{4}},
		{"view -1", a.View(-1, 1), []float32{1, -2, 3, -4}, []int64{4, 1}},
		{"reshape", a.Transpose(0, 1).Reshape(4), []float32{1, 3, -2, -4}, []int64{4}},
		{"transpose contiguous", a.Transpose(0, 1).Contiguous(), []float32{1, 3, -2, -4}, []int64{2, 2}},
		{"permute", a.Permute(1, 0).Contiguous(), []float32{1, 3, -2, -4}, []int64{2, 2}},
		{"unsqueeze", a.Unsqueeze(0), []float32{1, -2, 3, -4}, []int64{1, 2, 2}},
		{"squeeze", a.Unsqueeze(0).Unsqueeze(3).Squeeze(), []float32{1, -2, 3, -4}, []int64{2, 2}},
		{"squeeze dim", a.Unsqueeze(0).SqueezeDim(0), []float32{1, -2, 3, -4}, []int64{2, 2}},
		{"expand", FromSlice([]float32{1, 2}, 2, 1).Expand(2, 3).Contiguous(), []float32{1, 1, 1, 2, 2, 2}, []int64{2, 3}},
		{"index select", a.IndexSelect(0, FromSlice([]int64{1, 0, 1})), []float32{3, -4, 1, -2, 3, -4}, []int64{3, 2}},
		{"gather", a.Gather(1, FromSlice([]int64{1, 0}, 2, 1)), []float32{-2, 3}, []int64{2, 1}},
		{"narrow", a.Narrow(1, 1, 1).Contiguous(), []float32{-2, -4}, []int64{2, 1}},
		{"where", Where(a.GtScalar(0), a, b), []float32{1, 2, 3, 4}, []int64{2, 2}},
		{"masked fill", a.MaskedFill(a.LtScalar(0), 0), []float32{1, 0, 3, 0}, []int64{2, 2}},
		{"dropout eval", Dropout(a, 0.5, false), []float32{1, -2, 3, -4}, []int64{2, 2}},
		{"dropout p0", Dropout(a, 0, true), []float32{1, -2, 3, -4}, []int64{2, 2}},
		{"detach", a.Detach(), []float32{1, -2, 3, -4}, []int64{2, 2}},
		{"clone", a.Clone(), []float32{1, -2, 3, -4}, []int64{2, 2}},
		{"linear", Linear(a, b, FromSlice([]float32{1, -1})), []float32{-2.5, -10, -5.5, -20}, []int64{2, 2}},
		{"linear no bias", Linear(a, b, nil), []float32{-3.5, -9, -6.5, -19}, []int64{2, 2}},
		{"embedding", Embedding(b, FromSlice([]int64{1, 1, 0}), -1), []float32{-1, 4, -1, 4, 0.5, 2}, []int64{3, 2}},
		{"zeros", Zeros([]int64{2}), []float32{0, 0}, []int64{2}},
		{"ones", Ones([]int64{1, 2}), []float32{1, 1}, []int64{1, 2}},
		{"full", Full([]int64{3}, 2.5), []float32{2.5, 2.5, 2.5}, []int64{3}},
		{"arange float", Arange(0, 1, 0.25), []float32{0, 0.25, 0.5, 0.75}, []int64{4}},
		{"arange int as float", Arange(1, 4, 1).ToDType(Float32), []float32{1, 2, 3}, []int64{3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.got.Shape(); !slices.Equal(got, c.shape) {
				t.Fatalf("shape = %v, want %v", got, c.shape)
			}
			if got := c.got.Float32s(); !near(got, c.want, 1e-6) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestComparisonsAndIndices(t *testing.T) {
	checkLive(t)
	WithScope(func(s *Scope) {
		a := FromSlice([]float32{1, 5, 3, 2}, 2, 2)
		b := FromSlice([]float32{1, 4, 4, 2}, 2, 2)
		cases := []struct {
			name string
			got  *Tensor
			want []bool
		}{
			{"eq", a.Eq(b), []bool{true, false, false, true}},
			{"ne", a.Ne(b), []bool{false, true, true, false}},
			{"lt", a.Lt(b), []bool{false, false, true, false}},
			{"le", a.Le(b), []bool{true, false, true, true}},
			{"gt", a.Gt(b), []bool{false, true, false, false}},
			{"ge", a.Ge(b), []bool{true, true, false, true}},
			{"eq scalar", a.EqScalar(3), []bool{false, false, true, false}},
			{"ne scalar", a.NeScalar(3), []bool{true, true, false, true}},
			{"le scalar", a.LeScalar(2), []bool{true, false, false, true}},
			{"ge scalar", a.GeScalar(3), []bool{false, true, true, false}},
			{"not", a.Eq(b).LogicalNot(), []bool{false, true, true, false}},
			{"and", a.GeScalar(2).LogicalAnd(a.LeScalar(3)), []bool{false, false, true, true}},
			{"or", a.LtScalar(2).LogicalOr(a.GtScalar(4)), []bool{true, true, false, false}},
		}
		for _, c := range cases {
			got := c.got.Bools()
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("%s: got %v, want %v", c.name, got, c.want)
					break
				}
			}
		}
		v, i := a.MaxDim(1, false)
		if got := v.Float32s(); !near(got, []float32{5, 3}, 0) {
			t.Errorf("MaxDim values = %v", got)
		}
		if got := i.Int64s(); got[0] != 1 || got[1] != 0 {
			t.Errorf("MaxDim indices = %v", got)
		}
		if got := a.Argmax(0, false).Int64s(); got[0] != 1 || got[1] != 0 {
			t.Errorf("Argmax = %v", got)
		}
		sv, si := FromSlice([]int64{3, 1, 2}).Sort(0, true)
		if got := sv.Int64s(); got[0] != 3 || got[2] != 1 {
			t.Errorf("Sort values = %v", got)
		}
		if got := si.Int64s(); got[0] != 0 || got[1] != 2 || got[2] != 1 {
			t.Errorf("Sort indices = %v", got)
		}
	})
}

func TestRandomIsSeeded(t *testing.T) {
	checkLive(t)
	WithScope(func(s *Scope) {
		ManualSeed(7)
		a := Rand([]int64{5}).Float32s()
		p := Randperm(6).Int64s()
		n := Randn([]int64{3}, WithDType(Float64)).Float64s()
		ManualSeed(7)
		b := Rand([]int64{5}).Float32s()
		q := Randperm(6).Int64s()
		m := Randn([]int64{3}, WithDType(Float64)).Float64s()
		if !near(a, b, 0) || n[0] != m[0] {
			t.Errorf("same seed, different samples: %v %v", a, b)
		}
		seen := map[int64]bool{}
		for i := range p {
			if p[i] != q[i] {
				t.Errorf("randperm differs: %v %v", p, q)
			}
			seen[p[i]] = true
		}
		if len(seen) != 6 {
			t.Errorf("randperm is not a permutation: %v", p)
		}
		for _, v := range a {
			if v < 0 || v >= 1 {
				t.Errorf("rand out of [0,1): %v", a)
			}
		}
	})
}

func TestAutograd(t *testing.T) {
	checkLive(t)
	WithScope(func(s *Scope) {
		x := FromSlice([]float32{1, 2, 3}).SetRequiresGrad(true)
		if !x.RequiresGrad() {
			t.Fatal("RequiresGrad = false")
		}
		if x.Grad() != nil {
			t.Fatal("grad before backward should be nil")
		}
		y := x.Mul(x).Sum() // dy/dx = 2x
		y.Backward()
		if got := x.Grad().Float32s(); !near(got, []float32{2, 4, 6}, 1e-6) {
			t.Errorf("grad = %v", got)
		}
		// Gradients accumulate, as in PyTorch.
		x.Mul(x).Sum().Backward()
		if got := x.Grad().Float32s(); !near(got, []float32{4, 8, 12}, 1e-6) {
			t.Errorf("accumulated grad = %v", got)
		}
		x.ZeroGrad()
		if x.Grad() != nil {
			t.Error("grad after ZeroGrad should be nil")
		}
		z := x.MulScalar(3)
		z.BackwardWith(FromSlice([]float32{1, 0, -1}), false)
		if got := x.Grad().Float32s(); !near(got, []float32{3, 0, -3}, 1e-6) {
			t.Errorf("grad with gradient = %v", got)
		}
		if x.Detach().RequiresGrad() {
			t.Error("Detach kept requires_grad")
		}
		NoGrad(func() {
			if GradEnabled() {
				t.Error("grad enabled inside NoGrad")
			}
			if x.MulScalar(2).RequiresGrad() {
				t.Error("op inside NoGrad requires grad")
			}
		})
		if !GradEnabled() {
			t.Error("NoGrad did not restore grad mode")
		}
	})
}

func TestInPlace(t *testing.T) {
	checkLive(t)
	WithScope(func(s *Scope) {
		w := FromSlice([]float32{1, 2}).SetRequiresGrad(true)
		g := FromSlice([]float32{0.5, 1})
		// A leaf that requires grad is updated under NoGrad, as torch.no_grad() in PyTorch.
		SetGradEnabled(false)
		defer SetGradEnabled(true)
		w.AddInPlace(g, -2)
		w.MulScalarInPlace(2)
		w.AddScalarInPlace(1)
		if got := w.Float32s(); !near(got, []float32{1, 1}, 1e-6) {
			t.Errorf("after add_/mul_ = %v", got)
		}
		w.AddcmulInPlace(g, g, 4)  // + 4*g*g = 1, 4
		w.AddcdivInPlace(g, g, -1) // - 1
		w.MulInPlace(FromSlice([]float32{2, 3}))
		if got := w.Float32s(); !near(got, []float32{2, 12}, 1e-6) {
			t.Errorf("after addcmul_/addcdiv_/mul_ = %v", got)
		}
		w.CopyFrom(FromSlice([]float64{7, 8}))
		if got := w.Float32s(); !near(got, []float32{7, 8}, 0) {
			t.Errorf("after copy_ = %v", got)
		}
		w.Fill(3)
		if got := w.Float32s(); !near(got, []float32{3, 3}, 0) {
			t.Errorf("after fill_ = %v", got)
		}
		w.UniformInPlace(-0.1, 0.1)
		for _, v := range w.Float32s() {
			if v < -0.1 || v > 0.1 {
				t.Errorf("uniform_ out of range: %v", v)
			}
		}
		w.NormalInPlace(0, 1)
		if !w.RequiresGrad() {
			t.Error("in-place ops changed requires_grad")
		}
	})
}

func TestErrors(t *testing.T) {
	checkLive(t)
	WithScope(func(s *Scope) {
		a := Zeros([]int64{2, 3})
		b := Zeros([]int64{4, 5})
		cases := []struct {
			name string
			f    func()
			want string
		}{
			{"matmul shapes", func() { a.Matmul(b) }, "cannot be multiplied"},
			{"view bad", func() { a.View(7) }, "invalid for input of size 6"},
			{"cat dims", func() { Cat([]*Tensor{a, Zeros([]int64{2})}, 0) }, "Tensors must have same number of dimensions"},
			{"closed tensor", func() { c := Zeros([]int64{1}); c.Close(); c.Neg() }, "closed tensor"},
			{"nil tensor", func() { var n *Tensor; n.Neg() }, "nil or closed"},
			{"wrong dtype out", func() { a.Int64s() }, "dtype float32, want int64"},
			{"shape data mismatch", func() { FromSlice([]float32{1, 2, 3}, 2, 2) }, "holds 4 elements, data has 3"},
			{"index out of range", func() { a.IndexSelect(0, FromSlice([]int64{5})) }, "out of range"},
			{"item of many", func() { a.Item() }, "cannot be converted to Scalar"},
			{"size dim", func() { a.Size(3) }, "out of range"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				// A subtest runs on a goroutine of its own, outside the scope opened above:
				// scopes belong to the goroutine that opens them.
				err := Try(func() { WithScope(func(*Scope) { c.f() }) })
				if err == nil {
					t.Fatal("no error")
				}
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error %T is not *torch.Error", err)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q does not contain %q", err, c.want)
				}
				if strings.Contains(err.Error(), "Exception raised from") {
					t.Errorf("error carries a C++ backtrace: %q", err)
				}
			})
		}
	})
	if err := Try(func() {}); err != nil {
		t.Errorf("Try(ok) = %v", err)
	}
	if err := SetNumThreads(0); err == nil {
		t.Error("SetNumThreads(0) accepted")
	}
}

func TestTryPassesOtherPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want boom", r)
		}
	}()
	_ = Try(func() { panic("boom") })
}

func TestScope(t *testing.T) {
	checkLive(t)
	start := Live()
	var kept *Tensor
	outer := NewScope()
	a := Zeros([]int64{2})
	inner := NewScope()
	b := a.AddScalar(1)
	kept = b.MulScalar(2)
	inner.Keep(kept)
	inner.Close()
	if !b.Closed() || kept.Closed() || a.Closed() {
		t.Fatalf("inner close: b closed %v, kept closed %v, a closed %v", b.Closed(), kept.Closed(), a.Closed())
	}
	// A scope left open inside another is closed with it.
	_ = NewScope()
	c := Zeros([]int64{1})
	outer.Close()
	outer.Close() // idempotent
	if !a.Closed() || !c.Closed() {
		t.Error("outer close left tensors open")
	}
	if got := Live(); got != start+1 {
		t.Errorf("Live = %d, want %d (the kept tensor)", got, start+1)
	}
	kept.Close()
	kept.Close()
	var nilT *Tensor
	nilT.Close()
}

func TestScopeEscape(t *testing.T) {
	checkLive(t)
	start := Live()
	outer := NewScope()
	inner := NewScope()
	tmp := Zeros([]int64{2})
	res := inner.Escape(tmp.AddScalar(1))
	if got := inner.Escape(nil); got != nil {
		t.Errorf("Escape(nil) = %v", got)
	}
	inner.Close()
	if !tmp.Closed() || res.Closed() {
		t.Fatalf("inner close: tmp closed %v (want true), escaped result closed %v (want false)", tmp.Closed(), res.Closed())
	}
	if res.scope.Load() != outer {
		t.Fatalf("the escaped tensor belongs to %p, want the outer scope %p", res.scope.Load(), outer)
	}
	// Escaping twice in a row moves a result up two scopes, as nested calls would.
	mid := NewScope()
	deep := NewScope()
	up := mid.Escape(deep.Escape(Ones([]int64{1})))
	deep.Close()
	mid.Close()
	if up.Closed() || up.scope.Load() != outer {
		t.Fatalf("twice-escaped tensor: closed %v, in outer %v", up.Closed(), up.scope.Load() == outer)
	}
	// A tensor of another scope, or one already kept, is left alone.
	other := NewScope()
	if other.Escape(res) != res || res.scope.Load() != outer {
		t.Error("Escape moved a tensor that was not the scope's")
	}
	other.Close()
	outer.Close()
	if !res.Closed() || !up.Closed() {
		t.Error("closing the outer scope left escaped tensors open")
	}
	// With no enclosing scope Escape is Keep: the caller owns the tensor, with the leak net.
	top := NewScope()
	owned := top.Escape(Ones([]int64{1}))
	top.Close()
	if owned.Closed() || owned.scope.Load() != nil || !owned.watched {
		t.Errorf("escape from the outermost scope: closed %v, scoped %v, watched %v", owned.Closed(), owned.scope.Load() != nil, owned.watched)
	}
	owned.Close()
	if got := Live(); got != start {
		t.Errorf("Live = %d, want %d", got, start)
	}
}

func TestUnscope(t *testing.T) {
	checkLive(t)
	start := Live()
	var a, b *Tensor
	WithScope(func(*Scope) {
		WithScope(func(*Scope) {
			a, b = Zeros([]int64{1}), Zeros([]int64{1})
			Unscope(a, nil)
		})
		Unscope(b) // already freed by the inner scope: nothing to do
	})
	if a.Closed() || !b.Closed() || a.scope.Load() != nil || !a.watched {
		t.Fatalf("a closed %v scoped %v watched %v; b closed %v", a.Closed(), a.scope.Load() != nil, a.watched, b.Closed())
	}
	Unscope(a) // unscoped already: no change
	a.Close()
	if got := Live(); got != start {
		t.Errorf("Live = %d, want %d", got, start)
	}
}

func TestDevice(t *testing.T) {
	cases := []struct {
		in      string
		want    Device
		wantErr string
	}{
		{"cpu", CPU, ""},
		{" CPU ", CPU, ""},
		{"auto", CPU, ""},
		{"gpu", CPU, "want cpu, cuda, cuda:N or auto"},
		{"cuda:x", CPU, "want cpu, cuda, cuda:N"},
	}
	if !CUDABuild() {
		cases = append(cases,
			struct {
				in      string
				want    Device
				wantErr string
			}{"cuda", CPU, "has no CUDA support"},
			struct {
				in      string
				want    Device
				wantErr string
			}{"cuda:1", CPU, "has no CUDA support"})
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseDevice(c.in)
			if c.in == "auto" && CUDAAvailable() {
				c.want = CUDA(0)
			}
			if c.wantErr == "" {
				if err != nil || got != c.want {
					t.Errorf("ParseDevice(%q) = %v, %v", c.in, got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseDevice(%q) error = %v, want one line containing %q", c.in, err, c.wantErr)
			}
		})
	}
	if CUDA(1).String() != "cuda:1" || CPU.String() != "cpu" {
		t.Error("Device.String")
	}
}

func TestRuntimeInfo(t *testing.T) {
	if v := Version(); !strings.Contains(v, ".") {
		t.Errorf("Version = %q", v)
	}
	if err := SetNumThreads(1); err != nil {
		t.Fatal(err)
	}
	if got := NumThreads(); got != 1 {
		t.Errorf("NumThreads = %d", got)
	}
	if n := CUDADeviceCount(); n < 0 {
		t.Errorf("CUDADeviceCount = %d", n)
	}
}

func TestSaveLoadDict(t *testing.T) {
	checkLive(t)
	path := filepath.Join(t.TempDir(), "sd.pt")
	WithScope(func(s *Scope) {
		w := FromSlice([]float32{1, 2, 3, 4}, 2, 2)
		b := FromSlice([]int64{5, 6})
		if err := SaveDict(path, []string{"linear.weight", "linear.bias"}, []*Tensor{w, b}); err != nil {
			t.Fatal(err)
		}
		names, ts, err := LoadDict(path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			for _, x := range ts {
				x.Close()
			}
		}()
		if len(names) != 2 || names[0] != "linear.weight" || names[1] != "linear.bias" {
			t.Fatalf("names = %v", names)
		}
		if got := ts[0].Float32s(); !near(got, []float32{1, 2, 3, 4}, 0) || !slices.Equal(ts[0].Shape(), []int64{2, 2}) {
			t.Errorf("weight = %v", got)
		}
		if got := ts[1].Int64s(); got[1] != 6 {
			t.Errorf("bias = %v", got)
		}
	})
	if _, _, err := LoadDict(filepath.Join(t.TempDir(), "missing.pt")); err == nil {
		t.Error("LoadDict of a missing file succeeded")
	}
	if err := SaveDict(filepath.Join(t.TempDir(), "no", "dir.pt"), nil, nil); err == nil {
		t.Error("SaveDict into a missing folder succeeded")
	}
}

// TestLoadPythonSaved reads a file written by Python's torch.save (an OrderedDict with a
// transposed view, a storage offset, and int64/bool/int32 tensors), committed as a fixture.
func TestLoadPythonSaved(t *testing.T) {
	checkLive(t)
	names, ts, err := LoadDict(filepath.Join("testdata", "python_saved.pt"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, x := range ts {
			x.Close()
		}
	}()
	want := []string{"w_t", "narrow", "ids", "mask", "i32"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("names = %v, want %v", names, want)
	}
	if got := ts[0].Float32s(); !near(got, []float32{0, 3, 1, 4, 2, 5}, 0) || !slices.Equal(ts[0].Shape(), []int64{3, 2}) {
		t.Errorf("w_t = %v %v", got, ts[0].Shape())
	}
	if got := ts[1].Float64s(); len(got) != 3 || got[0] != 3 || got[2] != 5 {
		t.Errorf("narrow = %v", got)
	}
	if got := ts[2].Int64s(); got[0] != 1 || got[1] != -2 {
		t.Errorf("ids = %v", got)
	}
	if got := ts[3].Bools(); !got[0] || got[1] {
		t.Errorf("mask = %v", got)
	}
	if ts[4].DType() != Int32 {
		t.Errorf("i32 dtype = %v", ts[4].DType())
	}
	bad := filepath.Join(t.TempDir(), "bad.pt")
	if err := os.WriteFile(bad, []byte("not a pickle"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadDict(bad); err == nil || !strings.Contains(err.Error(), "bad.pt") {
		t.Errorf("LoadDict(garbage) error = %v", err)
	}
}

func TestToCUDAWithoutCUDA(t *testing.T) {
	if CUDAAvailable() {
		t.Skip("CUDA present")
	}
	checkLive(t)
	a := Zeros([]int64{2})
	defer a.Close()
	err := Try(func() { a.To(CUDA(0)) })
	if err == nil {
		t.Fatal("moving to CUDA without CUDA succeeded")
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}
