package cases

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
)

// In-place chains on non-leaf tensors, recorded by autograd: y = x*2, then the chain's in-place
// ops on y, loss = (y*w).sum(); PyTorch's y, x.grad and z.grad against Go's. The chains mix
// the hand-written in-place methods (MulScalarInPlace, AddInPlace) and generated ones
// (MaskedFillScalarInPlace, ClampInPlace, MulTensorInPlace).
type inplaceArgs struct {
	Ops []string `json:"ops"`
}

var inplaceOps = map[string]func(y, z, mask *torch.Tensor){
	"mul_":         func(y, _, _ *torch.Tensor) { y.MulScalarInPlace(3) },
	"mul_tensor_":  func(y, z, _ *torch.Tensor) { y.MulTensorInPlace(z) },
	"add_":         func(y, z, _ *torch.Tensor) { y.AddInPlace(z, 0.5) },
	"masked_fill_": func(y, _, mask *torch.Tensor) { y.MaskedFillScalarInPlace(mask, 0.25) },
	"clamp_":       func(y, _, _ *torch.Tensor) { y.ClampInPlace(0.3, 1.5) },
}

func init() {
	for _, chain := range [][]string{
		{"mul_"}, {"mul_tensor_"}, {"add_"}, {"masked_fill_"}, {"clamp_"},
		{"mul_", "add_", "masked_fill_", "clamp_"},
		{"clamp_", "mul_tensor_", "add_", "mul_"},
	} {
		chain := chain
		name := "inplace"
		for _, op := range chain {
			name += "/" + op
		}
		Register(Case{
			Name: name,
			Build: func(dir string) error {
				torch.ManualSeed(7)
				in := &Dict{}
				in.Add("x", torch.Rand([]int64{3, 4}, torch.WithDType(torch.Float64)))
				in.Add("z", torch.Rand([]int64{3, 4}, torch.WithDType(torch.Float64)))
				in.Add("w", torch.Randn([]int64{3, 4}, torch.WithDType(torch.Float64)))
				return WriteInputs(dir, "inplace", inplaceArgs{Ops: chain}, in)
			},
			Check: func(dir string) (d float64, err error) {
				defer Recover(&err)
				in, want, err := ReadBoth(dir)
				if err != nil {
					return 0, err
				}
				x := in.MustGet("x").Clone().SetRequiresGrad(true)
				z := in.MustGet("z").Clone().SetRequiresGrad(true)
				mask := x.GtScalar(0.5)
				y := x.MulScalar(2)
				for _, op := range chain {
					f, ok := inplaceOps[op]
					if !ok {
						return 0, fmt.Errorf("unknown in-place op %q", op)
					}
					f(y, z, mask)
				}
				y.Mul(in.MustGet("w")).Sum().Backward()
				c := NewCmp(want)
				c.T("y", y)
				c.T("x.grad", x.Grad())
				zg := z.Grad()
				if zg == nil {
					zg = torch.Zeros([]int64{3, 4}, torch.WithDType(torch.Float64))
				}
				c.T("z.grad", zg)
				return c.Result(true)
			},
		})
	}
}
