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
}

// NewAdadelta returns an Adadelta optimizer over params.
func NewAdadelta(params []*torch.Tensor, o AdadeltaOptions) (*Adadelta, error) {
	return NewAdadeltaGroups([]ParamGroup{{Params: params}}, o)
}

// NewAdadeltaGroups returns an Adadelta optimizer over parameter groups with their own
// options (LR, Rho, Eps, WeightDecay), o giving the others.
func NewAdadeltaGroups(groups []ParamGroup, o AdadeltaOptions) (*Adadelta, error) {
	d := Group{LR: valueOr(o.LR, 1), Rho: valueOr(o.Rho, 0.9), Eps: valueOr(o.Eps, 1e-6), WeightDecay: o.WeightDecay}
	b, err := newBase("Adadelta", groups, d, []string{"lr", "rho", "eps", "weight_decay"}, validateAdadelta,
		[]string{"square_avg", "acc_delta"}, "int")
	if err != nil {
		return nil, err
	}
	return &Adadelta{base: b}, nil
}

func validateAdadelta(g *Group) error {
	switch {
	case !(g.LR >= 0) || math.IsInf(g.LR, 0):
		return fmt.Errorf("invalid learning rate %v", g.LR)
	case !(g.Rho >= 0 && g.Rho <= 1):
		return fmt.Errorf("invalid Rho %v (want 0 <= Rho <= 1)", g.Rho)
	case !(g.Eps >= 0) || math.IsInf(g.Eps, 0):
		return fmt.Errorf("invalid Eps %v", g.Eps)
	case !(g.WeightDecay >= 0) || math.IsInf(g.WeightDecay, 0):
		return fmt.Errorf("invalid weight decay %v", g.WeightDecay)
	}
	return nil
}

// Step updates every parameter that has a gradient.
func (a *Adadelta) Step() {
	a.eachGrad(func(i int, gr *Group, p, g *torch.Tensor) {
		st := a.state[i]
		if st == nil {
			st = a.initZeros(i, a.keys...)
		}
		st.step++
		if gr.WeightDecay != 0 {
			g = plusScaled(g, p, gr.WeightDecay)
		}
		rho := gr.Rho
		squareAvg, accDelta := st.bufs["square_avg"], st.bufs["acc_delta"]
		squareAvg.MulScalarInPlace(rho)
		squareAvg.AddcmulInPlace(g, g, 1-rho)
		std := squareAvg.AddScalar(gr.Eps).Sqrt()
		delta := accDelta.AddScalar(gr.Eps).Sqrt().Div(std).Mul(g)
		accDelta.MulScalarInPlace(rho)
		accDelta.AddcmulInPlace(delta, delta, 1-rho)
		p.AddInPlace(delta, -gr.LR)
	})
}
