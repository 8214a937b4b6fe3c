package optim

import (
	"fmt"
	"math"

	"github.com/seqtorch/seqtorch/torch"
)

// SGDOptions configures SGD. LR is required (as in PyTorch 1.13, which has no default
// learning rate for SGD); the zero values of the others are PyTorch's defaults.
type SGDOptions struct {
	LR          *float64 // learning rate, >= 0 (nil: an error)
	Momentum    float64  // momentum factor (0: none)
	Dampening   float64  // dampening for momentum
	WeightDecay float64  // L2 penalty added to the gradient
	Nesterov    bool     // Nesterov momentum (needs Momentum > 0 and Dampening 0)
}

// SGD is stochastic gradient descent with optional momentum, as torch.optim.SGD:
//
//	g = grad + weight_decay·p
//	buf = g (first step), buf = momentum·buf + (1−dampening)·g (later steps)
//	g = g + momentum·buf (Nesterov) or g = buf
//	p = p − lr·g
type SGD struct {
	base
}

// NewSGD returns an SGD optimizer over params.
func NewSGD(params []*torch.Tensor, o SGDOptions) (*SGD, error) {
	return NewSGDGroups([]ParamGroup{{Params: params}}, o)
}

// NewSGDGroups returns an SGD optimizer over parameter groups with their own options
// (LR, Momentum, Dampening, WeightDecay, Nesterov), o giving the others. o.LR may be nil
// when every group sets its LR.
func NewSGDGroups(groups []ParamGroup, o SGDOptions) (*SGD, error) {
	d := Group{LR: valueOr(o.LR, math.NaN()), Momentum: o.Momentum, Dampening: o.Dampening,
		WeightDecay: o.WeightDecay, Nesterov: o.Nesterov}
	b, err := newBase("SGD", groups, d, []string{"lr", "momentum", "dampening", "weight_decay", "nesterov"},
		validateSGD, []string{"momentum_buffer"}, "")
	if err != nil {
		return nil, err
	}
	return &SGD{base: b}, nil
}

func validateSGD(g *Group) error {
	switch {
	case math.IsNaN(g.LR):
		return fmt.Errorf("a learning rate is required (SGDOptions.LR or the group's LR)")
	case !(g.LR >= 0) || math.IsInf(g.LR, 0):
		return fmt.Errorf("invalid learning rate %v", g.LR)
	case g.Momentum < 0 || math.IsNaN(g.Momentum):
		return fmt.Errorf("invalid momentum %v", g.Momentum)
	case g.WeightDecay < 0 || math.IsNaN(g.WeightDecay):
		return fmt.Errorf("invalid weight decay %v", g.WeightDecay)
	case math.IsNaN(g.Dampening):
		return fmt.Errorf("invalid dampening %v", g.Dampening)
	case g.Nesterov && (g.Momentum <= 0 || g.Dampening != 0):
		return fmt.Errorf("Nesterov momentum requires a momentum and zero dampening (got momentum %v, dampening %v)", g.Momentum, g.Dampening)
	}
	return nil
}

// Step updates every parameter that has a gradient.
func (s *SGD) Step() {
	s.eachGrad(func(i int, gr *Group, p, g *torch.Tensor) {
		d := g
		if gr.WeightDecay != 0 {
			d = plusScaled(d, p, gr.WeightDecay)
		}
		if gr.Momentum != 0 {
			st := s.state[i]
			if st == nil || st.bufs["momentum_buffer"] == nil {
				buf := owned(func() []*torch.Tensor { return []*torch.Tensor{d.Clone()} })[0]
				st = &slot{bufs: map[string]*torch.Tensor{"momentum_buffer": buf}}
				s.state[i] = st
			} else {
				buf := st.bufs["momentum_buffer"]
				buf.MulScalarInPlace(gr.Momentum)
				buf.AddInPlace(d, 1-gr.Dampening)
			}
			buf := st.bufs["momentum_buffer"]
			if gr.Nesterov {
				d = plusScaled(d, buf, gr.Momentum)
			} else {
				d = buf
			}
		}
		p.AddInPlace(d, -gr.LR)
	})
}
