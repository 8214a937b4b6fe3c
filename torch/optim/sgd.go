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
	momentum, dampening, wd float64
	nesterov                bool
}

// NewSGD returns an SGD optimizer over params.
func NewSGD(params []*torch.Tensor, o SGDOptions) (*SGD, error) {
	if o.LR == nil {
		return nil, fmt.Errorf("optim: NewSGD: a learning rate is required (SGDOptions.LR)")
	}
	if lr := *o.LR; !(lr >= 0) || math.IsInf(lr, 0) {
		return nil, fmt.Errorf("optim: NewSGD: invalid learning rate %v", lr)
	}
	if o.Momentum < 0 || math.IsNaN(o.Momentum) {
		return nil, fmt.Errorf("optim: NewSGD: invalid momentum %v", o.Momentum)
	}
	if o.WeightDecay < 0 || math.IsNaN(o.WeightDecay) {
		return nil, fmt.Errorf("optim: NewSGD: invalid weight decay %v", o.WeightDecay)
	}
	if math.IsNaN(o.Dampening) {
		return nil, fmt.Errorf("optim: NewSGD: invalid dampening %v", o.Dampening)
	}
	if o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0) {
		return nil, fmt.Errorf("optim: NewSGD: Nesterov momentum requires a momentum and zero dampening (got momentum %v, dampening %v)", o.Momentum, o.Dampening)
	}
	b, err := newBase("SGD", params, *o.LR, []string{"momentum_buffer"}, "")
	if err != nil {
		return nil, err
	}
	return &SGD{base: b, momentum: o.Momentum, dampening: o.Dampening, wd: o.WeightDecay, nesterov: o.Nesterov}, nil
}

// Step updates every parameter that has a gradient.
func (s *SGD) Step() {
	s.eachGrad(func(i int, p, g *torch.Tensor) {
		d := g
		if s.wd != 0 {
			d = plusScaled(d, p, s.wd)
		}
		if s.momentum != 0 {
			st := s.state[i]
			if st == nil {
				buf := owned(func() []*torch.Tensor { return []*torch.Tensor{d.Clone()} })[0]
				st = &slot{bufs: map[string]*torch.Tensor{"momentum_buffer": buf}}
				s.state[i] = st
			} else {
				buf := st.bufs["momentum_buffer"]
				buf.MulScalarInPlace(s.momentum)
				buf.AddInPlace(d, 1-s.dampening)
			}
			buf := st.bufs["momentum_buffer"]
			if s.nesterov {
				d = plusScaled(d, buf, s.momentum)
			} else {
				d = buf
			}
		}
		p.AddInPlace(d, -s.lr)
	})
}
