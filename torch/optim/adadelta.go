package optim

import (
	"fmt"
	"math"

	"github.com/seqtorch/seqtorch/torch"
)

// AdadeltaOptions configures Adadelta; the zero value is PyTorch's defaults, with pointers
// for the options whose default is not zero (nil: the default), as AdamOptions.
type AdadeltaOptions struct {
	LR          *float64 // scales the update (nil: 1.0)
	Rho         *float64 // running-average decay (nil: 0.9)
	Eps         *float64 // numerical stability term (nil: 1e-6)
	WeightDecay float64  // L2 penalty added to the gradient (0: none)
}

// Adadelta is torch.optim.Adadelta (Zeiler 2012):
//
//	g = grad + weight_decay·p
//	v = ρ·v + (1−ρ)·g²
//	δ = √(u + eps) / √(v + eps) · g
//	u = ρ·u + (1−ρ)·δ²
//	p = p − lr·δ
type Adadelta struct {
	base
	rho, eps, wd float64
}

// NewAdadelta returns an Adadelta optimizer over params.
func NewAdadelta(params []*torch.Tensor, o AdadeltaOptions) (*Adadelta, error) {
	lr, rho, eps := valueOr(o.LR, 1), valueOr(o.Rho, 0.9), valueOr(o.Eps, 1e-6)
	switch {
	case !(lr >= 0) || math.IsInf(lr, 0):
		return nil, fmt.Errorf("optim: NewAdadelta: invalid learning rate %v", lr)
	case !(rho >= 0 && rho <= 1):
		return nil, fmt.Errorf("optim: NewAdadelta: invalid Rho %v (want 0 <= Rho <= 1)", rho)
	case !(eps >= 0) || math.IsInf(eps, 0):
		return nil, fmt.Errorf("optim: NewAdadelta: invalid Eps %v", eps)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return nil, fmt.Errorf("optim: NewAdadelta: invalid weight decay %v", o.WeightDecay)
	}
	b, err := newBase("Adadelta", params, lr, []string{"square_avg", "acc_delta"}, "int")
	if err != nil {
		return nil, err
	}
	return &Adadelta{base: b, rho: rho, eps: eps, wd: o.WeightDecay}, nil
}

// Step updates every parameter that has a gradient.
func (a *Adadelta) Step() {
	a.eachGrad(func(i int, p, g *torch.Tensor) {
		st := a.state[i]
		if st == nil {
			st = a.initZeros(i, a.keys...)
		}
		st.step++
		if a.wd != 0 {
			g = plusScaled(g, p, a.wd)
		}
		squareAvg, accDelta := st.bufs["square_avg"], st.bufs["acc_delta"]
		squareAvg.MulScalarInPlace(a.rho)
		squareAvg.AddcmulInPlace(g, g, 1-a.rho)
		std := squareAvg.AddScalar(a.eps).Sqrt()
		delta := accDelta.AddScalar(a.eps).Sqrt().Div(std).Mul(g)
		accDelta.MulScalarInPlace(a.rho)
		accDelta.AddcmulInPlace(delta, delta, 1-a.rho)
		p.AddInPlace(delta, -a.lr)
	})
}
