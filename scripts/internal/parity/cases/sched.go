package cases

import (
	"errors"
	"fmt"
	"math"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// schedKW are a scheduler's keyword arguments, JSON names as PyTorch's (absent: PyTorch's
// default, which the Go options' zero values match).
type schedKW struct {
	StepSize       int       `json:"step_size,omitempty"`
	Gamma          *float64  `json:"gamma,omitempty"`
	Milestones     []int     `json:"milestones,omitempty"`
	TMax           int       `json:"T_max,omitempty"`
	EtaMin         float64   `json:"eta_min,omitempty"`
	StartFactor    *float64  `json:"start_factor,omitempty"`
	EndFactor      *float64  `json:"end_factor,omitempty"`
	TotalIters     *int      `json:"total_iters,omitempty"`
	MaxLR          []float64 `json:"max_lr,omitempty"`
	TotalSteps     int       `json:"total_steps,omitempty"`
	PctStart       *float64  `json:"pct_start,omitempty"`
	AnnealStrategy string    `json:"anneal_strategy,omitempty"`
	CycleMomentum  *bool     `json:"cycle_momentum,omitempty"`
	DivFactor      *float64  `json:"div_factor,omitempty"`
	FinalDivFactor *float64  `json:"final_div_factor,omitempty"`
	ThreePhase     bool      `json:"three_phase,omitempty"`
	Mode           string    `json:"mode,omitempty"`
	Factor         *float64  `json:"factor,omitempty"`
	Patience       *int      `json:"patience,omitempty"`
	Threshold      *float64  `json:"threshold,omitempty"`
	ThresholdMode  string    `json:"threshold_mode,omitempty"`
	Cooldown       int       `json:"cooldown,omitempty"`
	MinLR          []float64 `json:"min_lr,omitempty"`
}

// lambdaArgs names one of the LambdaLR functions both sides define (LR_LAMBDAS in
// parity_ref.py).
type lambdaArgs struct {
	Kind string  `json:"kind"`
	A    float64 `json:"a"`
}

func (l lambdaArgs) fn() func(int) float64 {
	switch l.Kind {
	case "pow":
		return func(e int) float64 { return math.Pow(l.A, float64(e)) }
	case "inv":
		return func(e int) float64 { return 1 / (1 + l.A*float64(e)) }
	case "warmup":
		return func(e int) float64 { return math.Min(1, float64(e+1)/l.A) }
	}
	return nil
}

type schedSpec struct {
	Sched      string       `json:"sched"`
	KW         schedKW      `json:"kw"`
	Lambdas    []lambdaArgs `json:"lambdas,omitempty"`
	Seq        []schedSpec  `json:"seq,omitempty"`
	Milestones []int        `json:"milestones,omitempty"`
}

type schedArgs struct {
	schedSpec
	Opt      string     `json:"opt"`
	Options  optOptions `json:"options"`
	LRs      []float64  `json:"lrs"`
	Steps    int        `json:"steps"`
	SaveAt   int        `json:"save_at"`
	Metrics  []float64  `json:"metrics,omitempty"`
	Momentum bool       `json:"momentum,omitempty"`
}

// newScheduler builds the Go scheduler a spec names.
func newScheduler(s schedSpec, o optim.Optimizer) (optim.Scheduler, error) {
	k := s.KW
	gamma := 0.1
	if k.Gamma != nil {
		gamma = *k.Gamma
	}
	switch s.Sched {
	case "lambdalr":
		var fns []func(int) float64
		for _, l := range s.Lambdas {
			fns = append(fns, l.fn())
		}
		return optim.NewLambdaLR(o, fns...)
	case "steplr":
		return optim.NewStepLR(o, k.StepSize, gamma)
	case "multisteplr":
		return optim.NewMultiStepLR(o, k.Milestones, gamma)
	case "exponentiallr":
		return optim.NewExponentialLR(o, gamma)
	case "cosineannealinglr":
		return optim.NewCosineAnnealingLR(o, k.TMax, k.EtaMin)
	case "linearlr":
		return optim.NewLinearLR(o, optim.LinearLROptions{StartFactor: k.StartFactor, EndFactor: k.EndFactor, TotalIters: k.TotalIters})
	case "onecyclelr":
		return optim.NewOneCycleLR(o, k.MaxLR, optim.OneCycleLROptions{TotalSteps: k.TotalSteps, PctStart: k.PctStart,
			AnnealStrategy: k.AnnealStrategy, CycleMomentum: k.CycleMomentum, DivFactor: k.DivFactor,
			FinalDivFactor: k.FinalDivFactor, ThreePhase: k.ThreePhase})
	case "reducelronplateau":
		return optim.NewReduceLROnPlateau(o, optim.ReduceLROnPlateauOptions{Mode: k.Mode, Factor: k.Factor,
			Patience: k.Patience, Threshold: k.Threshold, ThresholdMode: k.ThresholdMode, Cooldown: k.Cooldown, MinLR: k.MinLR})
	case "sequentiallr":
		var subs []optim.LRScheduler
		for _, sub := range s.Seq {
			sc, err := newScheduler(sub, o)
			if err != nil {
				return nil, err
			}
			subs = append(subs, sc.(optim.LRScheduler))
		}
		return optim.NewSequentialLR(o, subs, s.Milestones)
	}
	return nil, fmt.Errorf("unknown scheduler %q", s.Sched)
}

// registerSched registers case sched/<name>: a schedule over two parameter groups for
// a.Steps steps, with the optimizer's and the schedule's state saved and loaded into fresh
// ones at step a.SaveAt; every group's learning rate (and momentum, where asked) after
// construction and after each step, and the final state dict, compared with PyTorch's.
func registerSched(name string, a schedArgs) {
	if a.Opt == "" {
		a.Opt = "sgd"
	}
	if a.LRs == nil {
		a.LRs = []float64{0.1, 0.02}
	}
	if a.Options.LR == nil && a.Opt == "sgd" {
		a.Options.LR = new(a.LRs[0])
	}
	if a.Steps == 0 {
		a.Steps, a.SaveAt = 100, 50
	}
	Register(Case{
		Name: "sched/" + name,
		Build: func(dir string) error {
			d := &Dict{}
			d.Add("p0", torch.FromSlice([]float32{1, -2, 3}))
			d.Add("p1", torch.FromSlice([]float32{0.5, 0.25}))
			return WriteInputs(dir, "lr_scheduler", a, d)
		},
		Check: func(dir string) (float64, error) {
			in, want, err := ReadBoth(dir)
			if err != nil {
				return 0, err
			}
			var closers []func()
			defer func() {
				for _, f := range closers {
					f()
				}
			}()
			build := func() (optim.Optimizer, optim.Scheduler, error) {
				groups := []optim.ParamGroup{
					{Params: []*torch.Tensor{leaf(in.MustGet("p0"))}, LR: new(a.LRs[0])},
					{Params: []*torch.Tensor{leaf(in.MustGet("p1"))}, LR: new(a.LRs[1])},
				}
				opt, closeOpt, err := newGroupOptimizer(a.Opt, a.Options, groups)
				if err != nil {
					return nil, nil, err
				}
				closers = append(closers, closeOpt)
				s, err := newScheduler(a.schedSpec, opt)
				return opt, s, err
			}
			opt, sched, err := build()
			if err != nil {
				return 0, err
			}
			c := NewCmp(want)
			record := func(k int) {
				var lrs, moms []float64
				for _, g := range opt.ParamGroups() {
					lrs = append(lrs, g.LR)
					if a.Opt == "adam" || a.Opt == "adamw" {
						moms = append(moms, g.Beta1)
					} else {
						moms = append(moms, g.Momentum)
					}
				}
				c.T(fmt.Sprintf("lr%d", k), torch.FromSlice(lrs))
				if a.Momentum {
					c.T(fmt.Sprintf("momentum%d", k), torch.FromSlice(moms))
				}
			}
			record(0)
			for k := range a.Steps {
				if k == a.SaveAt {
					on, ot, err := opt.StateDict()
					if err != nil {
						return 0, err
					}
					sn, st, err := sched.StateDict()
					if err != nil {
						return 0, err
					}
					if opt, sched, err = build(); err != nil {
						return 0, err
					}
					err = errors.Join(opt.LoadStateDict(on, ot), sched.LoadStateDict(sn, st))
					closeStateTensors(ot)
					closeStateTensors(st)
					if err != nil {
						return 0, err
					}
				}
				opt.Step()
				switch s := sched.(type) {
				case *optim.ReduceLROnPlateau:
					s.Step(a.Metrics[k])
				case optim.LRScheduler:
					s.Step()
				}
				if got := sched.LastLR(); len(got) != 2 {
					return 0, fmt.Errorf("LastLR() = %v after step %d", got, k)
				}
				record(k + 1)
			}
			names, ts, err := sched.StateDict()
			if err != nil {
				return 0, err
			}
			defer closeStateTensors(ts)
			for i, n := range names {
				if want.Has("sd." + n) {
					c.T("sd."+n, ts[i])
				}
			}
			return c.Result(true)
		},
	})
}

// plateauMetrics is a validation loss that falls, flattens with noise, falls again and
// flattens: ReduceLROnPlateau's patience, threshold and cooldown all come into play.
func plateauMetrics(n int, sign float64) []float64 {
	m := make([]float64, n)
	for k := range m {
		v := 1 / (1 + float64(k)/8)
		switch {
		case k >= 25 && k < 55:
			v = 0.25 + 0.002*math.Sin(float64(k))
		case k >= 55 && k < 70:
			v = 0.25 - 0.01*float64(k-54)
		case k >= 70:
			v = 0.1 + 0.0005*math.Cos(float64(3*k))
		}
		m[k] = sign * v
	}
	return m
}

func init() {
	lambdas := []lambdaArgs{{"pow", 0.97}, {"warmup", 10}}
	registerSched("lambdalr", schedArgs{schedSpec: schedSpec{Sched: "lambdalr", Lambdas: lambdas}})
	registerSched("lambdalr-one-function", schedArgs{schedSpec: schedSpec{Sched: "lambdalr", Lambdas: []lambdaArgs{{"inv", 0.1}}}, Opt: "adam"})
	registerSched("steplr", schedArgs{schedSpec: schedSpec{Sched: "steplr", KW: schedKW{StepSize: 7, Gamma: new(0.5)}}})
	registerSched("multisteplr", schedArgs{schedSpec: schedSpec{Sched: "multisteplr",
		KW: schedKW{Milestones: []int{10, 30, 30, 75}, Gamma: new(0.3)}}})
	registerSched("exponentiallr", schedArgs{schedSpec: schedSpec{Sched: "exponentiallr", KW: schedKW{Gamma: new(0.96)}}, Opt: "rmsprop"})
	registerSched("cosineannealinglr-tmax30-etamin", schedArgs{schedSpec: schedSpec{Sched: "cosineannealinglr",
		KW: schedKW{TMax: 30, EtaMin: 0.001}}, SaveAt: 37, Steps: 100})
	registerSched("cosineannealinglr-tmax100", schedArgs{schedSpec: schedSpec{Sched: "cosineannealinglr", KW: schedKW{TMax: 100}}, Opt: "adam"})
	registerSched("linearlr-warmup", schedArgs{schedSpec: schedSpec{Sched: "linearlr",
		KW: schedKW{StartFactor: new(0.1), TotalIters: new(20)}}, SaveAt: 10, Steps: 100})
	registerSched("linearlr-decay", schedArgs{schedSpec: schedSpec{Sched: "linearlr",
		KW: schedKW{StartFactor: new(1.0), EndFactor: new(0.05), TotalIters: new(60)}}})
	registerSched("linearlr-defaults", schedArgs{schedSpec: schedSpec{Sched: "linearlr"}, SaveAt: 3, Steps: 100})
	registerSched("sequentiallr-linear-warmup-cosine", schedArgs{schedSpec: schedSpec{Sched: "sequentiallr",
		Seq: []schedSpec{
			{Sched: "linearlr", KW: schedKW{StartFactor: new(0.01), TotalIters: new(10)}},
			{Sched: "cosineannealinglr", KW: schedKW{TMax: 90, EtaMin: 1e-4}},
		}, Milestones: []int{10}}, Opt: "adamw"})
	registerSched("sequentiallr-linear-exponential-steplr", schedArgs{schedSpec: schedSpec{Sched: "sequentiallr",
		Seq: []schedSpec{
			{Sched: "linearlr", KW: schedKW{StartFactor: new(0.2), TotalIters: new(5)}},
			{Sched: "exponentiallr", KW: schedKW{Gamma: new(0.95)}},
			{Sched: "steplr", KW: schedKW{StepSize: 10, Gamma: new(0.5)}},
		}, Milestones: []int{5, 40}}, SaveAt: 40, Steps: 100})
	registerSched("sequentiallr-lambdalr-multisteplr", schedArgs{schedSpec: schedSpec{Sched: "sequentiallr",
		Seq: []schedSpec{
			{Sched: "lambdalr", Lambdas: []lambdaArgs{{"warmup", 8}}},
			{Sched: "multisteplr", KW: schedKW{Milestones: []int{20, 50}, Gamma: new(0.5)}},
		}, Milestones: []int{8}}})
	registerSched("onecyclelr-cos-sgd-momentum", schedArgs{schedSpec: schedSpec{Sched: "onecyclelr",
		KW: schedKW{MaxLR: []float64{1.0, 0.2}, TotalSteps: 100}}, Options: optOptions{Momentum: 0.9}, Momentum: true})
	registerSched("onecyclelr-linear-three-phase-adam-beta1", schedArgs{schedSpec: schedSpec{Sched: "onecyclelr",
		KW: schedKW{MaxLR: []float64{0.05, 0.01}, TotalSteps: 100, AnnealStrategy: "linear", ThreePhase: true,
			PctStart: new(0.25), DivFactor: new(10.0), FinalDivFactor: new(100.0)}}, Opt: "adam", Momentum: true})
	registerSched("onecyclelr-no-cycle-momentum", schedArgs{schedSpec: schedSpec{Sched: "onecyclelr",
		KW: schedKW{MaxLR: []float64{0.5}, TotalSteps: 120, CycleMomentum: new(false)}}, Momentum: true})
	registerSched("reducelronplateau-min-rel", schedArgs{schedSpec: schedSpec{Sched: "reducelronplateau",
		KW: schedKW{Factor: new(0.5), Patience: new(5)}}, Metrics: plateauMetrics(100, 1)})
	registerSched("reducelronplateau-max-abs-cooldown-minlr", schedArgs{schedSpec: schedSpec{Sched: "reducelronplateau",
		KW: schedKW{Mode: "max", ThresholdMode: "abs", Threshold: new(0.01), Factor: new(0.3), Patience: new(2),
			Cooldown: 3, MinLR: []float64{0.01, 0.001}}}, Metrics: plateauMetrics(100, -1), SaveAt: 31})
}

func closeStateTensors(ts []*torch.Tensor) {
	for _, t := range ts {
		t.Close()
	}
}
