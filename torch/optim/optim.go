// Package optim holds seqtorch's optimizers (SGD, Adam, AdamW, Adadelta, RMSprop, Adagrad),
// gradient clipping and learning-rate schedules (LambdaLR, StepLR, MultiStepLR,
// ExponentialLR, CosineAnnealingLR, LinearLR, SequentialLR, OneCycleLR, ReduceLROnPlateau).
//
// Each optimizer follows the single-tensor ("for-loop") implementation of the same optimizer in
// PyTorch 1.13's torch/optim (foreach=False): the same formulas in the same order, so a run in
// Go and a run in Python from the same start give the same numbers to float32 rounding. The
// schedules follow torch.optim.lr_scheduler, recursive formulas included (CosineAnnealingLR's
// get_lr, not only its closed form), to float64 rounding.
//
// Options: each optimizer takes an options struct whose zero value is PyTorch's defaults
// (SGD's learning rate excepted, which PyTorch 1.13 requires). Options whose default is not
// zero (learning rates, betas, eps, rho, alpha, AdamW's weight decay) are pointers, nil meaning
// the default, so that every value, zero included, can be asked for; Go's new(expr) writes them:
//
//	optim.NewAdam(params, optim.AdamOptions{LR: new(0.01), Beta1: new(0.0)})
//
// Options whose default is zero (weight decay, momentum, AMSGrad, Nesterov) are plain values.
//
// Parameter groups: NewXGroups takes PyTorch's list of param groups, each with options that
// override the optimizer's ([ParamGroup]); ParamGroups returns the live groups (PyTorch's
// optimizer.param_groups), whose fields the next Step reads, which is how schedules work.
// NewX(params, o) is one group.
//
// State dicts are flat, named as PyTorch's optimizer.state_dict() flattens:
// "state.<i>.<key>" per parameter (i counting every group's parameters in order) and
// "param_groups.<g>.<option>" per group ("lr", "betas", "weight_decay", ..., "initial_lr"
// once a schedule is attached, "params"). A schedule's state dict holds its own entries
// ("last_epoch", "base_lrs", ...); save both to resume a run (SaveTorch, Persister).
//
// Ownership: an optimizer holds references to the parameters it was given (the caller keeps
// owning them) and owns its state tensors (moment estimates, momentum buffers), which it
// creates outside any caller Scope; Close releases them. Step frees its temporaries before it
// returns and runs with autograd off. Parameters without a gradient are skipped, as in PyTorch.
package optim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
)

// Optimizer is what the training loop needs from an optimizer.
type Optimizer interface {
	// Step updates every parameter that has a gradient.
	Step()
	// ZeroGrad drops the parameters' gradients (PyTorch's set_to_none=True).
	ZeroGrad()
	// StateDict returns copies of the optimizer's state, named as PyTorch flattens
	// optimizer.state_dict() ("state.<param index>.<key>", "param_groups.<g>.<option>"); the
	// caller owns the returned tensors.
	StateDict() (names []string, ts []*torch.Tensor, err error)
	// LoadStateDict replaces the optimizer's state with copies of ts (the caller keeps
	// owning ts). It validates everything before changing anything.
	LoadStateDict(names []string, ts []*torch.Tensor) error
	// LR returns the learning rate of the first parameter group.
	LR() float64
	// SetLR sets the learning rate of every parameter group.
	SetLR(float64)
	// ParamGroups returns the live parameter groups (PyTorch's optimizer.param_groups):
	// changing a group's fields changes the next Step. Schedules work through them.
	ParamGroups() []*Group
}

// valueOr returns *p, or def when p is nil (an option left at PyTorch's default).
func valueOr(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

// slot is the state of one parameter: a step count and the optimizer's named buffers.
type slot struct {
	step float64
	bufs map[string]*torch.Tensor
}

// base holds what every optimizer shares: its parameters and their groups, and the
// per-parameter state.
type base struct {
	kind    string // "SGD", "Adam", ... for error messages
	params  []*torch.Tensor
	groups  []*Group
	groupOf []int   // the group of each parameter
	state   []*slot // per parameter; nil until the parameter's first update
	keys    []string
	// hypers are the group options PyTorch's optimizer has, in its defaults' order.
	hypers   []string
	validate func(g *Group) error
	// stepKind says how the step count is stored in a state dict: "" (not stored),
	// "float" (a float32 scalar, as Adam's state['step']) or "int" (Adadelta's plain int).
	stepKind string
}

// groupErr prefixes err with the group it is about, when there are several.
func groupErr(kind string, n, g int, err error) error {
	if n == 1 {
		return fmt.Errorf("optim: New%s: %w", kind, err)
	}
	return fmt.Errorf("optim: New%s: parameter group %d: %w", kind, g, err)
}

// newBase builds the groups from pgs over the defaults d (the optimizer's options), keeping
// only the options in hypers and validating every group.
func newBase(kind string, pgs []ParamGroup, d Group, hypers []string, validate func(*Group) error,
	keys []string, stepKind string) (base, error) {
	b := base{kind: kind, keys: keys, hypers: hypers, validate: validate, stepKind: stepKind}
	for gi, pg := range pgs {
		g, err := apply(d, pg, hypers)
		if err != nil {
			return base{}, groupErr(kind, len(pgs), gi, err)
		}
		if err := validate(&g); err != nil {
			return base{}, groupErr(kind, len(pgs), gi, err)
		}
		for _, p := range pg.Params {
			i := len(b.params)
			if p.Closed() {
				return base{}, fmt.Errorf("optim: New%s: parameter %d is nil or closed", kind, i)
			}
			if j := slices.Index(b.params, p); j >= 0 {
				return base{}, fmt.Errorf("optim: New%s: parameter %d is the same tensor as parameter %d", kind, i, j)
			}
			b.params = append(b.params, p)
			b.groupOf = append(b.groupOf, gi)
			g.params = append(g.params, p)
			g.index = append(g.index, i)
		}
		b.groups = append(b.groups, &g)
	}
	if len(b.params) == 0 {
		return base{}, fmt.Errorf("optim: New%s: no parameters to optimize", kind)
	}
	b.state = make([]*slot, len(b.params))
	return b, nil
}

// LR returns the learning rate of the first parameter group.
func (b *base) LR() float64 { return b.groups[0].LR }

// SetLR sets the learning rate of every parameter group.
func (b *base) SetLR(lr float64) {
	for _, g := range b.groups {
		g.LR = lr
	}
}

// ParamGroups returns the live parameter groups (PyTorch's optimizer.param_groups).
func (b *base) ParamGroups() []*Group { return slices.Clone(b.groups) }

// ZeroGrad drops the parameters' gradients (PyTorch's zero_grad(set_to_none=True)).
func (b *base) ZeroGrad() {
	for _, p := range b.params {
		if !p.Closed() {
			p.ZeroGrad()
		}
	}
}

// Close releases the optimizer's state tensors. It is idempotent; a later Step starts again
// from fresh state.
func (b *base) Close() {
	for i, s := range b.state {
		if s != nil {
			for _, t := range s.bufs {
				t.Close()
			}
			b.state[i] = nil
		}
	}
}

// Params returns the parameters the optimizer updates, every group's in order (the caller
// owns them).
func (b *base) Params() []*torch.Tensor { return slices.Clone(b.params) }

// owned runs f inside a scope of its own and keeps the tensors it returns, so they belong to
// the optimizer and not to any scope the caller has open.
func owned(f func() []*torch.Tensor) []*torch.Tensor {
	s := torch.NewScope()
	defer s.Close()
	ts := f()
	s.Keep(ts...)
	return ts
}

// zerosLike returns a zero tensor with p's shape, dtype and device, owned by the caller.
func zerosLike(p *torch.Tensor) *torch.Tensor {
	return torch.Zeros(p.Shape(), torch.WithDType(p.DType()), torch.WithDevice(p.Device()))
}

// initZeros creates the state of parameter i with every key zero-filled.
func (b *base) initZeros(i int, keys ...string) *slot {
	s := &slot{bufs: map[string]*torch.Tensor{}}
	ts := owned(func() []*torch.Tensor {
		out := make([]*torch.Tensor, len(keys))
		for k := range keys {
			out[k] = zerosLike(b.params[i])
		}
		return out
	})
	for k, key := range keys {
		s.bufs[key] = ts[k]
	}
	b.state[i] = s
	return s
}

// buf returns the state buffer key of parameter i, creating it zero-filled when missing (an
// option such as AMSGrad switched on in a group after the first steps).
func (b *base) buf(i int, key string) *torch.Tensor {
	s := b.state[i]
	if t, ok := s.bufs[key]; ok {
		return t
	}
	t := owned(func() []*torch.Tensor { return []*torch.Tensor{zerosLike(b.params[i])} })[0]
	s.bufs[key] = t
	return t
}

// eachGrad calls f for every parameter with a gradient, with its group, with autograd off
// and inside a scope that frees f's temporaries.
func (b *base) eachGrad(f func(i int, g *Group, p, grad *torch.Tensor)) {
	torch.NoGrad(func() {
		for i, p := range b.params {
			func() {
				s := torch.NewScope()
				defer s.Close()
				grad := p.Grad()
				if grad == nil {
					return
				}
				f(i, b.groups[b.groupOf[i]], p, grad)
			}()
		}
	})
}

// plusScaled returns a new tensor a + alpha*b, as a.add(b, alpha=alpha) (same kernel).
func plusScaled(a, b *torch.Tensor, alpha float64) *torch.Tensor {
	c := a.Clone()
	c.AddInPlace(b, alpha)
	return c
}

// StateDict returns copies of the state, named "state.<i>.<key>" (and "state.<i>.step" where
// PyTorch keeps a step count; i counts the parameters of every group in order), then each
// group's options "param_groups.<g>.<option>" as PyTorch names them: float64 scalars
// ("lr", "weight_decay", ...), bool scalars ("nesterov", "amsgrad", "centered"), a float64
// pair for "betas", "initial_lr" once a schedule has set it, and "params", the group's
// parameter indices (int64). Parameters not yet updated have no entries, as in PyTorch.
func (b *base) StateDict() (names []string, ts []*torch.Tensor, err error) {
	err = torch.Try(func() {
		ts = owned(func() []*torch.Tensor {
			var out []*torch.Tensor
			torch.NoGrad(func() {
				for i, s := range b.state {
					if s == nil {
						continue
					}
					prefix := "state." + strconv.Itoa(i) + "."
					switch b.stepKind {
					case "float":
						names = append(names, prefix+"step")
						out = append(out, torch.Scalar(s.step))
					case "int":
						names = append(names, prefix+"step")
						out = append(out, torch.Scalar(s.step, torch.WithDType(torch.Int64)))
					}
					for _, k := range b.keys {
						if t, ok := s.bufs[k]; ok {
							names = append(names, prefix+k)
							out = append(out, t.Clone())
						}
					}
				}
				for gi, g := range b.groups {
					prefix := "param_groups." + strconv.Itoa(gi) + "."
					for _, k := range b.hypers {
						names = append(names, prefix+k)
						out = append(out, groupTensor(g, k))
					}
					if g.InitialLR != nil {
						names = append(names, prefix+"initial_lr")
						out = append(out, torch.Scalar(*g.InitialLR, torch.WithDType(torch.Float64)))
					}
					idx := make([]int64, len(g.index))
					for k, v := range g.index {
						idx[k] = int64(v)
					}
					names = append(names, prefix+"params")
					out = append(out, torch.FromSlice(idx))
				}
			})
			return out
		})
	})
	if err != nil {
		closeAll(ts)
		return nil, nil, fmt.Errorf("optim: %s.StateDict: %w", b.kind, err)
	}
	return names, ts, nil
}

// values reads t's elements as float64.
func values(t *torch.Tensor) (v []float64, err error) {
	err = torch.Try(func() {
		torch.WithScope(func(*torch.Scope) { v = t.Detach().ToDType(torch.Float64).Float64s() })
	})
	return v, err
}

// LoadStateDict replaces the state with copies of ts, named as StateDict names them. Entries
// are validated (known keys, parameter and group indices in range, shapes matching the
// parameter, a group's "params" naming its parameters, option values valid) before anything
// changes. Options absent from names keep their values, so a state dict holding only
// "param_groups.0.lr" (as older versions wrote) loads.
func (b *base) LoadStateDict(names []string, ts []*torch.Tensor) error {
	if len(names) != len(ts) {
		return fmt.Errorf("optim: %s.LoadStateDict: %d names for %d tensors", b.kind, len(names), len(ts))
	}
	type entry struct {
		key string
		t   *torch.Tensor
	}
	perParam := map[int][]entry{}
	steps := map[int]float64{}
	groups := make([]Group, len(b.groups))
	for gi, g := range b.groups {
		groups[gi] = *g
	}
	for n, name := range names {
		t := ts[n]
		if t.Closed() {
			return fmt.Errorf("optim: %s.LoadStateDict: %q is nil or closed", b.kind, name)
		}
		parts := strings.SplitN(name, ".", 3)
		if len(parts) != 3 || (parts[0] != "state" && parts[0] != "param_groups") {
			return fmt.Errorf("optim: %s.LoadStateDict: unexpected entry %q (want state.<index>.<key> or param_groups.<group>.<option>)", b.kind, name)
		}
		if parts[0] == "param_groups" {
			gi, err := strconv.Atoi(parts[1])
			if err != nil || gi < 0 || gi >= len(b.groups) {
				return fmt.Errorf("optim: %s.LoadStateDict: %q: parameter group out of range (have %d groups)", b.kind, name, len(b.groups))
			}
			v, err := values(t)
			if err != nil {
				return fmt.Errorf("optim: %s.LoadStateDict: %q: %w", b.kind, name, err)
			}
			g, key := &groups[gi], parts[2]
			switch {
			case key == "params":
				want := make([]float64, len(g.index))
				for k, i := range g.index {
					want[k] = float64(i)
				}
				if !slices.Equal(v, want) {
					return fmt.Errorf("optim: %s.LoadStateDict: %q is %v, but group %d holds parameters %v", b.kind, name, v, gi, g.index)
				}
			case key == "initial_lr":
				if len(v) != 1 {
					return fmt.Errorf("optim: %s.LoadStateDict: %q has %d values, want 1", b.kind, name, len(v))
				}
				g.InitialLR = &v[0]
			case slices.Contains(b.hypers, key):
				if want := len(groupValues(g, key)); len(v) != want {
					return fmt.Errorf("optim: %s.LoadStateDict: %q has %d values, want %d", b.kind, name, len(v), want)
				}
				setGroupValues(g, key, v)
			default:
				return fmt.Errorf("optim: %s.LoadStateDict: %q: unknown parameter group option %q (want one of %v, initial_lr, params)", b.kind, name, key, b.hypers)
			}
			continue
		}
		i, err := strconv.Atoi(parts[1])
		if err != nil || i < 0 || i >= len(b.params) {
			return fmt.Errorf("optim: %s.LoadStateDict: %q: parameter index out of range (have %d parameters)", b.kind, name, len(b.params))
		}
		key := parts[2]
		if key == "step" && b.stepKind != "" {
			var v float64
			if err := torch.Try(func() { v = t.Item() }); err != nil {
				return fmt.Errorf("optim: %s.LoadStateDict: %q: %w", b.kind, name, err)
			}
			steps[i] = v
			continue
		}
		if !slices.Contains(b.keys, key) {
			return fmt.Errorf("optim: %s.LoadStateDict: %q: unknown state key %q (want one of %v)", b.kind, name, key, b.keys)
		}
		if got, want := t.Shape(), b.params[i].Shape(); !slices.Equal(got, want) {
			return fmt.Errorf("optim: %s.LoadStateDict: %q has shape %v, parameter %d has %v", b.kind, name, got, i, want)
		}
		perParam[i] = append(perParam[i], entry{key, t})
	}
	for i := range steps {
		if _, ok := perParam[i]; !ok {
			return fmt.Errorf("optim: %s.LoadStateDict: state.%d.step without any state buffer", b.kind, i)
		}
	}
	for gi := range groups {
		if err := b.validate(&groups[gi]); err != nil {
			return fmt.Errorf("optim: %s.LoadStateDict: parameter group %d: %w", b.kind, gi, err)
		}
	}
	// Build the new state, then swap it in.
	fresh := make([]*slot, len(b.params))
	err := torch.Try(func() {
		torch.NoGrad(func() {
			for i, es := range perParam {
				s := &slot{step: steps[i], bufs: map[string]*torch.Tensor{}}
				fresh[i] = s
				for _, e := range es {
					s.bufs[e.key] = owned(func() []*torch.Tensor {
						z := zerosLike(b.params[i])
						z.CopyFrom(e.t)
						return []*torch.Tensor{z}
					})[0]
				}
			}
		})
	})
	if err != nil {
		for _, s := range fresh {
			if s != nil {
				for _, t := range s.bufs {
					t.Close()
				}
			}
		}
		return fmt.Errorf("optim: %s.LoadStateDict: %w", b.kind, err)
	}
	b.Close()
	b.state = fresh
	for gi, g := range b.groups {
		*g = groups[gi]
	}
	return nil
}

// ClipGradNorm scales the gradients of params so that their joint 2-norm is at most maxNorm,
// as torch.nn.utils.clip_grad_norm_ (norm type 2): total = ‖(‖g₁‖, ‖g₂‖, …)‖, every gradient
// is multiplied by min(maxNorm/(total+1e-6), 1). It returns the total norm before clipping
// (0 when no parameter has a gradient). Parameters without a gradient are skipped.
func ClipGradNorm(params []*torch.Tensor, maxNorm float64) float64 {
	var total float64
	torch.NoGrad(func() {
		s := torch.NewScope()
		defer s.Close()
		var grads, norms []*torch.Tensor
		for _, p := range params {
			if p.Closed() {
				continue
			}
			if g := p.Grad(); g != nil {
				grads = append(grads, g)
				norms = append(norms, g.Detach().Norm(2, false))
			}
		}
		if len(grads) == 0 {
			return
		}
		totalNorm := torch.Stack(norms, 0).Norm(2, false)
		// max_norm / (total_norm + 1e-6) is reciprocal(total_norm + 1e-6) * max_norm in
		// PyTorch (Tensor.__rdiv__); pow(x, -1) is computed as 1/x, like reciprocal.
		coef := totalNorm.AddScalar(1e-6).PowScalar(-1).MulScalar(maxNorm).ClampMax(1)
		for _, g := range grads {
			g.MulInPlace(coef)
		}
		total = totalNorm.Item()
	})
	return total
}

var (
	_ Optimizer = (*SGD)(nil)
	_ Optimizer = (*Adam)(nil)
	_ Optimizer = (*AdamW)(nil)
	_ Optimizer = (*Adadelta)(nil)
	_ Optimizer = (*RMSprop)(nil)
	_ Optimizer = (*Adagrad)(nil)
)
