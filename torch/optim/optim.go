// Package optim holds seqtorch's optimizers (SGD, Adam, AdamW, Adadelta), gradient clipping
// and learning-rate schedules.
//
// Each optimizer follows the single-tensor ("for-loop") implementation of the same optimizer in
// PyTorch 1.13's torch/optim (foreach=False): the same formulas in the same order, so a run in
// Go and a run in Python from the same start give the same numbers to float32 rounding.
//
// Options: each optimizer takes an options struct whose zero value is PyTorch's defaults
// (SGD's learning rate excepted, which PyTorch 1.13 requires). Options whose default is not
// zero (learning rates, betas, eps, rho, AdamW's weight decay) are pointers, nil meaning the
// default, so that every value, zero included, can be asked for; Go's new(expr) writes them:
//
//	optim.NewAdam(params, optim.AdamOptions{LR: new(0.01), Beta1: new(0.0)})
//
// Options whose default is zero (weight decay, momentum, AMSGrad, Nesterov) are plain values.
//
// Ownership: an optimizer holds references to the parameters it was given (the caller keeps
// owning them) and owns its state tensors (moment estimates, momentum buffers), which it
// creates outside any caller Scope; Close releases them. Step frees its temporaries before it
// returns and runs with autograd off. Parameters without a gradient are skipped, as in PyTorch.
package optim

import (
	"fmt"
	"math"
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
	// optimizer.state_dict() ("state.<param index>.<key>", "param_groups.0.lr"); the caller
	// owns the returned tensors.
	StateDict() (names []string, ts []*torch.Tensor, err error)
	// LoadStateDict replaces the optimizer's state with copies of ts (the caller keeps
	// owning ts). It validates everything before changing anything.
	LoadStateDict(names []string, ts []*torch.Tensor) error
	// LR returns the current learning rate.
	LR() float64
	// SetLR sets the learning rate (for schedules).
	SetLR(float64)
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

// base holds what every optimizer shares: its parameters, learning rate and per-parameter state.
type base struct {
	kind   string // "SGD", "Adam", ... for error messages
	params []*torch.Tensor
	lr     float64
	state  []*slot // per parameter; nil until the parameter's first update
	keys   []string
	// stepKind says how the step count is stored in a state dict: "" (not stored),
	// "float" (a float32 scalar, as Adam's state['step']) or "int" (Adadelta's plain int).
	stepKind string
}

func newBase(kind string, params []*torch.Tensor, lr float64, keys []string, stepKind string) (base, error) {
	if len(params) == 0 {
		return base{}, fmt.Errorf("optim: New%s: no parameters to optimize", kind)
	}
	for i, p := range params {
		if p.Closed() {
			return base{}, fmt.Errorf("optim: New%s: parameter %d is nil or closed", kind, i)
		}
		for j := range i {
			if params[j] == p {
				return base{}, fmt.Errorf("optim: New%s: parameter %d is the same tensor as parameter %d", kind, i, j)
			}
		}
	}
	if math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0 {
		return base{}, fmt.Errorf("optim: New%s: invalid learning rate %v", kind, lr)
	}
	return base{kind: kind, params: slices.Clone(params), lr: lr, state: make([]*slot, len(params)),
		keys: keys, stepKind: stepKind}, nil
}

// LR returns the current learning rate.
func (b *base) LR() float64 { return b.lr }

// SetLR sets the learning rate.
func (b *base) SetLR(lr float64) { b.lr = lr }

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

// Params returns the parameters the optimizer updates (the caller owns them).
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

// eachGrad calls f for every parameter with a gradient, with autograd off and inside a scope
// that frees f's temporaries.
func (b *base) eachGrad(f func(i int, p, g *torch.Tensor)) {
	torch.NoGrad(func() {
		for i, p := range b.params {
			func() {
				s := torch.NewScope()
				defer s.Close()
				g := p.Grad()
				if g == nil {
					return
				}
				f(i, p, g)
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

const lrName = "param_groups.0.lr"

// StateDict returns copies of the state, named "state.<i>.<key>" (and "state.<i>.step" where
// PyTorch keeps a step count) plus "param_groups.0.lr" (a float64 scalar). Parameters not
// yet updated have no entries, as in PyTorch.
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
				names = append(names, lrName)
				out = append(out, torch.Scalar(b.lr, torch.WithDType(torch.Float64)))
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

// LoadStateDict replaces the state with copies of ts, named as StateDict names them. Entries
// are validated (known keys, parameter index in range, shapes matching the parameter) before
// anything changes. A missing "param_groups.0.lr" leaves the learning rate as it is.
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
	lr, hasLR := 0.0, false
	for n, name := range names {
		t := ts[n]
		if t.Closed() {
			return fmt.Errorf("optim: %s.LoadStateDict: %q is nil or closed", b.kind, name)
		}
		if name == lrName {
			if err := torch.Try(func() { lr = t.Item() }); err != nil {
				return fmt.Errorf("optim: %s.LoadStateDict: %q: %w", b.kind, name, err)
			}
			hasLR = true
			continue
		}
		parts := strings.SplitN(name, ".", 3)
		if len(parts) != 3 || parts[0] != "state" {
			return fmt.Errorf("optim: %s.LoadStateDict: unexpected entry %q (want state.<index>.<key> or %s)", b.kind, name, lrName)
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
	if hasLR {
		b.lr = lr
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

// StepLR multiplies the learning rate by Gamma every StepSize calls of Step, as
// torch.optim.lr_scheduler.StepLR (call Step once per epoch, after the optimizer's steps).
type StepLR struct {
	opt       Optimizer
	stepSize  int
	gamma     float64
	lastEpoch int
}

// NewStepLR returns a StepLR over o. A stepSize below 1 is treated as 1.
func NewStepLR(o Optimizer, stepSize int, gamma float64) *StepLR {
	if stepSize < 1 {
		stepSize = 1
	}
	return &StepLR{opt: o, stepSize: stepSize, gamma: gamma}
}

// Step advances the schedule by one epoch, decaying the learning rate when the epoch count
// reaches a multiple of the step size (PyTorch's chainable form).
func (s *StepLR) Step() {
	s.lastEpoch++
	if s.lastEpoch%s.stepSize == 0 {
		s.opt.SetLR(s.opt.LR() * s.gamma)
	}
}

// LastEpoch returns how many times Step has been called (PyTorch's last_epoch).
func (s *StepLR) LastEpoch() int { return s.lastEpoch }

// SetLastEpoch sets the epoch count, for resuming a run (the learning rate is not changed).
func (s *StepLR) SetLastEpoch(n int) { s.lastEpoch = n }

var (
	_ Optimizer = (*SGD)(nil)
	_ Optimizer = (*Adam)(nil)
	_ Optimizer = (*AdamW)(nil)
	_ Optimizer = (*Adadelta)(nil)
)
