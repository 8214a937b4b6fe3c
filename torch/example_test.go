package torch_test

import (
	"errors"
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
)

func ExampleFromSlice() {
	t := torch.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	defer t.Close()
	fmt.Println(t.Shape(), t.DType(), t.Device())
	fmt.Println(t.Float32s())
	// Output:
	// [2 3] float32 cpu
	// [1 2 3 4 5 6]
}

func ExampleScope() {
	s := torch.NewScope()
	a := torch.Ones([]int64{2, 2})
	b := a.MulScalar(3).Sum() // intermediate tensors belong to the scope
	s.Keep(b)                 // b survives the scope; the caller owns it
	s.Close()
	defer b.Close()
	fmt.Println(b.Item(), a.Closed())
	// Output: 12 true
}

func ExampleTry() {
	a := torch.Zeros([]int64{2, 3})
	b := torch.Zeros([]int64{4, 5})
	defer a.Close()
	defer b.Close()
	err := torch.Try(func() { a.Matmul(b) })
	fmt.Println(err)
	// Output: torch: Matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)
}

func ExampleRun() {
	start := torch.Live()
	// A boundary: tensor code inside panics with *torch.Error, Run returns it as an error and
	// frees every tensor f created (a and b too, though the panic skipped any Close).
	err := torch.Run(func() error {
		a := torch.Zeros([]int64{2, 3})
		b := torch.Zeros([]int64{4, 5})
		a.Matmul(b)
		return nil
	})
	var te *torch.Error
	fmt.Println(err)
	fmt.Println(errors.As(err, &te), te.Op, torch.Live() == start)

	// A result that must outlive Run is taken out of its scope; the caller then owns it.
	var sum *torch.Tensor
	err = torch.Run(func() error {
		sum = torch.Ones([]int64{2, 2}).MulScalar(3).Sum()
		torch.Unscope(sum)
		return nil
	})
	defer sum.Close()
	fmt.Println(err, sum.Item(), torch.Live() == start+1)
	// Output:
	// torch: Matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)
	// true Matmul true
	// <nil> 12 true
}

func ExampleNoGrad() {
	w := torch.FromSlice([]float32{1, 2}).SetRequiresGrad(true)
	defer w.Close()
	torch.NoGrad(func() {
		y := w.MulScalar(2)
		defer y.Close()
		fmt.Println(y.RequiresGrad())
	})
	// Output: false
}

func ExampleTensor_Backward() {
	torch.WithScope(func(s *torch.Scope) {
		x := torch.FromSlice([]float32{1, 2, 3}).SetRequiresGrad(true)
		x.Mul(x).Sum().Backward() // d/dx sum(x²) = 2x
		fmt.Println(x.Grad().Float32s())
	})
	// Output: [2 4 6]
}

func ExampleParseDevice() {
	d, err := torch.ParseDevice("cpu")
	fmt.Println(d, err)
	// Output: cpu <nil>
}

func ExampleScope_Escape() {
	outer := torch.NewScope()
	defer outer.Close()
	// sumOfSquares runs in a scope of its own: its intermediates are freed when it returns,
	// and its result escapes into the caller's scope.
	sumOfSquares := func(x *torch.Tensor) *torch.Tensor {
		s := torch.NewScope()
		defer s.Close()
		sq := x.Mul(x) // freed by s.Close
		return s.Escape(sq.Sum())
	}
	before := torch.Live()
	y := sumOfSquares(torch.FromSlice([]float32{1, 2, 3}))
	fmt.Println(y.Item(), torch.Live()-before) // the input and y: both belong to outer
	// Output: 14 2
}

// Any ATen operator by its schema name, with Go values for arguments and results; trailing
// arguments left out take the schema's defaults.
func ExampleCall() {
	x := torch.FromSlice([]float32{0.5, -1.25, 3, 2.75})
	defer x.Close()
	r := torch.Call("aten::topk", x, int64(2)) // (Tensor values, Tensor indices)
	values, indices := r[0].(*torch.Tensor), r[1].(*torch.Tensor)
	defer values.Close()
	defer indices.Close()
	fmt.Println(values, indices)
	fmt.Println(torch.Call("aten::size.int", x, int64(0))[0])
	// Output:
	// tensor([3.0000, 2.7500]) tensor([2, 3])
	// 4
}

// The generated wrapper of aten::topk takes every schema argument; an in-place wrapper
// returns its receiver.
func ExampleTensor_Topk() {
	x := torch.FromSlice([]float32{0.5, -1.25, 3, 2.75})
	defer x.Close()
	values, indices := x.Topk(2, -1, true, true)
	defer values.Close()
	defer indices.Close()
	fmt.Println(values, indices)
	fmt.Println(x.AbsInPlace() == x, x)
	// Output:
	// tensor([3.0000, 2.7500]) tensor([2, 3])
	// true tensor([0.5000, 1.2500, 3.0000, 2.7500])
}
