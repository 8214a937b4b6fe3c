package optim_test

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/optim"
)

func ExampleNewAdam() {
	w := torch.FromSlice([]float32{1, -2}).SetRequiresGrad(true)
	defer w.Close()
	// The zero value is PyTorch's defaults; options whose default is not zero are pointers,
	// so β₁ = 0 is new(0.0) and nil stays "the default".
	opt, err := optim.NewAdam([]*torch.Tensor{w}, optim.AdamOptions{LR: new(0.1), Beta1: new(0.0)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opt.Close()
	torch.WithScope(func(*torch.Scope) {
		w.Mul(w).Sum().Backward() // gradient 2w
		opt.Step()
	})
	fmt.Printf("%.4f\n", w.Float32s()) // each weight moves by lr against its gradient's sign
	// Output: [0.9000 -1.9000]
}
