package optim

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func TestRMSpropAdagrad(t *testing.T) {
	torchtest.CheckLive(t)
	rms := func(steps int, lr, alpha, eps, wd, mom float64, centered bool) []float64 {
		out := make([]float64, len(p0))
		for i := range out {
			p, v, gbar, buf := float64(p0[i]), 0.0, 0.0, 0.0
			for range steps {
				g := float64(w0[i]) + wd*p
				v = alpha*v + (1-alpha)*g*g
				avg := math.Sqrt(v)
				if centered {
					gbar = alpha*gbar + (1-alpha)*g
					avg = math.Sqrt(v - gbar*gbar)
				}
				avg += eps
				if mom > 0 {
					buf = mom*buf + g/avg
					p -= lr * buf
				} else {
					p -= lr * g / avg
				}
			}
			out[i] = p
		}
		return out
	}
	adagrad := func(steps int, lr, lrDecay, wd, init, eps float64) []float64 {
		out := make([]float64, len(p0))
		for i := range out {
			p, sum := float64(p0[i]), init
			for s := 1; s <= steps; s++ {
				g := float64(w0[i]) + wd*p
				clr := lr / (1 + float64(s-1)*lrDecay)
				sum += g * g
				p -= clr * g / (math.Sqrt(sum) + eps)
			}
			out[i] = p
		}
		return out
	}
	for _, c := range []struct {
		name string
		mk   func([]*torch.Tensor) (Optimizer, func(), error)
		want []float64
	}{
		{"rmsprop defaults", maker(NewRMSprop, RMSpropOptions{}), rms(3, 0.01, 0.99, 1e-8, 0, 0, false)},
		{"rmsprop momentum centered wd", maker(NewRMSprop, RMSpropOptions{LR: new(0.05), Alpha: new(0.9), WeightDecay: 0.1, Momentum: 0.8, Centered: true}),
			rms(3, 0.05, 0.9, 1e-8, 0.1, 0.8, true)},
		{"adagrad defaults", maker(NewAdagrad, AdagradOptions{}), adagrad(3, 0.01, 0, 0, 0, 1e-10)},
		{"adagrad all options", maker(NewAdagrad, AdagradOptions{LR: new(0.1), LRDecay: 0.5, WeightDecay: 0.1, InitialAccumulatorValue: 0.2, Eps: new(1e-3)}),
			adagrad(3, 0.1, 0.5, 0.1, 0.2, 1e-3)},
	} {
		t.Run(c.name, func(t *testing.T) { near(t, c.name, run(t, c.mk, 3), c.want, 1e-6) })
	}
}

func TestParamGroups(t *testing.T) {
	torchtest.CheckLive(t)
	p, q := newParam(), newParam()
	defer p.Close()
	defer q.Close()
	s, err := NewSGDGroups([]ParamGroup{
		{Params: []*torch.Tensor{p}, LR: new(0.5), WeightDecay: new(0.1)},
		{Params: []*torch.Tensor{q}},
	}, SGDOptions{LR: new(0.1)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	setGrad(p)
	setGrad(q)
	s.Step()
	s.ZeroGrad()
	wantP, wantQ := make([]float64, 3), make([]float64, 3)
	for i := range wantP {
		wantP[i] = float64(p0[i]) - 0.5*(float64(w0[i])+0.1*float64(p0[i]))
		wantQ[i] = float64(p0[i]) - 0.1*float64(w0[i])
	}
	near(t, "group 0", p.Float32s(), wantP, 1e-6)
	near(t, "group 1", q.Float32s(), wantQ, 1e-6)

	gs := s.ParamGroups()
	if len(gs) != 2 || gs[0].LR != 0.5 || gs[1].LR != 0.1 || gs[1].WeightDecay != 0 || len(gs[1].Params()) != 1 {
		t.Fatalf("groups %+v %+v", *gs[0], *gs[1])
	}
	s.SetLR(0.01)
	if gs[0].LR != 0.01 || gs[1].LR != 0.01 || s.LR() != 0.01 {
		t.Errorf("SetLR did not reach every group")
	}

	// The state dict carries every group's options; loading restores them.
	gs[1].Momentum = 0.7
	names, ts, err := s.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(ts)
	want := []string{"param_groups.0.lr", "param_groups.0.momentum", "param_groups.0.dampening",
		"param_groups.0.weight_decay", "param_groups.0.nesterov", "param_groups.0.params",
		"param_groups.1.lr", "param_groups.1.momentum", "param_groups.1.dampening",
		"param_groups.1.weight_decay", "param_groups.1.nesterov", "param_groups.1.params"}
	if !slices.Equal(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
	s2, err := NewSGDGroups([]ParamGroup{{Params: []*torch.Tensor{p}}, {Params: []*torch.Tensor{q}}}, SGDOptions{LR: new(1.0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.LoadStateDict(names, ts); err != nil {
		t.Fatal(err)
	}
	g2 := s2.ParamGroups()
	if g2[0].LR != 0.01 || g2[0].WeightDecay != 0.1 || g2[1].Momentum != 0.7 {
		t.Errorf("loaded groups %+v %+v", *g2[0], *g2[1])
	}

	// Group entries that do not fit are refused.
	one, pair := torch.Scalar(1), torch.FromSlice([]float64{0, 1})
	defer one.Close()
	defer pair.Close()
	for _, c := range []struct {
		name string
		t    *torch.Tensor
		msg  string
	}{
		{"param_groups.2.lr", one, "out of range"},
		{"param_groups.0.betas", pair, "unknown parameter group option"},
		{"param_groups.0.lr", pair, "want 1"},
		{"param_groups.0.params", pair, "holds parameters"},
		{"param_groups.0.momentum", torch.Scalar(-1), "invalid momentum"},
	} {
		err := s2.LoadStateDict([]string{c.name}, []*torch.Tensor{c.t})
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("LoadStateDict(%s) = %v, want an error mentioning %q", c.name, err, c.msg)
		}
		if c.t != one && c.t != pair {
			c.t.Close()
		}
	}
	if g2[1].Momentum != 0.7 {
		t.Error("a refused load changed a group")
	}
}

func TestParamGroupErrors(t *testing.T) {
	torchtest.CheckLive(t)
	p, q := newParam(), newParam()
	defer p.Close()
	defer q.Close()
	ps, qs := []*torch.Tensor{p}, []*torch.Tensor{q}
	for _, c := range []struct {
		name, msg string
		err       error
	}{
		{"option the optimizer lacks", "Momentum is not an option", second(NewAdamGroups([]ParamGroup{{Params: ps, Momentum: new(0.9)}}, AdamOptions{}))},
		{"sgd group without lr", "group 1: a learning rate is required", second(NewSGDGroups([]ParamGroup{{Params: ps, LR: new(0.1)}, {Params: qs}}, SGDOptions{}))},
		{"invalid group option", "group 1: invalid Beta1", second(NewAdamGroups([]ParamGroup{{Params: ps}, {Params: qs, Beta1: new(1.5)}}, AdamOptions{}))},
		{"parameter in two groups", "same tensor", second(NewRMSpropGroups([]ParamGroup{{Params: ps}, {Params: ps}}, RMSpropOptions{}))},
		{"no parameters", "no parameters", second(NewAdagradGroups([]ParamGroup{{}}, AdagradOptions{}))},
		{"adagrad eps", "invalid Eps", second(NewAdagrad(ps, AdagradOptions{Eps: new(-1.0)}))},
		{"rmsprop alpha", "invalid Alpha", second(NewRMSprop(ps, RMSpropOptions{Alpha: new(math.NaN())}))},
	} {
		if c.err == nil || !strings.HasPrefix(c.err.Error(), "optim: New") || !strings.Contains(c.err.Error(), c.msg) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, c.err, c.msg)
		}
	}
	// SGD needs no default learning rate when every group has one.
	s, err := NewSGDGroups([]ParamGroup{{Params: ps, LR: new(0.1)}, {Params: qs, LR: new(0.2)}}, SGDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestAdagradStateFromConstruction(t *testing.T) {
	torchtest.CheckLive(t)
	p := newParam()
	defer p.Close()
	a, err := NewAdagrad([]*torch.Tensor{p}, AdagradOptions{InitialAccumulatorValue: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	names, ts, err := a.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(ts)
	if names[0] != "state.0.step" || names[1] != "state.0.sum" || ts[0].Item() != 0 || ts[1].Float32s()[0] != 0.5 {
		t.Errorf("fresh Adagrad state: %v", names)
	}
}
