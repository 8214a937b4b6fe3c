package optim

import (
	"fmt"
	"math"
	"slices"

	"github.com/seqtorch/seqtorch/torch"
)

// ParamGroup is one entry of the parameter list given to a New…Groups constructor, as a dict
// in the list PyTorch's optimizers accept: its parameters, and options that override the
// optimizer's options for them (nil: the optimizer's value). Only the options the optimizer
// has may be set (an Adam group with a Momentum is an error):
//
//	optim.NewAdamGroups([]optim.ParamGroup{
//		{Params: encoder, LR: new(1e-4)},
//		{Params: head, WeightDecay: new(0.0)},
//	}, optim.AdamOptions{LR: new(1e-3), WeightDecay: 0.01})
type ParamGroup struct {
	Params []*torch.Tensor

	LR          *float64 // lr
	WeightDecay *float64 // weight_decay
	Momentum    *float64 // momentum (SGD, RMSprop)
	Dampening   *float64 // dampening (SGD)
	Nesterov    *bool    // nesterov (SGD)
	Beta1       *float64 // betas[0] (Adam, AdamW)
	Beta2       *float64 // betas[1] (Adam, AdamW)
	Eps         *float64 // eps (Adam, AdamW, Adadelta, RMSprop, Adagrad)
	AMSGrad     *bool    // amsgrad (Adam, AdamW)
	Rho         *float64 // rho (Adadelta)
	Alpha       *float64 // alpha (RMSprop)
	Centered    *bool    // centered (RMSprop)
	LRDecay     *float64 // lr_decay (Adagrad)

	InitialAccumulatorValue *float64 // initial_accumulator_value (Adagrad)
}

// Group is a live parameter group, an entry of PyTorch's optimizer.param_groups: the
// optimizer reads its fields at every Step, so a schedule (or the caller) changes a group's
// learning rate or momentum by setting them. Fields the optimizer does not have are ignored.
type Group struct {
	params []*torch.Tensor
	index  []int // the parameters' positions in the optimizer's flat parameter list

	LR          float64
	WeightDecay float64
	Momentum    float64
	Dampening   float64
	Nesterov    bool
	Beta1       float64
	Beta2       float64
	Eps         float64
	AMSGrad     bool
	Rho         float64
	Alpha       float64
	Centered    bool
	LRDecay     float64

	InitialAccumulatorValue float64

	// InitialLR is PyTorch's group['initial_lr']: nil until a schedule is attached, which
	// sets it to the learning rate it starts from (its base learning rate).
	InitialLR *float64
}

// Params returns the group's parameters (the caller of the constructor owns them).
func (g *Group) Params() []*torch.Tensor { return slices.Clone(g.params) }

// hyper describes one option as PyTorch names it in a param group.
type hyper struct {
	key  string
	kind byte // 'f' float, 'b' bool, 'p' pair (betas)
	f    func(g *Group) *float64
	b    func(g *Group) *bool
	pf   func(pg *ParamGroup) *float64 // the ParamGroup override (Beta1 for betas)
	pb   func(pg *ParamGroup) *bool
}

var hypers = map[string]hyper{
	"lr":           {key: "lr", kind: 'f', f: func(g *Group) *float64 { return &g.LR }, pf: func(p *ParamGroup) *float64 { return p.LR }},
	"weight_decay": {key: "weight_decay", kind: 'f', f: func(g *Group) *float64 { return &g.WeightDecay }, pf: func(p *ParamGroup) *float64 { return p.WeightDecay }},
	"momentum":     {key: "momentum", kind: 'f', f: func(g *Group) *float64 { return &g.Momentum }, pf: func(p *ParamGroup) *float64 { return p.Momentum }},
	"dampening":    {key: "dampening", kind: 'f', f: func(g *Group) *float64 { return &g.Dampening }, pf: func(p *ParamGroup) *float64 { return p.Dampening }},
	"nesterov":     {key: "nesterov", kind: 'b', b: func(g *Group) *bool { return &g.Nesterov }, pb: func(p *ParamGroup) *bool { return p.Nesterov }},
	"betas":        {key: "betas", kind: 'p'},
	"eps":          {key: "eps", kind: 'f', f: func(g *Group) *float64 { return &g.Eps }, pf: func(p *ParamGroup) *float64 { return p.Eps }},
	"amsgrad":      {key: "amsgrad", kind: 'b', b: func(g *Group) *bool { return &g.AMSGrad }, pb: func(p *ParamGroup) *bool { return p.AMSGrad }},
	"rho":          {key: "rho", kind: 'f', f: func(g *Group) *float64 { return &g.Rho }, pf: func(p *ParamGroup) *float64 { return p.Rho }},
	"alpha":        {key: "alpha", kind: 'f', f: func(g *Group) *float64 { return &g.Alpha }, pf: func(p *ParamGroup) *float64 { return p.Alpha }},
	"centered":     {key: "centered", kind: 'b', b: func(g *Group) *bool { return &g.Centered }, pb: func(p *ParamGroup) *bool { return p.Centered }},
	"lr_decay":     {key: "lr_decay", kind: 'f', f: func(g *Group) *float64 { return &g.LRDecay }, pf: func(p *ParamGroup) *float64 { return p.LRDecay }},
	"initial_accumulator_value": {key: "initial_accumulator_value", kind: 'f',
		f: func(g *Group) *float64 { return &g.InitialAccumulatorValue }, pf: func(p *ParamGroup) *float64 { return p.InitialAccumulatorValue }},
}

// hyperOrder lists the options in a fixed order.
var hyperOrder = []string{"lr", "momentum", "dampening", "weight_decay", "nesterov", "betas", "eps", "amsgrad",
	"rho", "alpha", "centered", "lr_decay", "initial_accumulator_value"}

// goName is the ParamGroup field of a PyTorch key, for error messages.
var goName = map[string]string{"lr": "LR", "weight_decay": "WeightDecay", "momentum": "Momentum",
	"dampening": "Dampening", "nesterov": "Nesterov", "betas": "Beta1/Beta2", "eps": "Eps",
	"amsgrad": "AMSGrad", "rho": "Rho", "alpha": "Alpha", "centered": "Centered", "lr_decay": "LRDecay",
	"initial_accumulator_value": "InitialAccumulatorValue"}

// apply returns the defaults d with pg's overrides, refusing options outside keys.
func apply(d Group, pg ParamGroup, keys []string) (Group, error) {
	g := d
	g.InitialLR = nil
	for _, k := range hyperOrder {
		h := hypers[k]
		var set bool
		switch h.kind {
		case 'f':
			if v := h.pf(&pg); v != nil {
				*h.f(&g), set = *v, true
			}
		case 'b':
			if v := h.pb(&pg); v != nil {
				*h.b(&g), set = *v, true
			}
		case 'p':
			if pg.Beta1 != nil {
				g.Beta1, set = *pg.Beta1, true
			}
			if pg.Beta2 != nil {
				g.Beta2, set = *pg.Beta2, true
			}
		}
		if set && !slices.Contains(keys, k) {
			return Group{}, fmt.Errorf("%s is not an option of this optimizer (it has %v)", goName[k], keys)
		}
	}
	return g, nil
}

// groupValues returns the values of key in g, as a state dict holds them.
func groupValues(g *Group, key string) []float64 {
	h := hypers[key]
	switch h.kind {
	case 'b':
		if *h.b(g) {
			return []float64{1}
		}
		return []float64{0}
	case 'p':
		return []float64{g.Beta1, g.Beta2}
	}
	return []float64{*h.f(g)}
}

func setGroupValues(g *Group, key string, v []float64) {
	h := hypers[key]
	switch h.kind {
	case 'b':
		*h.b(g) = v[0] != 0
	case 'p':
		g.Beta1, g.Beta2 = v[0], v[1]
	default:
		*h.f(g) = v[0]
	}
}

// groupTensor returns key's value in g as the tensor PyTorch's flattened state dict holds:
// a float64 scalar, a bool scalar, or a float64 pair for betas.
func groupTensor(g *Group, key string) *torch.Tensor {
	v := groupValues(g, key)
	switch hypers[key].kind {
	case 'b':
		return torch.Scalar(v[0], torch.WithDType(torch.Bool))
	case 'p':
		return torch.FromSlice(v)
	}
	return torch.Scalar(v[0], torch.WithDType(torch.Float64))
}

// checkNonNeg refuses NaN, infinite and negative values of an option.
func checkNonNeg(what string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("invalid %s %v", what, v)
	}
	return nil
}
