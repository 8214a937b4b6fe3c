// A program that reaches ATen from its own module (built and run by scripts/library-check.sh,
// which compares its output with ref.py's, the same steps in PyTorch): an operator by schema
// name, an in-place chain through autograd, an in-place op refused on a leaf, and printing.
package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
)

func main() {
	x := torch.FromSlice([]float32{0.5, -1.25, 3, 2.75, 0})
	r := torch.Call("aten::topk", x, int64(2))
	fmt.Println("topk", r[0], r[1])
	v, i := x.Topk(2, -1, true, true) // the generated wrapper of the same operator
	fmt.Println("Topk", v, i)

	a := torch.FromSlice([]float32{1, 2}).SetRequiresGrad(true)
	y := a.MulScalar(2)
	y.MulScalarInPlace(3) // recorded by autograd
	y.Sum().Backward()
	fmt.Println("grad", a.Grad())

	err := torch.Try(func() { a.MulScalarInPlace(3) })
	var te *torch.Error
	msg, _, _ := strings.Cut(fmt.Sprint(err), "\n")
	if errors.As(err, &te) {
		msg, _, _ = strings.Cut(te.Msg, "\n")
	}
	fmt.Println("leaf", errors.As(err, &te), msg)

	fmt.Println(torch.FromSlice([]float32{1, 2.5, -3, 1e-4}, 2, 2))
	fmt.Println(a)
}
