package cases

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// optOptions are the optimizer options a case passes to both sides (JSON names as in
// parity_ref.py; absent (nil) fields take each side's defaults, which must agree).
type optOptions struct {
	LR          *float64 `json:"lr,omitempty"`
	Momentum    float64  `json:"momentum,omitempty"`
	Dampening   float64  `json:"dampening,omitempty"`
	WeightDecay *float64 `json:"weight_decay,omitempty"`
	Nesterov    bool     `json:"nesterov,omitempty"`
	Beta1       *float64 `json:"beta1,omitempty"`
	Beta2       *float64 `json:"beta2,omitempty"`
	Eps         *float64 `json:"eps,omitempty"`
	AMSGrad     bool     `json:"amsgrad,omitempty"`
	Rho         *float64 `json:"rho,omitempty"`
	Alpha       *float64 `json:"alpha,omitempty"`
	Centered    bool     `json:"centered,omitempty"`
	LRDecay     float64  `json:"lr_decay,omitempty"`
	InitAcc     float64  `json:"initial_accumulator_value,omitempty"`
}

// groupArgs is one parameter group of a case: the names of its parameters (W, b, u) and
// the options it overrides (JSON names as in parity_ref.py).
type groupArgs struct {
	Params      []string `json:"params"`
	LR          *float64 `json:"lr,omitempty"`
	WeightDecay *float64 `json:"weight_decay,omitempty"`
	Momentum    *float64 `json:"momentum,omitempty"`
	Beta1       *float64 `json:"beta1,omitempty"`
	Eps         *float64 `json:"eps,omitempty"`
	Alpha       *float64 `json:"alpha,omitempty"`
	LRDecay     *float64 `json:"lr_decay,omitempty"`
}

func (g groupArgs) group(named map[string]*torch.Tensor) optim.ParamGroup {
	pg := optim.ParamGroup{LR: g.LR, WeightDecay: g.WeightDecay, Momentum: g.Momentum, Beta1: g.Beta1,
		Eps: g.Eps, Alpha: g.Alpha, LRDecay: g.LRDecay}
	for _, n := range g.Params {
		pg.Params = append(pg.Params, named[n])
	}
	return pg
}

type stepLRArgs struct {
	StepSize int     `json:"step_size"`
	Gamma    float64 `json:"gamma"`
}

type optimArgs struct {
	Opt     string      `json:"opt"`
	Options optOptions  `json:"options"`
	Steps   int         `json:"steps"`
	Clip    float64     `json:"clip,omitempty"`
	StepLR  *stepLRArgs `json:"step_lr,omitempty"`
	Groups  []groupArgs `json:"groups,omitempty"`
}

func wd(o optOptions) float64 {
	if o.WeightDecay == nil {
		return 0
	}
	return *o.WeightDecay
}

// newOptimizer builds the Go optimizer a case names over one parameter group; close
// releases its state.
func newOptimizer(name string, o optOptions, params []*torch.Tensor) (opt optim.Optimizer, close func(), err error) {
	return newGroupOptimizer(name, o, []optim.ParamGroup{{Params: params}})
}

// newGroupOptimizer builds the Go optimizer a case names over parameter groups.
func newGroupOptimizer(name string, o optOptions, params []optim.ParamGroup) (opt optim.Optimizer, close func(), err error) {
	switch name {
	case "sgd":
		s, err := optim.NewSGDGroups(params, optim.SGDOptions{LR: o.LR, Momentum: o.Momentum, Dampening: o.Dampening,
			WeightDecay: wd(o), Nesterov: o.Nesterov})
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case "adam":
		a, err := optim.NewAdamGroups(params, optim.AdamOptions{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps,
			WeightDecay: wd(o), AMSGrad: o.AMSGrad})
		if err != nil {
			return nil, nil, err
		}
		return a, a.Close, nil
	case "adamw":
		a, err := optim.NewAdamWGroups(params, optim.AdamWOptions{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps,
			WeightDecay: o.WeightDecay, AMSGrad: o.AMSGrad})
		if err != nil {
			return nil, nil, err
		}
		return a, a.Close, nil
	case "adadelta":
		a, err := optim.NewAdadeltaGroups(params, optim.AdadeltaOptions{LR: o.LR, Rho: o.Rho, Eps: o.Eps, WeightDecay: wd(o)})
		if err != nil {
			return nil, nil, err
		}
		return a, a.Close, nil
	case "rmsprop":
		a, err := optim.NewRMSpropGroups(params, optim.RMSpropOptions{LR: o.LR, Alpha: o.Alpha, Eps: o.Eps,
			WeightDecay: wd(o), Momentum: o.Momentum, Centered: o.Centered})
		if err != nil {
			return nil, nil, err
		}
		return a, a.Close, nil
	case "adagrad":
		a, err := optim.NewAdagradGroups(params, optim.AdagradOptions{LR: o.LR, LRDecay: o.LRDecay, WeightDecay: wd(o),
			InitialAccumulatorValue: o.InitAcc, Eps: o.Eps})
		if err != nil {
			return nil, nil, err
		}
		return a, a.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown optimizer %q", name)
}

// linearProblem writes the inputs of the optimizer and clipping cases: a linear model
// y ≈ x·Wᵀ + b on random data, and a parameter u that never gets a gradient.
func linearProblem(seed uint64) *Dict {
	torch.ManualSeed(seed)
	d := &Dict{}
	d.Add("W", torch.Randn([]int64{3, 4}).MulScalar(0.5))
	d.Add("b", torch.Randn([]int64{3}).MulScalar(0.1))
	d.Add("u", torch.Randn([]int64{2}))
	d.Add("x", torch.Randn([]int64{8, 4}))
	d.Add("y", torch.Randn([]int64{8, 3}))
	return d
}

// leaf returns a copy of t that is a leaf requiring gradients.
func leaf(t *torch.Tensor) *torch.Tensor { return t.Detach().Clone().SetRequiresGrad(true) }

func linearLoss(in *Dict, W, b *torch.Tensor) *torch.Tensor {
	return torch.MSELoss(torch.Linear(in.MustGet("x"), W, b), in.MustGet("y"), torch.ReductionMean)
}

func registerOptim(name string, seed uint64, a optimArgs) {
	Register(Case{
		Name: "optim/" + name,
		Build: func(dir string) error {
			return WriteInputs(dir, "optim", a, linearProblem(seed))
		},
		Check: func(dir string) (float64, error) {
			in, want, err := ReadBoth(dir)
			if err != nil {
				return 0, err
			}
			W, b, u := leaf(in.MustGet("W")), leaf(in.MustGet("b")), leaf(in.MustGet("u"))
			params := []*torch.Tensor{W, b, u}
			groups := []optim.ParamGroup{{Params: params}}
			if a.Groups != nil {
				named := map[string]*torch.Tensor{"W": W, "b": b, "u": u}
				groups = nil
				for _, g := range a.Groups {
					groups = append(groups, g.group(named))
				}
			}
			opt, closeOpt, err := newGroupOptimizer(a.Opt, a.Options, groups)
			if err != nil {
				return 0, err
			}
			defer closeOpt()
			var sched *optim.StepLR
			if a.StepLR != nil {
				if sched, err = optim.NewStepLR(opt, a.StepLR.StepSize, a.StepLR.Gamma); err != nil {
					return 0, err
				}
			}
			c := NewCmp(want)
			for k := range a.Steps {
				opt.ZeroGrad()
				loss := linearLoss(in, W, b)
				loss.Backward()
				if a.Clip > 0 {
					c.Scalar(fmt.Sprintf("norm%d", k), optim.ClipGradNorm(params, a.Clip))
				}
				opt.Step()
				if sched != nil {
					sched.Step()
				}
				c.T(fmt.Sprintf("loss%d", k), loss)
				c.T(fmt.Sprintf("W%d", k), W)
				c.T(fmt.Sprintf("b%d", k), b)
			}
			c.T("u", u)
			names, ts, err := opt.StateDict()
			if err != nil {
				return 0, err
			}
			defer func() { // the caller owns a state dict's tensors
				for _, t := range ts {
					t.Close()
				}
			}()
			for i, n := range names {
				c.T(n, ts[i])
			}
			return c.Result(true)
		},
	})
}

func registerClip(name string, maxNorm float64) {
	Register(Case{
		Name: "clip/" + name,
		Build: func(dir string) error {
			return WriteInputs(dir, "clip", map[string]any{"max_norm": maxNorm}, linearProblem(7))
		},
		Check: func(dir string) (float64, error) {
			in, want, err := ReadBoth(dir)
			if err != nil {
				return 0, err
			}
			W, b, u := leaf(in.MustGet("W")), leaf(in.MustGet("b")), leaf(in.MustGet("u"))
			linearLoss(in, W, b).Backward()
			c := NewCmp(want)
			c.Scalar("total_norm", optim.ClipGradNorm([]*torch.Tensor{W, b, u}, maxNorm))
			c.T("grad.W", W.Grad())
			c.T("grad.b", b.Grad())
			return c.Result(true)
		},
	})
}

func init() {
	const steps = 5
	registerOptim("sgd", 1, optimArgs{Opt: "sgd", Options: optOptions{LR: new(0.1)}, Steps: steps})
	registerOptim("sgd-momentum-nesterov-wd", 2, optimArgs{Opt: "sgd", Steps: steps,
		Options: optOptions{LR: new(0.05), Momentum: 0.9, WeightDecay: new(0.01), Nesterov: true}})
	registerOptim("sgd-momentum-dampening-clip-steplr", 3, optimArgs{Opt: "sgd", Steps: steps,
		Options: optOptions{LR: new(0.1), Momentum: 0.8, Dampening: 0.3}, Clip: 0.5, StepLR: &stepLRArgs{StepSize: 2, Gamma: 0.5}})
	registerOptim("adam", 4, optimArgs{Opt: "adam", Options: optOptions{LR: new(0.01)}, Steps: steps})
	registerOptim("adam-amsgrad-wd", 5, optimArgs{Opt: "adam", Steps: steps,
		Options: optOptions{LR: new(0.02), Beta1: new(0.8), Beta2: new(0.99), Eps: new(1e-6), WeightDecay: new(0.05), AMSGrad: true}})
	registerOptim("adam-beta1-0-eps-0", 10, optimArgs{Opt: "adam", Steps: steps,
		Options: optOptions{LR: new(0.01), Beta1: new(0.0), Eps: new(0.0)}})
	registerOptim("adamw", 6, optimArgs{Opt: "adamw", Options: optOptions{LR: new(0.01)}, Steps: steps})
	registerOptim("adamw-amsgrad-wd0.1", 7, optimArgs{Opt: "adamw", Steps: steps,
		Options: optOptions{LR: new(0.01), WeightDecay: new(0.1), AMSGrad: true}})
	registerOptim("adadelta", 8, optimArgs{Opt: "adadelta", Steps: steps})
	registerOptim("adadelta-rho-wd", 9, optimArgs{Opt: "adadelta", Steps: steps,
		Options: optOptions{LR: new(0.5), Rho: new(0.8), Eps: new(1e-5), WeightDecay: new(0.1)}})
	registerOptim("rmsprop", 11, optimArgs{Opt: "rmsprop", Steps: steps})
	registerOptim("rmsprop-momentum-centered-wd", 12, optimArgs{Opt: "rmsprop", Steps: steps,
		Options: optOptions{LR: new(0.02), Alpha: new(0.9), Eps: new(1e-6), WeightDecay: new(0.05), Momentum: 0.8, Centered: true}})
	registerOptim("rmsprop-momentum", 13, optimArgs{Opt: "rmsprop", Steps: steps, Options: optOptions{Momentum: 0.5}})
	registerOptim("adagrad", 14, optimArgs{Opt: "adagrad", Steps: steps})
	registerOptim("adagrad-lrdecay-wd-initacc", 15, optimArgs{Opt: "adagrad", Steps: steps,
		Options: optOptions{LR: new(0.1), LRDecay: 0.05, WeightDecay: new(0.1), InitAcc: 0.1, Eps: new(1e-6)}})
	// Parameter groups: two groups with their own learning rate and weight decay (and one
	// more option each optimizer has); u, never updated, sits in the second group.
	twoGroups := func(extra func(g0, g1 *groupArgs)) []groupArgs {
		g := []groupArgs{{Params: []string{"W"}, LR: new(0.05), WeightDecay: new(0.1)}, {Params: []string{"b", "u"}}}
		if extra != nil {
			extra(&g[0], &g[1])
		}
		return g
	}
	registerOptim("param-groups-sgd", 16, optimArgs{Opt: "sgd", Steps: steps, Options: optOptions{LR: new(0.1), Momentum: 0.9},
		Groups: twoGroups(func(_, g1 *groupArgs) { g1.Momentum = new(0.5) })})
	registerOptim("param-groups-adam", 17, optimArgs{Opt: "adam", Steps: steps, Options: optOptions{LR: new(0.01), WeightDecay: new(0.01)},
		Groups: twoGroups(func(g0, _ *groupArgs) { g0.Beta1 = new(0.8); g0.Eps = new(1e-6) })})
	registerOptim("param-groups-adamw", 18, optimArgs{Opt: "adamw", Steps: steps, Options: optOptions{LR: new(0.01)}, Groups: twoGroups(nil)})
	registerOptim("param-groups-rmsprop", 19, optimArgs{Opt: "rmsprop", Steps: steps, Options: optOptions{Momentum: 0.3},
		Groups: twoGroups(func(_, g1 *groupArgs) { g1.Alpha = new(0.8) })})
	registerOptim("param-groups-adagrad", 20, optimArgs{Opt: "adagrad", Steps: steps,
		Groups: twoGroups(func(_, g1 *groupArgs) { g1.LRDecay = new(0.1) })})
	registerOptim("param-groups-adadelta", 21, optimArgs{Opt: "adadelta", Steps: steps, Groups: twoGroups(nil)})
	registerClip("max-norm-0.1", 0.1)
	registerClip("max-norm-100", 100)
}
