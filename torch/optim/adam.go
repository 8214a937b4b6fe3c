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
	beta1, beta2, eps, wd float64
	amsgrad, decoupled    bool
}

func newAdamCore(kind string, params []*torch.Tensor, lr, beta1, beta2, eps, wd float64, amsgrad, decoupled bool) (adamCore, error) {
	switch {
	case !(lr >= 0) || math.IsInf(lr, 0):
		return adamCore{}, fmt.Errorf("optim: New%s: invalid learning rate %v", kind, lr)
	case !(beta1 >= 0 && beta1 < 1):
		return adamCore{}, fmt.Errorf("optim: New%s: invalid Beta1 %v (want 0 <= Beta1 < 1)", kind, beta1)
	case !(beta2 >= 0 && beta2 < 1):
		return adamCore{}, fmt.Errorf("optim: New%s: invalid Beta2 %v (want 0 <= Beta2 < 1)", kind, beta2)
	case !(eps >= 0) || math.IsInf(eps, 0):
		return adamCore{}, fmt.Errorf("optim: New%s: invalid Eps %v", kind, eps)
	case !(wd >= 0) || math.IsInf(wd, 0):
		return adamCore{}, fmt.Errorf("optim: New%s: invalid weight decay %v", kind, wd)
	}
	keys := []string{"exp_avg", "exp_avg_sq"}
	if amsgrad {
		keys = append(keys, "max_exp_avg_sq")
	}
	b, err := newBase(kind, params, lr, keys, "float")
	if err != nil {
		return adamCore{}, err
	}
	return adamCore{base: b, beta1: beta1, beta2: beta2, eps: eps, wd: wd, amsgrad: amsgrad, decoupled: decoupled}, nil
}

// NewAdam returns an Adam optimizer over params.
func NewAdam(params []*torch.Tensor, o AdamOptions) (*Adam, error) {
	c, err := newAdamCore("Adam", params, valueOr(o.LR, 1e-3), valueOr(o.Beta1, 0.9), valueOr(o.Beta2, 0.999),
		valueOr(o.Eps, 1e-8), o.WeightDecay, o.AMSGrad, false)
	if err != nil {
		return nil, err
	}
	return &Adam{c}, nil
}

// NewAdamW returns an AdamW optimizer over params.
func NewAdamW(params []*torch.Tensor, o AdamWOptions) (*AdamW, error) {
	c, err := newAdamCore("AdamW", params, valueOr(o.LR, 1e-3), valueOr(o.Beta1, 0.9), valueOr(o.Beta2, 0.999),
		valueOr(o.Eps, 1e-8), valueOr(o.WeightDecay, 1e-2), o.AMSGrad, true)
	if err != nil {
		return nil, err
	}
	return &AdamW{c}, nil
}

// Step updates every parameter that has a gradient.
func (a *adamCore) Step() {
	a.eachGrad(func(i int, p, g *torch.Tensor) {
		st := a.state[i]
		if st == nil {
			st = a.initZeros(i, a.keys...)
		}
		expAvg, expAvgSq := st.bufs["exp_avg"], st.bufs["exp_avg_sq"]
		st.step++
		if a.decoupled {
			p.MulScalarInPlace(1 - a.lr*a.wd)
		} else if a.wd != 0 {
			g = plusScaled(g, p, a.wd)
		}
		expAvg.MulScalarInPlace(a.beta1)
		expAvg.AddInPlace(g, 1-a.beta1)
		expAvgSq.MulScalarInPlace(a.beta2)
		expAvgSq.AddcmulInPlace(g, g, 1-a.beta2)

		bc1 := 1 - math.Pow(a.beta1, st.step)
		bc2 := 1 - math.Pow(a.beta2, st.step)
		stepSize := a.lr / bc1
		bc2Sqrt := math.Sqrt(bc2)

		v := expAvgSq
		if a.amsgrad {
			m := st.bufs["max_exp_avg_sq"]
			m.CopyFrom(m.Maximum(expAvgSq))
			v = m
		}
		denom := v.Sqrt().DivScalar(bc2Sqrt)
		denom.AddScalarInPlace(a.eps)
		p.AddcdivInPlace(expAvg, denom, -stepSize)
	})
}
