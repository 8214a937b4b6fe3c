package torch_test

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
)

// A tensor prints as PyTorch's repr prints it.
func ExampleTensor_String() {
	a := torch.FromSlice([]float32{1, 2, 3})
	defer a.Close()
	b := torch.FromSlice([]int64{1, 2, 3, 4}, 2, 2)
	defer b.Close()
	c := torch.FromSlice([]float64{0.5, -1e-5, 1e8})
	defer c.Close()
	c.SetRequiresGrad(true)
	d := torch.Scalar(3.5)
	defer d.Close()
	e := torch.Zeros([]int64{0, 3})
	defer e.Close()
	fmt.Println(a)
	fmt.Println(b)
	fmt.Println(c)
	fmt.Println(d)
	fmt.Println(e)

	// As torch.set_printoptions(precision=2); restored on return.
	defer torch.SetPrintOptions(torch.SetPrintOptions(torch.PrintOptions{Precision: 2}))
	f := torch.FromSlice([]float32{3.14159, 2.71828})
	defer f.Close()
	fmt.Println(f)
	// Output:
	// tensor([1., 2., 3.])
	// tensor([[1, 2],
	//         [3, 4]])
	// tensor([ 5.0000e-01, -1.0000e-05,  1.0000e+08], dtype=torch.float64,
	//        requires_grad=True)
	// tensor(3.5000)
	// tensor([], size=(0, 3))
	// tensor([3.14, 2.72])
}
