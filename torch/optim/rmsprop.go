package optim

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
)

// RMSpropOptions configures RMSprop; the zero value is PyTorch's defaults, with pointers for
// the options whose default is not zero (nil: the default), as AdamOptions.
type RMSpropOptions struct {
	LR          *float64 // learning rate (nil: 1e-2)
	Alpha       *float64 // smoothing constant of the squared-gradient average (nil: 0.99)
	Eps         *float64 // added to the denominator (nil: 1e-8)
	WeightDecay float64  // L2 penalty added to the gradient (0: none)
	Momentum    float64  // momentum factor (0: none)
	Centered    bool     // normalise by the gradient's estimated variance
}

// RMSprop is torch.optim.RMSprop (Hinton), single-tensor form of PyTorch 1.13:
//
//	g = grad + weight_decay·p
//	v = α·v + (1−α)·g²
//	centered: ḡ = α·ḡ + (1−α)·g;  avg = √(v − ḡ²) + eps,  else avg = √v + eps
//	momentum: buf = momentum·buf + g/avg;  p = p − lr·buf,  else p = p − lr·g/avg
//
// Its state dict keys are PyTorch's: step (an int), square_avg, momentum_buffer (with
// momentum), grad_avg (centered).
type RMSprop struct {
	base
}

// NewRMSprop returns an RMSprop optimizer over params.
func NewRMSprop(params []*torch.Tensor, o RMSpropOptions) (*RMSprop, error) {
	return NewRMSpropGroups([]ParamGroup{{Params: params}}, o)
}

// NewRMSpropGroups returns an RMSprop optimizer over parameter groups with their own
// options (LR, Alpha, Eps, WeightDecay, Momentum, Centered), o giving the others.
func NewRMSpropGroups(groups []ParamGroup, o RMSpropOptions) (*RMSprop, error) {
	d := Group{LR: valueOr(o.LR, 1e-2), Alpha: valueOr(o.Alpha, 0.99), Eps: valueOr(o.Eps, 1e-8),
		WeightDecay: o.WeightDecay, Momentum: o.Momentum, Centered: o.Centered}
	b, err := newBase("RMSprop", groups, d, []string{"lr", "momentum", "alpha", "eps", "centered", "weight_decay"},
		validateRMSprop, []string{"square_avg", "momentum_buffer", "grad_avg"}, "int")
	if err != nil {
		return nil, err
	}
	return &RMSprop{base: b}, nil
}

func validateRMSprop(g *Group) error {
	for _, c := range []struct {
		what string
		v    float64
	}{{"learning rate", g.LR}, {"Eps", g.Eps}, {"momentum", g.Momentum}, {"weight decay", g.WeightDecay}, {"Alpha", g.Alpha}} {
		if err := checkNonNeg(c.what, c.v); err != nil {
			return err
		}
	}
	return nil
}

// Step updates every parameter that has a gradient.
func (r *RMSprop) Step() {
	r.eachGrad(func(i int, gr *Group, p, g *torch.Tensor) {
		st := r.state[i]
		if st == nil {
			keys := []string{"square_avg"}
			if gr.Momentum > 0 {
				keys = append(keys, "momentum_buffer")
			}
			if gr.Centered {
				keys = append(keys, "grad_avg")
			}
			st = r.initZeros(i, keys...)
		}
		st.step++
		if gr.WeightDecay != 0 {
			g = plusScaled(g, p, gr.WeightDecay)
		}
		squareAvg := st.bufs["square_avg"]
		squareAvg.MulScalarInPlace(gr.Alpha)
		squareAvg.AddcmulInPlace(g, g, 1-gr.Alpha)
		var avg *torch.Tensor
		if gr.Centered {
			gradAvg := r.buf(i, "grad_avg")
			gradAvg.MulScalarInPlace(gr.Alpha)
			gradAvg.AddInPlace(g, 1-gr.Alpha)
			avg = squareAvg.Clone()
			avg.AddcmulInPlace(gradAvg, gradAvg, -1)
			avg.SqrtInPlace()
		} else {
			avg = squareAvg.Sqrt()
		}
		avg.AddScalarInPlace(gr.Eps)
		if gr.Momentum > 0 {
			buf := r.buf(i, "momentum_buffer")
			buf.MulScalarInPlace(gr.Momentum)
			buf.AddcdivInPlace(g, avg, 1)
			p.AddInPlace(buf, -gr.LR)
		} else {
			p.AddcdivInPlace(g, avg, -gr.LR)
		}
	})
}

// AdagradOptions configures Adagrad; the zero value is PyTorch's defaults, with pointers for
// the options whose default is not zero (nil: the default), as AdamOptions.
type AdagradOptions struct {
	LR                      *float64 // learning rate (nil: 1e-2)
	LRDecay                 float64  // the step size is lr/(1 + (t−1)·lr_decay)
	WeightDecay             float64  // L2 penalty added to the gradient (0: none)
	InitialAccumulatorValue float64  // the sum of squared gradients starts here
	Eps                     *float64 // added to the denominator (nil: 1e-10)
}

// Adagrad is torch.optim.Adagrad (Duchi et al.), single-tensor form of PyTorch 1.13:
//
//	t = t + 1;  g = grad + weight_decay·p
//	clr = lr / (1 + (t−1)·lr_decay)
//	sum = sum + g²
//	p = p − clr · g / (√sum + eps)
//
// As in PyTorch, its state (step, a float32 scalar, and sum, filled with
// initial_accumulator_value) exists for every parameter from construction on, and Close
// releases it.
type Adagrad struct {
	base
}

// NewAdagrad returns an Adagrad optimizer over params.
func NewAdagrad(params []*torch.Tensor, o AdagradOptions) (*Adagrad, error) {
	return NewAdagradGroups([]ParamGroup{{Params: params}}, o)
}

// NewAdagradGroups returns an Adagrad optimizer over parameter groups with their own
// options (LR, LRDecay, WeightDecay, InitialAccumulatorValue, Eps), o giving the others.
func NewAdagradGroups(groups []ParamGroup, o AdagradOptions) (*Adagrad, error) {
	d := Group{LR: valueOr(o.LR, 1e-2), LRDecay: o.LRDecay, WeightDecay: o.WeightDecay,
		InitialAccumulatorValue: o.InitialAccumulatorValue, Eps: valueOr(o.Eps, 1e-10)}
	b, err := newBase("Adagrad", groups, d, []string{"lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value"},
		validateAdagrad, []string{"sum"}, "float")
	if err != nil {
		return nil, err
	}
	a := &Adagrad{base: b}
	if err := torch.Try(func() {
		for i := range a.params {
			a.initSum(i)
		}
	}); err != nil {
		a.Close()
		return nil, fmt.Errorf("optim: NewAdagrad: %w", err)
	}
	return a, nil
}

// initSum creates parameter i's state: step 0 and sum = initial_accumulator_value.
func (a *Adagrad) initSum(i int) *slot {
	p, v := a.params[i], a.groups[a.groupOf[i]].InitialAccumulatorValue
	t := owned(func() []*torch.Tensor {
		return []*torch.Tensor{torch.Full(p.Shape(), v, torch.WithDType(p.DType()), torch.WithDevice(p.Device()))}
	})[0]
	s := &slot{bufs: map[string]*torch.Tensor{"sum": t}}
	a.state[i] = s
	return s
}

func validateAdagrad(g *Group) error {
	for _, c := range []struct {
		what string
		v    float64
	}{{"learning rate", g.LR}, {"lr decay", g.LRDecay}, {"weight decay", g.WeightDecay},
		{"initial accumulator value", g.InitialAccumulatorValue}, {"Eps", g.Eps}} {
		if err := checkNonNeg(c.what, c.v); err != nil {
			return err
		}
	}
	return nil
}

// Step updates every parameter that has a gradient.
func (a *Adagrad) Step() {
	a.eachGrad(func(i int, gr *Group, p, g *torch.Tensor) {
		st := a.state[i]
		if st == nil { // after Close, or a state dict without this parameter
			st = a.initSum(i)
		}
		st.step++
		if gr.WeightDecay != 0 {
			g = plusScaled(g, p, gr.WeightDecay)
		}
		clr := gr.LR / (1 + (st.step-1)*gr.LRDecay)
		sum := st.bufs["sum"]
		sum.AddcmulInPlace(g, g, 1)
		std := sum.Sqrt()
		std.AddScalarInPlace(gr.Eps)
		p.AddcdivInPlace(g, std, -clr)
	})
}
