package optim

import (
	"fmt"
	"math"

	"github.com/seqtorch/seqtorch/torch"
)

// AdamOptions configures Adam; the zero value is PyTorch's defaults. Options whose default
// is not zero are pointers, nil meaning the default, so that zero stays expressible:
// AdamOptions{LR: new(0.01), Beta1: new(0.0)} (see the package documentation).
type AdamOptions struct {
	LR          *float64 // learning rate (nil: 1e-3)
	Beta1       *float64 // first-moment decay, betas[0] (nil: 0.9)
	Beta2       *float64 // second-moment decay, betas[1] (nil: 0.999)
	Eps         *float64 // added to the denominator (nil: 1e-8)
	WeightDecay float64  // L2 penalty added to the gradient (0: none)
	AMSGrad     bool     // use the maximum of past second moments
}

// AdamWOptions configures AdamW; the zero value is PyTorch's defaults, with pointers for the
// options whose default is not zero, as AdamOptions.
type AdamWOptions struct {
	LR          *float64 // learning rate (nil: 1e-3)
	Beta1       *float64 // first-moment decay, betas[0] (nil: 0.9)
	Beta2       *float64 // second-moment decay, betas[1] (nil: 0.999)
	Eps         *float64 // added to the denominator (nil: 1e-8)
	WeightDecay *float64 // decoupled weight decay (nil: 1e-2; new(0.0) turns decay off)
	AMSGrad     bool     // use the maximum of past second moments
}

// Adam is torch.optim.Adam (Kingma & Ba), single-tensor form:
//
//	g = grad + weight_decay·p
//	m = β₁·m + (1−β₁)·g;  v = β₂·v + (1−β₂)·g²;  (AMSGrad: v̂ = max(v̂, v), used for v)
//	p = p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + eps)
type Adam struct {
	adamCore
}

// AdamW is torch.optim.AdamW (Loshchilov & Hutter): Adam with decoupled weight decay,
// p = p·(1 − lr·weight_decay) before the Adam update, and no decay term in the gradient.
type AdamW struct {
	adamCore
}

type adamCore struct {
	base
	decoupled bool
}

var adamHypers = []string{"lr", "betas", "eps", "weight_decay", "amsgrad"}

func validateAdam(g *Group) error {
	switch {
	case !(g.LR >= 0) || math.IsInf(g.LR, 0):
		return fmt.Errorf("invalid learning rate %v", g.LR)
	case !(g.Beta1 >= 0 && g.Beta1 < 1):
		return fmt.Errorf("invalid Beta1 %v (want 0 <= Beta1 < 1)", g.Beta1)
	case !(g.Beta2 >= 0 && g.Beta2 < 1):
		return fmt.Errorf("invalid Beta2 %v (want 0 <= Beta2 < 1)", g.Beta2)
	case !(g.Eps >= 0) || math.IsInf(g.Eps, 0):
		return fmt.Errorf("invalid Eps %v", g.Eps)
	case !(g.WeightDecay >= 0) || math.IsInf(g.WeightDecay, 0):
		return fmt.Errorf("invalid weight decay %v", g.WeightDecay)
	}
	return nil
}

func newAdamCore(kind string, groups []ParamGroup, d Group, decoupled bool) (adamCore, error) {
	b, err := newBase(kind, groups, d, adamHypers, validateAdam, []string{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, "float")
	if err != nil {
		return adamCore{}, err
	}
	return adamCore{base: b, decoupled: decoupled}, nil
}

// NewAdam returns an Adam optimizer over params.
func NewAdam(params []*torch.Tensor, o AdamOptions) (*Adam, error) {
	return NewAdamGroups([]ParamGroup{{Params: params}}, o)
}

// NewAdamGroups returns an Adam optimizer over parameter groups with their own options
// (LR, Beta1, Beta2, Eps, WeightDecay, AMSGrad), o giving the others.
func NewAdamGroups(groups []ParamGroup, o AdamOptions) (*Adam, error) {
	c, err := newAdamCore("Adam", groups, Group{LR: valueOr(o.LR, 1e-3), Beta1: valueOr(o.Beta1, 0.9),
		Beta2: valueOr(o.Beta2, 0.999), Eps: valueOr(o.Eps, 1e-8), WeightDecay: o.WeightDecay, AMSGrad: o.AMSGrad}, false)
	if err != nil {
		return nil, err
	}
	return &Adam{c}, nil
}

// NewAdamW returns an AdamW optimizer over params.
func NewAdamW(params []*torch.Tensor, o AdamWOptions) (*AdamW, error) {
	return NewAdamWGroups([]ParamGroup{{Params: params}}, o)
}

// NewAdamWGroups returns an AdamW optimizer over parameter groups with their own options
// (LR, Beta1, Beta2, Eps, WeightDecay, AMSGrad), o giving the others.
func NewAdamWGroups(groups []ParamGroup, o AdamWOptions) (*AdamW, error) {
	c, err := newAdamCore("AdamW", groups, Group{LR: valueOr(o.LR, 1e-3), Beta1: valueOr(o.Beta1, 0.9),
		Beta2: valueOr(o.Beta2, 0.999), Eps: valueOr(o.Eps, 1e-8), WeightDecay: valueOr(o.WeightDecay, 1e-2), AMSGrad: o.AMSGrad}, true)
	if err != nil {
		return nil, err
	}
	return &AdamW{c}, nil
}

// Step updates every parameter that has a gradient.
func (a *adamCore) Step() {
	a.eachGrad(func(i int, gr *Group, p, g *torch.Tensor) {
		st := a.state[i]
		if st == nil {
			if gr.AMSGrad {
				st = a.initZeros(i, "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
			} else {
				st = a.initZeros(i, "exp_avg", "exp_avg_sq")
			}
		}
		expAvg, expAvgSq := st.bufs["exp_avg"], st.bufs["exp_avg_sq"]
		st.step++
		if a.decoupled {
			p.MulScalarInPlace(1 - gr.LR*gr.WeightDecay)
		} else if gr.WeightDecay != 0 {
			g = plusScaled(g, p, gr.WeightDecay)
		}
		expAvg.MulScalarInPlace(gr.Beta1)
		expAvg.AddInPlace(g, 1-gr.Beta1)
		expAvgSq.MulScalarInPlace(gr.Beta2)
		expAvgSq.AddcmulInPlace(g, g, 1-gr.Beta2)

		bc1 := 1 - math.Pow(gr.Beta1, st.step)
		bc2 := 1 - math.Pow(gr.Beta2, st.step)
		stepSize := gr.LR / bc1
		bc2Sqrt := math.Sqrt(bc2)

		v := expAvgSq
		if gr.AMSGrad {
			m := a.buf(i, "max_exp_avg_sq")
			m.CopyFrom(m.Maximum(expAvgSq))
			v = m
		}
		denom := v.Sqrt().DivScalar(bc2Sqrt)
		denom.AddScalarInPlace(gr.Eps)
		p.AddcdivInPlace(expAvg, denom, -stepSize)
	})
}
