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

// Warm-up then cosine decay: LinearLR raises the learning rate from a tenth of its value over
// 3 epochs, then CosineAnnealingLR takes it down to 0 over the 5 epochs left, as
//
//	warm = LinearLR(opt, start_factor=0.1, total_iters=3)
//	decay = CosineAnnealingLR(opt, T_max=5)
//	sched = SequentialLR(opt, [warm, decay], milestones=[3])
func ExampleNewSequentialLR() {
	w := torch.FromSlice([]float32{1, -2}).SetRequiresGrad(true)
	defer w.Close()
	opt, err := optim.NewSGD([]*torch.Tensor{w}, optim.SGDOptions{LR: new(1.0)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opt.Close()
	warm, err := optim.NewLinearLR(opt, optim.LinearLROptions{StartFactor: new(0.1), TotalIters: new(3)})
	if err != nil {
		fmt.Println(err)
		return
	}
	decay, err := optim.NewCosineAnnealingLR(opt, 5, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	sched, err := optim.NewSequentialLR(opt, []optim.LRScheduler{warm, decay}, []int{3})
	if err != nil {
		fmt.Println(err)
		return
	}
	for epoch := range 8 {
		fmt.Printf("epoch %d: lr %.4f\n", epoch, sched.LastLR()[0])
		// ... train one epoch: opt.Step() after every batch ...
		sched.Step()
	}
	// Output:
	// epoch 0: lr 0.1000
	// epoch 1: lr 0.4000
	// epoch 2: lr 0.7000
	// epoch 3: lr 1.0000
	// epoch 4: lr 0.9045
	// epoch 5: lr 0.6545
	// epoch 6: lr 0.3455
	// epoch 7: lr 0.0955
}

// Parameter groups with their own options, as PyTorch's
//
//	Adam([{"params": encoder, "lr": 1e-4}, {"params": head, "weight_decay": 0}], lr=1e-3, weight_decay=0.01)
func ExampleNewAdamGroups() {
	encoder := torch.FromSlice([]float32{1, 2}).SetRequiresGrad(true)
	head := torch.FromSlice([]float32{3}).SetRequiresGrad(true)
	defer encoder.Close()
	defer head.Close()
	opt, err := optim.NewAdamGroups([]optim.ParamGroup{
		{Params: []*torch.Tensor{encoder}, LR: new(1e-4)},
		{Params: []*torch.Tensor{head}, WeightDecay: new(0.0)},
	}, optim.AdamOptions{LR: new(1e-3), WeightDecay: 0.01})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opt.Close()
	for i, g := range opt.ParamGroups() {
		fmt.Printf("group %d: %d parameter(s), lr %g, weight decay %g\n", i, len(g.Params()), g.LR, g.WeightDecay)
	}
	// Output:
	// group 0: 1 parameter(s), lr 0.0001, weight decay 0.01
	// group 1: 1 parameter(s), lr 0.001, weight decay 0
}

// ReduceLROnPlateau halves the learning rate once the validation loss has not improved for
// more than Patience epochs.
func ExampleNewReduceLROnPlateau() {
	w := torch.FromSlice([]float32{1}).SetRequiresGrad(true)
	defer w.Close()
	opt, err := optim.NewSGD([]*torch.Tensor{w}, optim.SGDOptions{LR: new(0.1)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opt.Close()
	sched, err := optim.NewReduceLROnPlateau(opt, optim.ReduceLROnPlateauOptions{Factor: new(0.5), Patience: new(1)})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, valLoss := range []float64{0.9, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6} {
		sched.Step(valLoss)
		fmt.Printf("%.3f ", sched.LastLR()[0])
	}
	fmt.Println()
	// Output: 0.100 0.100 0.100 0.050 0.050 0.050 0.025
}
