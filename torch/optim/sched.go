package optim

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/seqtorch/seqtorch/torch"
)

// Scheduler is what every learning-rate schedule has, ReduceLROnPlateau included.
type Scheduler interface {
	// LastLR returns the learning rate of every parameter group after the latest step
	// (PyTorch's get_last_lr()).
	LastLR() []float64
	// StateDict returns the schedule's state as tensors named after PyTorch's
	// scheduler.state_dict() keys ("last_epoch", "base_lrs", "_last_lr", "_step_count" and
	// the schedule's numeric settings); the caller owns the tensors. Save the optimizer's
	// state with it: as in PyTorch, the learning rates live in the optimizer's groups.
	StateDict() (names []string, ts []*torch.Tensor, err error)
	// LoadStateDict restores a state StateDict returned, validating every entry before
	// changing anything. Entries absent from names keep their values.
	LoadStateDict(names []string, ts []*torch.Tensor) error
}

// LRScheduler is a schedule stepped without arguments, once per epoch (or per batch, as
// OneCycleLR): every scheduler here but ReduceLROnPlateau. Call Step after the optimizer's
// Step, as in PyTorch.
type LRScheduler interface {
	Scheduler
	Step()
	// LastEpoch returns PyTorch's last_epoch: 0 after construction, +1 per Step.
	LastEpoch() int
}

// field is one entry of a schedule's state dict; exactly one pointer is set.
type field struct {
	name  string
	i     *int
	f     *float64
	b     *bool
	fs    *[]float64
	is    *[]int
	fixed bool // fs/is: a loaded value must keep the length (one per parameter group)
}

// core is the machinery of PyTorch's LRScheduler base class: base learning rates from the
// groups' initial_lr, last_epoch, the step count, and the initial step at construction.
type core struct {
	kind      string
	opt       Optimizer
	groups    []*Group
	baseLRs   []float64
	lastEpoch int
	stepCount int
	lastLR    []float64
	rule      lrRule
	extra     []field
}

// lrRule is a schedule's chainable formula (PyTorch's get_lr), computed from the groups'
// current learning rates and last_epoch.
type lrRule interface{ getLR() []float64 }

// closedFormer is a schedule with a closed form (PyTorch's _get_closed_form_lr), which
// SequentialLR uses when it restarts a schedule at a milestone.
type closedFormer interface{ closedFormLR() []float64 }

// chained is what SequentialLR needs of the schedules it runs.
type chained interface {
	sched() *core
}

func (c *core) sched() *core { return c }

// init is PyTorch's LRScheduler.__init__ with last_epoch=-1: every group's initial_lr
// defaults to its lr, the base learning rates are the initial_lrs, and a first step runs.
func (c *core) init(kind string, o Optimizer, rule lrRule, extra ...field) {
	c.kind, c.opt, c.rule, c.extra = kind, o, rule, extra
	c.groups = o.ParamGroups()
	c.baseLRs = make([]float64, len(c.groups))
	for i, g := range c.groups {
		if g.InitialLR == nil {
			v := g.LR
			g.InitialLR = &v
		}
		c.baseLRs[i] = *g.InitialLR
	}
	c.lastEpoch = -1
	c.initialStep()
}

func (c *core) initialStep() {
	c.stepCount = 0
	c.Step()
}

// Step advances the schedule by one epoch and sets every group's learning rate.
func (c *core) Step() {
	c.stepCount++
	c.lastEpoch++
	c.set(c.rule.getLR())
}

// stepEpoch is PyTorch's step(epoch): last_epoch jumps to epoch and the closed form, where
// the schedule has one, gives the learning rates.
func (c *core) stepEpoch(epoch int) {
	c.stepCount++
	c.lastEpoch = epoch
	if cf, ok := c.rule.(closedFormer); ok {
		c.set(cf.closedFormLR())
	} else {
		c.set(c.rule.getLR())
	}
}

func (c *core) set(lrs []float64) {
	for i, g := range c.groups {
		g.LR = lrs[i]
	}
	c.lastLR = groupLRs(c.groups)
}

func groupLRs(groups []*Group) []float64 {
	out := make([]float64, len(groups))
	for i, g := range groups {
		out[i] = g.LR
	}
	return out
}

// each returns f applied to every group's current learning rate.
func (c *core) each(f func(i int, lr float64) float64) []float64 {
	out := make([]float64, len(c.groups))
	for i, g := range c.groups {
		out[i] = f(i, g.LR)
	}
	return out
}

// LastLR returns every group's learning rate after the latest step.
func (c *core) LastLR() []float64 { return slices.Clone(c.lastLR) }

// LastEpoch returns PyTorch's last_epoch: 0 after construction, +1 per Step.
func (c *core) LastEpoch() int { return c.lastEpoch }

// SetLastEpoch sets last_epoch (the learning rates are not changed); LoadStateDict is the
// complete way to resume a schedule.
func (c *core) SetLastEpoch(n int) { c.lastEpoch = n }

// BaseLRs returns the learning rates the schedule starts from (PyTorch's base_lrs).
func (c *core) BaseLRs() []float64 { return slices.Clone(c.baseLRs) }

func (c *core) fields() []field {
	return append([]field{
		{name: "base_lrs", fs: &c.baseLRs, fixed: true},
		{name: "last_epoch", i: &c.lastEpoch},
		{name: "_step_count", i: &c.stepCount},
		{name: "_last_lr", fs: &c.lastLR, fixed: true},
	}, c.extra...)
}

// StateDict returns the schedule's state (see Scheduler).
func (c *core) StateDict() ([]string, []*torch.Tensor, error) {
	return fieldsStateDict(c.kind, c.fields())
}

// LoadStateDict restores a state StateDict returned (see Scheduler).
func (c *core) LoadStateDict(names []string, ts []*torch.Tensor) error {
	return fieldsLoad(c.kind, c.fields(), names, ts)
}

func fieldsStateDict(kind string, fs []field) (names []string, ts []*torch.Tensor, err error) {
	err = torch.Try(func() {
		ts = owned(func() []*torch.Tensor {
			var out []*torch.Tensor
			for _, f := range fs {
				var t *torch.Tensor
				switch {
				case f.i != nil:
					t = torch.Scalar(float64(*f.i), torch.WithDType(torch.Int64))
				case f.f != nil:
					t = torch.Scalar(*f.f, torch.WithDType(torch.Float64))
				case f.b != nil:
					t = torch.Scalar(b2f(*f.b), torch.WithDType(torch.Bool))
				case f.fs != nil:
					t = torch.FromSlice(slices.Clone(*f.fs))
				case f.is != nil:
					v := make([]int64, len(*f.is))
					for k, x := range *f.is {
						v[k] = int64(x)
					}
					t = torch.FromSlice(v)
				}
				names = append(names, f.name)
				out = append(out, t)
			}
			return out
		})
	})
	if err != nil {
		closeAll(ts)
		return nil, nil, fmt.Errorf("optim: %s.StateDict: %w", kind, err)
	}
	return names, ts, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func fieldsLoad(kind string, fs []field, names []string, ts []*torch.Tensor) error {
	if len(names) != len(ts) {
		return fmt.Errorf("optim: %s.LoadStateDict: %d names for %d tensors", kind, len(names), len(ts))
	}
	var sets []func()
	for n, name := range names {
		k := slices.IndexFunc(fs, func(f field) bool { return f.name == name })
		if k < 0 {
			known := make([]string, len(fs))
			for j, f := range fs {
				known[j] = f.name
			}
			return fmt.Errorf("optim: %s.LoadStateDict: unknown entry %q (want one of %v)", kind, name, known)
		}
		if ts[n].Closed() {
			return fmt.Errorf("optim: %s.LoadStateDict: %q is nil or closed", kind, name)
		}
		v, err := values(ts[n])
		if err != nil {
			return fmt.Errorf("optim: %s.LoadStateDict: %q: %w", kind, name, err)
		}
		f := fs[k]
		scalar := f.i != nil || f.f != nil || f.b != nil
		switch {
		case scalar && len(v) != 1:
			return fmt.Errorf("optim: %s.LoadStateDict: %q has %d values, want 1", kind, name, len(v))
		case f.fixed && f.fs != nil && len(v) != len(*f.fs):
			return fmt.Errorf("optim: %s.LoadStateDict: %q has %d values, want %d (one per parameter group)", kind, name, len(v), len(*f.fs))
		case f.fixed && f.is != nil && len(v) != len(*f.is):
			return fmt.Errorf("optim: %s.LoadStateDict: %q has %d values, want %d", kind, name, len(v), len(*f.is))
		}
		if f.i != nil || f.is != nil {
			for _, x := range v {
				if x != math.Trunc(x) || math.IsInf(x, 0) {
					return fmt.Errorf("optim: %s.LoadStateDict: %q holds %v, want integers", kind, name, x)
				}
			}
		}
		switch {
		case f.i != nil:
			sets = append(sets, func() { *f.i = int(v[0]) })
		case f.f != nil:
			sets = append(sets, func() { *f.f = v[0] })
		case f.b != nil:
			sets = append(sets, func() { *f.b = v[0] != 0 })
		case f.fs != nil:
			sets = append(sets, func() { *f.fs = v })
		case f.is != nil:
			sets = append(sets, func() {
				is := make([]int, len(v))
				for j, x := range v {
					is[j] = int(x)
				}
				*f.is = is
			})
		}
	}
	for _, set := range sets {
		set()
	}
	return nil
}

// ---- the schedules --------------------------------------------------------------------

// LambdaLR sets each group's learning rate to its base learning rate times a function of
// the epoch, as torch.optim.lr_scheduler.LambdaLR: lr = base_lr · λ(last_epoch). The
// functions are not part of the state dict (PyTorch saves plain functions as None too).
type LambdaLR struct {
	core
	lambdas []func(epoch int) float64
}

// NewLambdaLR returns a LambdaLR over o with one function for every group, or one per group.
func NewLambdaLR(o Optimizer, lambdas ...func(epoch int) float64) (*LambdaLR, error) {
	n := len(o.ParamGroups())
	switch {
	case len(lambdas) == 1:
		lambdas = slices.Repeat(lambdas, n)
	case len(lambdas) != n:
		return nil, fmt.Errorf("optim: NewLambdaLR: expected %d lr_lambdas, but got %d", n, len(lambdas))
	}
	for i, f := range lambdas {
		if f == nil {
			return nil, fmt.Errorf("optim: NewLambdaLR: function %d is nil", i)
		}
	}
	s := &LambdaLR{lambdas: lambdas}
	s.init("LambdaLR", o, s)
	return s, nil
}

func (s *LambdaLR) getLR() []float64 {
	return s.each(func(i int, _ float64) float64 { return s.baseLRs[i] * s.lambdas[i](s.lastEpoch) })
}

// StepLR multiplies every group's learning rate by gamma every stepSize epochs, as
// torch.optim.lr_scheduler.StepLR (call Step once per epoch, after the optimizer's steps).
type StepLR struct {
	core
	stepSize int
	gamma    float64
}

// NewStepLR returns a StepLR over o (PyTorch's default gamma is 0.1).
func NewStepLR(o Optimizer, stepSize int, gamma float64) (*StepLR, error) {
	if stepSize < 1 {
		return nil, fmt.Errorf("optim: NewStepLR: step size %d, want >= 1", stepSize)
	}
	s := &StepLR{stepSize: stepSize, gamma: gamma}
	s.init("StepLR", o, s, field{name: "step_size", i: &s.stepSize}, field{name: "gamma", f: &s.gamma})
	return s, nil
}

func (s *StepLR) getLR() []float64 {
	return s.each(func(_ int, lr float64) float64 {
		if s.lastEpoch == 0 || s.lastEpoch%s.stepSize != 0 {
			return lr
		}
		return lr * s.gamma
	})
}

func (s *StepLR) closedFormLR() []float64 {
	return s.each(func(i int, _ float64) float64 {
		return s.baseLRs[i] * math.Pow(s.gamma, float64(floorDiv(s.lastEpoch, s.stepSize)))
	})
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// MultiStepLR multiplies every group's learning rate by gamma at each milestone epoch, as
// torch.optim.lr_scheduler.MultiStepLR (a milestone listed twice multiplies by gamma²).
type MultiStepLR struct {
	core
	milestones []int // sorted, with repeats
	gamma      float64
}

// NewMultiStepLR returns a MultiStepLR over o (PyTorch's default gamma is 0.1).
func NewMultiStepLR(o Optimizer, milestones []int, gamma float64) (*MultiStepLR, error) {
	s := &MultiStepLR{milestones: slices.Sorted(slices.Values(milestones)), gamma: gamma}
	s.init("MultiStepLR", o, s, field{name: "milestones", is: &s.milestones}, field{name: "gamma", f: &s.gamma})
	return s, nil
}

func (s *MultiStepLR) getLR() []float64 {
	n := 0
	for _, m := range s.milestones {
		if m == s.lastEpoch {
			n++
		}
	}
	return s.each(func(_ int, lr float64) float64 {
		if n == 0 {
			return lr
		}
		return lr * math.Pow(s.gamma, float64(n))
	})
}

func (s *MultiStepLR) closedFormLR() []float64 {
	n := sort.SearchInts(s.milestones, s.lastEpoch+1) // bisect_right
	return s.each(func(i int, _ float64) float64 { return s.baseLRs[i] * math.Pow(s.gamma, float64(n)) })
}

// ExponentialLR multiplies every group's learning rate by gamma every epoch, as
// torch.optim.lr_scheduler.ExponentialLR.
type ExponentialLR struct {
	core
	gamma float64
}

// NewExponentialLR returns an ExponentialLR over o.
func NewExponentialLR(o Optimizer, gamma float64) (*ExponentialLR, error) {
	s := &ExponentialLR{gamma: gamma}
	s.init("ExponentialLR", o, s, field{name: "gamma", f: &s.gamma})
	return s, nil
}

func (s *ExponentialLR) getLR() []float64 {
	return s.each(func(_ int, lr float64) float64 {
		if s.lastEpoch == 0 {
			return lr
		}
		return lr * s.gamma
	})
}

func (s *ExponentialLR) closedFormLR() []float64 {
	return s.each(func(i int, _ float64) float64 { return s.baseLRs[i] * math.Pow(s.gamma, float64(s.lastEpoch)) })
}

// CosineAnnealingLR anneals every group's learning rate from its base value to etaMin over
// tMax epochs along a half cosine, then back up (and so on), as
// torch.optim.lr_scheduler.CosineAnnealingLR: with PyTorch's recursive formula
//
//	lr_t = eta_min + (lr_{t−1} − eta_min) · (1 + cos(π·t/T_max)) / (1 + cos(π·(t−1)/T_max))
//
// (and its special cases), which follows changes others make to the learning rate; the
// closed form eta_min + (base_lr − eta_min)·(1 + cos(π·t/T_max))/2 serves SequentialLR's
// restarts.
type CosineAnnealingLR struct {
	core
	tMax   int
	etaMin float64
}

// NewCosineAnnealingLR returns a CosineAnnealingLR over o (PyTorch's default etaMin is 0).
func NewCosineAnnealingLR(o Optimizer, tMax int, etaMin float64) (*CosineAnnealingLR, error) {
	if tMax < 1 {
		return nil, fmt.Errorf("optim: NewCosineAnnealingLR: T_max %d, want >= 1", tMax)
	}
	s := &CosineAnnealingLR{tMax: tMax, etaMin: etaMin}
	s.init("CosineAnnealingLR", o, s, field{name: "T_max", i: &s.tMax}, field{name: "eta_min", f: &s.etaMin})
	return s, nil
}

func (s *CosineAnnealingLR) getLR() []float64 {
	e, tMax, etaMin := float64(s.lastEpoch), float64(s.tMax), s.etaMin
	return s.each(func(i int, lr float64) float64 {
		base := s.baseLRs[i]
		switch {
		case s.lastEpoch == 0:
			return lr
		case s.stepCount == 1 && s.lastEpoch > 0:
			return etaMin + (base-etaMin)*(1+math.Cos(e*math.Pi/tMax))/2
		case pyMod(s.lastEpoch-1-s.tMax, 2*s.tMax) == 0:
			return lr + (base-etaMin)*(1-math.Cos(math.Pi/tMax))/2
		}
		return (1+math.Cos(math.Pi*e/tMax))/(1+math.Cos(math.Pi*(e-1)/tMax))*(lr-etaMin) + etaMin
	})
}

func (s *CosineAnnealingLR) closedFormLR() []float64 {
	e, tMax := float64(s.lastEpoch), float64(s.tMax)
	return s.each(func(i int, _ float64) float64 {
		return s.etaMin + (s.baseLRs[i]-s.etaMin)*(1+math.Cos(math.Pi*e/tMax))/2
	})
}

// pyMod is Python's a % b (the sign of b).
func pyMod(a, b int) int {
	m := a % b
	if m != 0 && (m < 0) != (b < 0) {
		m += b
	}
	return m
}

// LinearLROptions configures LinearLR; the zero value is PyTorch's defaults.
type LinearLROptions struct {
	StartFactor *float64 // factor of the first epoch, in (0, 1] (nil: 1/3)
	EndFactor   *float64 // factor from TotalIters on, in [0, 1] (nil: 1)
	TotalIters  *int     // epochs of the linear change (nil: 5)
}

// LinearLR multiplies every group's base learning rate by a factor that changes linearly
// from StartFactor to EndFactor over TotalIters epochs, as
// torch.optim.lr_scheduler.LinearLR (PyTorch's recursive form; a warm-up when StartFactor
// < EndFactor). PyTorch 2.x refuses StartFactor 0, as here; 1.13 accepted it and then
// divided by zero.
type LinearLR struct {
	core
	startFactor, endFactor float64
	totalIters             int
}

// NewLinearLR returns a LinearLR over o.
func NewLinearLR(o Optimizer, opts LinearLROptions) (*LinearLR, error) {
	s := &LinearLR{startFactor: valueOr(opts.StartFactor, 1.0/3), endFactor: valueOr(opts.EndFactor, 1), totalIters: 5}
	if opts.TotalIters != nil {
		s.totalIters = *opts.TotalIters
	}
	switch {
	case !(s.startFactor > 0 && s.startFactor <= 1):
		return nil, fmt.Errorf("optim: NewLinearLR: StartFactor %v, want 0 < StartFactor <= 1", s.startFactor)
	case !(s.endFactor >= 0 && s.endFactor <= 1):
		return nil, fmt.Errorf("optim: NewLinearLR: EndFactor %v, want 0 <= EndFactor <= 1", s.endFactor)
	case s.totalIters < 1:
		return nil, fmt.Errorf("optim: NewLinearLR: TotalIters %d, want >= 1", s.totalIters)
	}
	s.init("LinearLR", o, s, field{name: "start_factor", f: &s.startFactor}, field{name: "end_factor", f: &s.endFactor},
		field{name: "total_iters", i: &s.totalIters})
	return s, nil
}

func (s *LinearLR) getLR() []float64 {
	return s.each(func(_ int, lr float64) float64 {
		switch {
		case s.lastEpoch == 0:
			return lr * s.startFactor
		case s.lastEpoch > s.totalIters:
			return lr
		}
		d := s.endFactor - s.startFactor
		return lr * (1 + d/(float64(s.totalIters)*s.startFactor+float64(s.lastEpoch-1)*d))
	})
}

func (s *LinearLR) closedFormLR() []float64 {
	return s.each(func(i int, _ float64) float64 {
		return s.baseLRs[i] * (s.startFactor + (s.endFactor-s.startFactor)*float64(min(s.totalIters, s.lastEpoch))/float64(s.totalIters))
	})
}

// SequentialLR runs schedules one after the other, switching at the milestone epochs, as
// torch.optim.lr_scheduler.SequentialLR: a warm-up then a decay is
//
//	warm, _ := optim.NewLinearLR(opt, optim.LinearLROptions{StartFactor: new(0.1), TotalIters: new(5)})
//	decay, _ := optim.NewCosineAnnealingLR(opt, 95, 0)
//	sched, _ := optim.NewSequentialLR(opt, []optim.LRScheduler{warm, decay}, []int{5})
//
// At construction it resets the groups' learning rates to their initial_lr, undoes the first
// step of every schedule and steps the first one again; at a milestone the next schedule
// restarts at epoch 0 through its closed form. Its state dict holds its own entries
// ("last_epoch", "_milestones", "_last_lr") and each schedule's under "_schedulers.<i>.".
type SequentialLR struct {
	opt        Optimizer
	schedulers []*core
	milestones []int
	lastEpoch  int
	lastLR     []float64
}

// NewSequentialLR returns a SequentialLR over o running schedulers (created over o, by this
// package, not SequentialLRs), switching at the increasing milestones (one fewer than
// schedulers).
func NewSequentialLR(o Optimizer, schedulers []LRScheduler, milestones []int) (*SequentialLR, error) {
	if len(schedulers) < 1 {
		return nil, fmt.Errorf("optim: NewSequentialLR: no schedulers")
	}
	if len(milestones) != len(schedulers)-1 {
		return nil, fmt.Errorf("optim: NewSequentialLR: %d schedulers need %d milestones, got %d", len(schedulers), len(schedulers)-1, len(milestones))
	}
	for i := 1; i < len(milestones); i++ {
		if milestones[i] <= milestones[i-1] {
			return nil, fmt.Errorf("optim: NewSequentialLR: milestones %v are not increasing", milestones)
		}
	}
	s := &SequentialLR{opt: o, milestones: slices.Clone(milestones)}
	for i, sc := range schedulers {
		c, ok := sc.(chained)
		if !ok {
			return nil, fmt.Errorf("optim: NewSequentialLR: scheduler %d (%T) is not one of this package's epoch schedules", i, sc)
		}
		if c.sched().opt != o {
			return nil, fmt.Errorf("optim: NewSequentialLR: scheduler %d belongs to another optimizer", i)
		}
		s.schedulers = append(s.schedulers, c.sched())
	}
	groups := o.ParamGroups()
	for _, g := range groups {
		g.LR = *g.InitialLR // set by the schedules
	}
	for _, c := range s.schedulers {
		c.lastEpoch--
	}
	s.schedulers[0].initialStep()
	s.lastLR = s.schedulers[0].LastLR()
	return s, nil
}

// Step advances the schedule by one epoch.
func (s *SequentialLR) Step() {
	s.lastEpoch++
	idx := sort.SearchInts(s.milestones, s.lastEpoch+1) // bisect_right
	c := s.schedulers[idx]
	if idx > 0 && s.milestones[idx-1] == s.lastEpoch {
		c.stepEpoch(0)
	} else {
		c.Step()
	}
	s.lastLR = c.LastLR()
}

// LastLR returns every group's learning rate after the latest step.
func (s *SequentialLR) LastLR() []float64 { return slices.Clone(s.lastLR) }

// LastEpoch returns PyTorch's last_epoch: 0 after construction, +1 per Step.
func (s *SequentialLR) LastEpoch() int { return s.lastEpoch }

func (s *SequentialLR) fields() []field {
	fs := []field{
		{name: "last_epoch", i: &s.lastEpoch},
		{name: "_milestones", is: &s.milestones, fixed: true},
		{name: "_last_lr", fs: &s.lastLR, fixed: true},
	}
	for i, c := range s.schedulers {
		for _, f := range c.fields() {
			f.name = "_schedulers." + strconv.Itoa(i) + "." + f.name
			fs = append(fs, f)
		}
	}
	return fs
}

// StateDict returns the schedule's state and its schedules' (see the type's documentation).
func (s *SequentialLR) StateDict() ([]string, []*torch.Tensor, error) {
	return fieldsStateDict("SequentialLR", s.fields())
}

// LoadStateDict restores a state StateDict returned.
func (s *SequentialLR) LoadStateDict(names []string, ts []*torch.Tensor) error {
	return fieldsLoad("SequentialLR", s.fields(), names, ts)
}

// OneCycleLROptions configures OneCycleLR; the zero value is PyTorch's defaults. Either
// TotalSteps or Epochs and StepsPerEpoch is required.
type OneCycleLROptions struct {
	TotalSteps     int       // steps in the cycle (0: Epochs·StepsPerEpoch)
	Epochs         int       // with StepsPerEpoch, when TotalSteps is 0
	StepsPerEpoch  int       //
	PctStart       *float64  // share of the cycle spent increasing the learning rate (nil: 0.3)
	AnnealStrategy string    // "cos" ("": the default) or "linear"
	CycleMomentum  *bool     // cycle momentum (SGD) or β₁ (Adam, AdamW) inversely (nil: true)
	BaseMomentum   []float64 // lowest momentum, one value or one per group (nil: 0.85)
	MaxMomentum    []float64 // highest momentum, one value or one per group (nil: 0.95)
	DivFactor      *float64  // initial_lr = max_lr/DivFactor (nil: 25)
	FinalDivFactor *float64  // min_lr = initial_lr/FinalDivFactor (nil: 1e4)
	ThreePhase     bool      // a third phase annihilates the learning rate
}

// OneCycleLR is the 1cycle policy (Smith & Topin), as torch.optim.lr_scheduler.OneCycleLR:
// the learning rate rises from max_lr/DivFactor to max_lr over PctStart of the steps and
// anneals to min_lr (three-phase: back to the initial rate, then down to min_lr), while the
// momentum (SGD's Momentum, or Adam's Beta1) moves the other way between MaxMomentum and
// BaseMomentum. Step it after every batch; stepping past TotalSteps panics, as PyTorch
// raises. The per-group max_lr, min_lr and momenta, which PyTorch keeps in the optimizer's
// groups, are in this schedule's state dict ("max_lrs", "min_lrs", "max_momentums",
// "base_momentums"); the phase layout and anneal strategy come from the constructor.
type OneCycleLR struct {
	core
	totalSteps     int
	phases         []phase
	linear         bool
	cycleMomentum  bool
	useBeta1       bool
	maxLRs, minLRs []float64
	maxMoms        []float64
	baseMoms       []float64
}

// phase is one of _schedule_phases: where it ends and which values it anneals between
// (learning rates: 0 initial, 1 max, 2 min; momenta: 0 max, 1 base).
type phase struct {
	end              float64
	startLR, endLR   int
	startMom, endMom int
}

// optionHaver reports which param-group options an optimizer has.
type optionHaver interface{ hasOption(key string) bool }

func (b *base) hasOption(key string) bool { return slices.Contains(b.hypers, key) }

// perGroup expands one value, or checks one per group.
func perGroup(name string, v []float64, def float64, n int) ([]float64, error) {
	switch len(v) {
	case 0:
		return slices.Repeat([]float64{def}, n), nil
	case 1:
		return slices.Repeat(v, n), nil
	case n:
		return slices.Clone(v), nil
	}
	return nil, fmt.Errorf("expected %d values for %s, got %d", n, name, len(v))
}

// NewOneCycleLR returns a OneCycleLR over o peaking at maxLR (one value, or one per group).
// It sets the groups' initial learning rates (and momenta, with CycleMomentum).
func NewOneCycleLR(o Optimizer, maxLR []float64, opts OneCycleLROptions) (*OneCycleLR, error) {
	fail := func(format string, a ...any) (*OneCycleLR, error) {
		return nil, fmt.Errorf("optim: NewOneCycleLR: "+format, a...)
	}
	s := &OneCycleLR{totalSteps: opts.TotalSteps}
	switch {
	case opts.TotalSteps < 0:
		return fail("expected positive TotalSteps, but got %d", opts.TotalSteps)
	case opts.TotalSteps == 0 && (opts.Epochs <= 0 || opts.StepsPerEpoch <= 0):
		return fail("define either TotalSteps or Epochs and StepsPerEpoch (got %d and %d)", opts.Epochs, opts.StepsPerEpoch)
	case opts.TotalSteps == 0:
		s.totalSteps = opts.Epochs * opts.StepsPerEpoch
	}
	pct := valueOr(opts.PctStart, 0.3)
	if !(pct >= 0 && pct <= 1) {
		return fail("expected PctStart between 0 and 1, but got %v", pct)
	}
	n := float64(s.totalSteps)
	if opts.ThreePhase {
		s.phases = []phase{{pct*n - 1, 0, 1, 0, 1}, {2*pct*n - 2, 1, 0, 1, 0}, {n - 1, 0, 2, 0, 0}}
	} else {
		s.phases = []phase{{pct*n - 1, 0, 1, 0, 1}, {n - 1, 1, 2, 1, 0}}
	}
	switch opts.AnnealStrategy {
	case "", "cos":
	case "linear":
		s.linear = true
	default:
		return fail("AnnealStrategy must be \"cos\" or \"linear\", got %q", opts.AnnealStrategy)
	}
	groups := o.ParamGroups()
	var err error
	if len(maxLR) == 0 {
		return fail("no maximum learning rate")
	}
	if s.maxLRs, err = perGroup("max_lr", maxLR, 0, len(groups)); err != nil {
		return fail("%v", err)
	}
	div, finalDiv := valueOr(opts.DivFactor, 25), valueOr(opts.FinalDivFactor, 1e4)
	s.minLRs = make([]float64, len(groups))
	for i, g := range groups {
		initial := s.maxLRs[i] / div
		g.InitialLR = &initial
		s.minLRs[i] = initial / finalDiv
	}
	s.cycleMomentum = opts.CycleMomentum == nil || *opts.CycleMomentum
	if s.cycleMomentum {
		oh, ok := o.(optionHaver)
		if !ok || !(oh.hasOption("momentum") || oh.hasOption("betas")) {
			return fail("optimizer must support momentum with the CycleMomentum option enabled")
		}
		s.useBeta1 = oh.hasOption("betas")
		if s.maxMoms, err = perGroup("max_momentum", opts.MaxMomentum, 0.95, len(groups)); err != nil {
			return fail("%v", err)
		}
		if s.baseMoms, err = perGroup("base_momentum", opts.BaseMomentum, 0.85, len(groups)); err != nil {
			return fail("%v", err)
		}
		for i, g := range groups {
			if s.useBeta1 {
				g.Beta1 = s.maxMoms[i]
			} else {
				g.Momentum = s.maxMoms[i]
			}
		}
	}
	s.init("OneCycleLR", o, s, field{name: "total_steps", i: &s.totalSteps},
		field{name: "max_lrs", fs: &s.maxLRs, fixed: true}, field{name: "min_lrs", fs: &s.minLRs, fixed: true},
		field{name: "max_momentums", fs: &s.maxMoms, fixed: true}, field{name: "base_momentums", fs: &s.baseMoms, fixed: true})
	return s, nil
}

func (s *OneCycleLR) anneal(start, end, pct float64) float64 {
	if s.linear {
		return (end-start)*pct + start
	}
	cosOut := math.Cos(math.Pi*pct) + 1
	return end + (start-end)/2.0*cosOut
}

func (s *OneCycleLR) getLR() []float64 {
	step := s.lastEpoch
	if step > s.totalSteps {
		panic(fmt.Errorf("optim: OneCycleLR.Step: tried to step %d times; the specified number of total steps is %d", step+1, s.totalSteps))
	}
	lrs := make([]float64, len(s.groups))
	for gi, g := range s.groups {
		lrOf := [3]float64{s.baseLRs[gi], s.maxLRs[gi], s.minLRs[gi]}
		var momOf [2]float64
		if s.cycleMomentum {
			momOf = [2]float64{s.maxMoms[gi], s.baseMoms[gi]}
		}
		start := 0.0
		for i, ph := range s.phases {
			if float64(step) <= ph.end || i == len(s.phases)-1 {
				pct := (float64(step) - start) / (ph.end - start)
				lrs[gi] = s.anneal(lrOf[ph.startLR], lrOf[ph.endLR], pct)
				if s.cycleMomentum {
					m := s.anneal(momOf[ph.startMom], momOf[ph.endMom], pct)
					if s.useBeta1 {
						g.Beta1 = m
					} else {
						g.Momentum = m
					}
				}
				break
			}
			start = ph.end
		}
	}
	return lrs
}

// ReduceLROnPlateauOptions configures ReduceLROnPlateau; the zero value is PyTorch's
// defaults.
type ReduceLROnPlateauOptions struct {
	Mode          string    // "min" ("": the default; the metric should fall) or "max"
	Factor        *float64  // new lr = lr·Factor, Factor < 1 (nil: 0.1)
	Patience      *int      // epochs without improvement tolerated (nil: 10)
	Threshold     *float64  // least change that counts as an improvement (nil: 1e-4)
	ThresholdMode string    // "rel" ("": the default) or "abs"
	Cooldown      int       // epochs to wait after a reduction before counting again
	MinLR         []float64 // lower bound, one value or one per group (nil: 0)
	Eps           *float64  // a reduction smaller than Eps is skipped (nil: 1e-8)
}

// ReduceLROnPlateau reduces every group's learning rate by Factor when a metric has stopped
// improving for Patience epochs, as torch.optim.lr_scheduler.ReduceLROnPlateau. Its Step
// takes the metric, so it is a Scheduler but not an LRScheduler.
type ReduceLROnPlateau struct {
	opt                Optimizer
	groups             []*Group
	maxMode, absMode   bool
	factor             float64
	minLRs             []float64
	patience, cooldown int
	cooldownCounter    int
	threshold, eps     float64
	best               float64
	numBadEpochs       int
	lastEpoch          int
	lastLR             []float64
}

// NewReduceLROnPlateau returns a ReduceLROnPlateau over o.
func NewReduceLROnPlateau(o Optimizer, opts ReduceLROnPlateauOptions) (*ReduceLROnPlateau, error) {
	r := &ReduceLROnPlateau{opt: o, groups: o.ParamGroups(), factor: valueOr(opts.Factor, 0.1), patience: 10,
		cooldown: opts.Cooldown, threshold: valueOr(opts.Threshold, 1e-4), eps: valueOr(opts.Eps, 1e-8)}
	if opts.Patience != nil {
		r.patience = *opts.Patience
	}
	if !(r.factor < 1) {
		return nil, fmt.Errorf("optim: NewReduceLROnPlateau: Factor should be < 1.0 (got %v)", r.factor)
	}
	switch opts.Mode {
	case "", "min":
	case "max":
		r.maxMode = true
	default:
		return nil, fmt.Errorf("optim: NewReduceLROnPlateau: mode %q is unknown", opts.Mode)
	}
	switch opts.ThresholdMode {
	case "", "rel":
	case "abs":
		r.absMode = true
	default:
		return nil, fmt.Errorf("optim: NewReduceLROnPlateau: threshold mode %q is unknown", opts.ThresholdMode)
	}
	var err error
	if r.minLRs, err = perGroup("min_lr", opts.MinLR, 0, len(r.groups)); err != nil {
		return nil, fmt.Errorf("optim: NewReduceLROnPlateau: %w", err)
	}
	r.best = r.modeWorse()
	r.lastLR = groupLRs(r.groups)
	return r, nil
}

func (r *ReduceLROnPlateau) modeWorse() float64 {
	if r.maxMode {
		return math.Inf(-1)
	}
	return math.Inf(1)
}

func (r *ReduceLROnPlateau) isBetter(a, best float64) bool {
	switch {
	case !r.maxMode && !r.absMode:
		return a < best*(1-r.threshold)
	case !r.maxMode:
		return a < best-r.threshold
	case !r.absMode:
		return a > best*(r.threshold+1)
	}
	return a > best+r.threshold
}

// Step records the epoch's metric and reduces the learning rates when it has not improved
// for more than Patience epochs (outside a cooldown).
func (r *ReduceLROnPlateau) Step(metric float64) {
	r.lastEpoch++
	if r.isBetter(metric, r.best) {
		r.best = metric
		r.numBadEpochs = 0
	} else {
		r.numBadEpochs++
	}
	if r.cooldownCounter > 0 {
		r.cooldownCounter--
		r.numBadEpochs = 0
	}
	if r.numBadEpochs > r.patience {
		for i, g := range r.groups {
			newLR := math.Max(g.LR*r.factor, r.minLRs[i])
			if g.LR-newLR > r.eps {
				g.LR = newLR
			}
		}
		r.cooldownCounter = r.cooldown
		r.numBadEpochs = 0
	}
	r.lastLR = groupLRs(r.groups)
}

// LastLR returns every group's learning rate after the latest step.
func (r *ReduceLROnPlateau) LastLR() []float64 { return slices.Clone(r.lastLR) }

// Best returns the best metric seen (+Inf in min mode, −Inf in max mode before any).
func (r *ReduceLROnPlateau) Best() float64 { return r.best }

func (r *ReduceLROnPlateau) fields() []field {
	return []field{
		{name: "factor", f: &r.factor},
		{name: "min_lrs", fs: &r.minLRs, fixed: true},
		{name: "patience", i: &r.patience},
		{name: "cooldown", i: &r.cooldown},
		{name: "cooldown_counter", i: &r.cooldownCounter},
		{name: "threshold", f: &r.threshold},
		{name: "best", f: &r.best},
		{name: "num_bad_epochs", i: &r.numBadEpochs},
		{name: "eps", f: &r.eps},
		{name: "last_epoch", i: &r.lastEpoch},
		{name: "_last_lr", fs: &r.lastLR, fixed: true},
	}
}

// StateDict returns the schedule's state (see Scheduler); "mode" and "threshold_mode" come
// from the constructor.
func (r *ReduceLROnPlateau) StateDict() ([]string, []*torch.Tensor, error) {
	return fieldsStateDict("ReduceLROnPlateau", r.fields())
}

// LoadStateDict restores a state StateDict returned.
func (r *ReduceLROnPlateau) LoadStateDict(names []string, ts []*torch.Tensor) error {
	return fieldsLoad("ReduceLROnPlateau", r.fields(), names, ts)
}

var (
	_ LRScheduler = (*LambdaLR)(nil)
	_ LRScheduler = (*StepLR)(nil)
	_ LRScheduler = (*MultiStepLR)(nil)
	_ LRScheduler = (*ExponentialLR)(nil)
	_ LRScheduler = (*CosineAnnealingLR)(nil)
	_ LRScheduler = (*LinearLR)(nil)
	_ LRScheduler = (*SequentialLR)(nil)
	_ LRScheduler = (*OneCycleLR)(nil)
	_ Scheduler   = (*ReduceLROnPlateau)(nil)
)
