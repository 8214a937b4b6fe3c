package optim

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

var (
	p0 = []float32{1, -2, 0.5}
	w0 = []float32{0.3, -0.7, 2} // the gradient of sum(w·p)
)

// newParam returns a leaf parameter holding p0, owned by the caller.
func newParam() *torch.Tensor {
	return torch.FromSlice(slices.Clone(p0)).SetRequiresGrad(true)
}

// setGrad gives p the gradient w0 by backpropagating sum(w0·p).
func setGrad(p *torch.Tensor) {
	torch.WithScope(func(*torch.Scope) {
		p.Mul(torch.FromSlice(slices.Clone(w0))).Sum().Backward()
	})
}

func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol || math.IsNaN(float64(got[i])) {
			t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// maker adapts an optimizer constructor and its options to run's argument.
func maker[O any, T interface {
	Optimizer
	Close()
}](newOpt func([]*torch.Tensor, O) (T, error), o O) func([]*torch.Tensor) (Optimizer, func(), error) {
	return func(ps []*torch.Tensor) (Optimizer, func(), error) {
		a, err := newOpt(ps, o)
		if err != nil {
			return nil, nil, err
		}
		return a, a.Close, nil
	}
}

// run makes one optimizer step from p0 with gradient w0 (two steps when twice is set) and
// returns the parameter's values.
func run(t *testing.T, mk func(ps []*torch.Tensor) (Optimizer, func(), error), steps int) []float32 {
	t.Helper()
	p := newParam()
	defer p.Close()
	o, closeOpt, err := mk([]*torch.Tensor{p})
	if err != nil {
		t.Fatal(err)
	}
	defer closeOpt()
	for range steps {
		o.ZeroGrad()
		setGrad(p)
		o.Step()
	}
	o.ZeroGrad()
	return p.Float32s()
}

func TestSGD(t *testing.T) {
	torchtest.CheckLive(t)
	lr, mom, wd := 0.1, 0.9, 0.01
	got := run(t, maker(NewSGD, SGDOptions{LR: new(lr)}), 1)
	want := make([]float64, 3)
	for i := range want {
		want[i] = float64(p0[i]) - lr*float64(w0[i])
	}
	near(t, "plain", got, want, 1e-6)

	// Two steps with momentum, Nesterov and weight decay, by hand.
	got = run(t, maker(NewSGD, SGDOptions{LR: new(lr), Momentum: mom, WeightDecay: wd, Nesterov: true}), 2)
	for i := range want {
		p := float64(p0[i])
		g := float64(w0[i]) + wd*p
		buf := g
		p -= lr * (g + mom*buf)
		g = float64(w0[i]) + wd*p
		buf = mom*buf + g
		p -= lr * (g + mom*buf)
		want[i] = p
	}
	near(t, "nesterov", got, want, 1e-6)

	// Two steps with momentum and dampening.
	got = run(t, maker(NewSGD, SGDOptions{LR: new(lr), Momentum: mom, Dampening: 0.5}), 2)
	for i := range want {
		p := float64(p0[i])
		g := float64(w0[i])
		buf := g
		p -= lr * buf
		buf = mom*buf + 0.5*g
		p -= lr * buf
		want[i] = p
	}
	near(t, "dampening", got, want, 1e-6)
}

func adamByHand(steps int, lr, b1, b2, eps, wd float64, decoupled, amsgrad bool) []float64 {
	out := make([]float64, len(p0))
	for i := range out {
		p, m, v, vmax := float64(p0[i]), 0.0, 0.0, 0.0
		for s := 1; s <= steps; s++ {
			g := float64(w0[i])
			if decoupled {
				p *= 1 - lr*wd
			} else {
				g += wd * p
			}
			m = b1*m + (1-b1)*g
			v = b2*v + (1-b2)*g*g
			vv := v
			if amsgrad {
				vmax = math.Max(vmax, v)
				vv = vmax
			}
			denom := math.Sqrt(vv)/math.Sqrt(1-math.Pow(b2, float64(s))) + eps
			p -= lr / (1 - math.Pow(b1, float64(s))) * m / denom
		}
		out[i] = p
	}
	return out
}

func TestAdam(t *testing.T) {
	torchtest.CheckLive(t)
	got := run(t, maker(NewAdam, AdamOptions{LR: new(0.1)}), 1)
	near(t, "adam", got, adamByHand(1, 0.1, 0.9, 0.999, 1e-8, 0, false, false), 1e-6)

	got = run(t, maker(NewAdam, AdamOptions{LR: new(0.05), Beta1: new(0.8), Beta2: new(0.99), Eps: new(1e-6), WeightDecay: 0.1, AMSGrad: true}), 3)
	near(t, "adam amsgrad wd", got, adamByHand(3, 0.05, 0.8, 0.99, 1e-6, 0.1, false, true), 1e-6)
}

// TestZeroOptions: options whose PyTorch default is not zero still take zero, which the
// zero value of the struct cannot mean (it means the default).
func TestZeroOptions(t *testing.T) {
	torchtest.CheckLive(t)
	// β₁ = 0: the first moment is the last gradient (RMSprop-like Adam). Weight decay makes
	// the gradient change between steps, so that β₁ matters.
	got := run(t, maker(NewAdam, AdamOptions{LR: new(0.1), Beta1: new(0.0), WeightDecay: 0.5}), 3)
	near(t, "adam beta1=0", got, adamByHand(3, 0.1, 0, 0.999, 1e-8, 0.5, false, false), 1e-6)
	if def := run(t, maker(NewAdam, AdamOptions{LR: new(0.1), WeightDecay: 0.5}), 3); slices.Equal(got, def) {
		t.Error("Beta1 new(0.0) ran as the default 0.9")
	}
	got = run(t, maker(NewAdam, AdamOptions{LR: new(0.1), Beta2: new(0.0), Eps: new(0.0)}), 2)
	near(t, "adam beta2=0 eps=0", got, adamByHand(2, 0.1, 0.9, 0, 0, 0, false, false), 1e-6)
	// A learning rate of zero leaves the parameters as they were, as in PyTorch.
	got = run(t, maker(NewAdam, AdamOptions{LR: new(0.0)}), 2)
	near(t, "adam lr=0", got, []float64{float64(p0[0]), float64(p0[1]), float64(p0[2])}, 0)
}

func TestAdamW(t *testing.T) {
	torchtest.CheckLive(t)
	got := run(t, maker(NewAdamW, AdamWOptions{LR: new(0.1)}), 2)
	near(t, "adamw", got, adamByHand(2, 0.1, 0.9, 0.999, 1e-8, 1e-2, true, false), 1e-6)

	got = run(t, maker(NewAdamW, AdamWOptions{LR: new(0.1), WeightDecay: new(0.0)}), 2)
	near(t, "adamw no decay", got, adamByHand(2, 0.1, 0.9, 0.999, 1e-8, 0, false, false), 1e-6)
}

func TestAdadelta(t *testing.T) {
	torchtest.CheckLive(t)
	lr, rho, eps, wd := 0.5, 0.9, 1e-6, 0.1
	got := run(t, maker(NewAdadelta, AdadeltaOptions{LR: new(lr), WeightDecay: wd}), 2)
	want := make([]float64, 3)
	for i := range want {
		p, v, u := float64(p0[i]), 0.0, 0.0
		for range 2 {
			g := float64(w0[i]) + wd*p
			v = rho*v + (1-rho)*g*g
			d := math.Sqrt(u+eps) / math.Sqrt(v+eps) * g
			u = rho*u + (1-rho)*d*d
			p -= lr * d
		}
		want[i] = p
	}
	near(t, "adadelta", got, want, 1e-6)
}

func TestSkipsParamsWithoutGrad(t *testing.T) {
	torchtest.CheckLive(t)
	p, q := newParam(), newParam()
	defer p.Close()
	defer q.Close()
	a, err := NewAdam([]*torch.Tensor{p, q}, AdamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	setGrad(p)
	a.Step()
	near(t, "q", q.Float32s(), []float64{1, -2, 0.5}, 0)
	names, ts, err := a.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, x := range ts {
			x.Close()
		}
	}()
	want := []string{"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq", "param_groups.0.lr",
		"param_groups.0.betas", "param_groups.0.eps", "param_groups.0.weight_decay", "param_groups.0.amsgrad",
		"param_groups.0.params"}
	if !slices.Equal(names, want) {
		t.Errorf("state dict names = %v, want %v", names, want)
	}
	p.ZeroGrad()
}

// steppedAdam returns an AMSGrad Adam over p after two steps; the test closes it.
func steppedAdam(t *testing.T, p *torch.Tensor) *Adam {
	t.Helper()
	a, err := NewAdam([]*torch.Tensor{p}, AdamOptions{LR: new(0.05), AMSGrad: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	for range 2 {
		a.ZeroGrad()
		setGrad(p)
		a.Step()
	}
	return a
}

func TestStateDictRoundTrip(t *testing.T) {
	torchtest.CheckLive(t)
	// Two steps, save, load into a fresh optimizer, one more step: same as three steps.
	p := newParam()
	defer p.Close()
	a := steppedAdam(t, p)
	names, ts, err := a.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, x := range ts {
			x.Close()
		}
	}()
	b, err := NewAdam([]*torch.Tensor{p}, AdamOptions{LR: new(1.0), AMSGrad: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.LoadStateDict(names, ts); err != nil {
		t.Fatal(err)
	}
	if b.LR() != 0.05 {
		t.Errorf("loaded LR = %v, want 0.05", b.LR())
	}
	b.ZeroGrad()
	setGrad(p)
	b.Step()
	b.ZeroGrad()
	near(t, "resumed", p.Float32s(), adamByHand(3, 0.05, 0.9, 0.999, 1e-8, 0, false, true), 1e-6)

	// Bad entries are rejected without changing the state.
	bad := torch.Zeros([]int64{7})
	defer bad.Close()
	for _, c := range []struct {
		name string
		t    *torch.Tensor
		msg  string
	}{
		{"state.0.exp_avg", bad, "shape"},
		{"state.3.exp_avg", ts[1], "out of range"},
		{"state.0.bogus", ts[1], "unknown state key"},
		{"weights", ts[1], "unexpected entry"},
	} {
		err := b.LoadStateDict([]string{c.name}, []*torch.Tensor{c.t})
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("LoadStateDict(%s) = %v, want an error mentioning %q", c.name, err, c.msg)
		}
	}
	if err := b.LoadStateDict([]string{"a"}, nil); err == nil {
		t.Error("LoadStateDict with mismatched lengths succeeded")
	}
}

func TestConstructorErrors(t *testing.T) {
	torchtest.CheckLive(t)
	p := newParam()
	defer p.Close()
	closed := newParam()
	closed.Close()
	ps := []*torch.Tensor{p}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"sgd no lr", second(NewSGD(ps, SGDOptions{}))},
		{"sgd nesterov", second(NewSGD(ps, SGDOptions{LR: new(1.0), Nesterov: true}))},
		{"sgd negative momentum", second(NewSGD(ps, SGDOptions{LR: new(1.0), Momentum: -1}))},
		{"no params", second(NewSGD(nil, SGDOptions{LR: new(1.0)}))},
		{"closed param", second(NewSGD([]*torch.Tensor{closed}, SGDOptions{LR: new(1.0)}))},
		{"duplicate param", second(NewSGD([]*torch.Tensor{p, p}, SGDOptions{LR: new(1.0)}))},
		{"adam beta", second(NewAdam(ps, AdamOptions{Beta1: new(1.0)}))},
		{"adam lr", second(NewAdam(ps, AdamOptions{LR: new(-1.0)}))},
		{"adamw wd", second(NewAdamW(ps, AdamWOptions{WeightDecay: new(-1.0)}))},
		{"adadelta rho", second(NewAdadelta(ps, AdadeltaOptions{Rho: new(2.0)}))},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(c.err.Error(), "optim: New") {
			t.Errorf("%s: error %q lacks context", c.name, c.err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestClipGradNorm(t *testing.T) {
	torchtest.CheckLive(t)
	p, q := newParam(), newParam()
	defer p.Close()
	defer q.Close()
	setGrad(p)
	setGrad(q)
	var sq float64
	for _, w := range w0 {
		sq += 2 * float64(w) * float64(w)
	}
	total := math.Sqrt(sq)
	got := ClipGradNorm([]*torch.Tensor{p, q}, 1)
	if math.Abs(got-total) > 1e-6 {
		t.Errorf("total norm = %v, want %v", got, total)
	}
	coef := 1 / (total + 1e-6)
	want := make([]float64, 3)
	for i, w := range w0 {
		want[i] = float64(w) * coef
	}
	g := p.Grad()
	near(t, "clipped grad", g.Float32s(), want, 1e-6)
	g.Close()

	// Under the limit: unchanged (q's gradient was clipped with p's to norm 1/√2).
	if got := ClipGradNorm([]*torch.Tensor{q}, 100); math.Abs(got-math.Sqrt(0.5)) > 1e-5 {
		t.Errorf("norm of clipped grad = %v, want 1/√2", got)
	}
	g = q.Grad()
	near(t, "unclipped grad", g.Float32s(), want, 1e-6)
	g.Close()
	p.ZeroGrad()
	q.ZeroGrad()
	if got := ClipGradNorm([]*torch.Tensor{p}, 1); got != 0 {
		t.Errorf("no gradients: norm = %v, want 0", got)
	}
}

func TestStepLR(t *testing.T) {
	torchtest.CheckLive(t)
	p := newParam()
	defer p.Close()
	s, err := NewSGD([]*torch.Tensor{p}, SGDOptions{LR: new(1.0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sched, err := NewStepLR(s, 2, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	var lrs []float64
	for range 5 {
		sched.Step()
		lrs = append(lrs, s.LR())
	}
	if want := []float64{1, 0.5, 0.5, 0.25, 0.25}; !slices.Equal(lrs, want) {
		t.Errorf("learning rates = %v, want %v", lrs, want)
	}
}

func TestStepInsideCallerScope(t *testing.T) {
	torchtest.CheckLive(t)
	// State created during Step in a caller's scope must survive that scope's Close.
	p := newParam()
	defer p.Close()
	a, err := NewAdam([]*torch.Tensor{p}, AdamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for range 2 {
		torch.WithScope(func(*torch.Scope) {
			a.ZeroGrad()
			setGrad(p)
			a.Step()
		})
	}
	a.ZeroGrad()
	near(t, "two steps", p.Float32s(), adamByHand(2, 1e-3, 0.9, 0.999, 1e-8, 0, false, false), 1e-6)
	if torch.GradEnabled() != true {
		t.Error("grad mode not restored after Step")
	}
}

func TestSaveLoadTorch(t *testing.T) {
	torchtest.CheckLive(t)
	path := filepath.Join(t.TempDir(), "optimizer.pt")
	p := newParam()
	defer p.Close()
	a := steppedAdam(t, p)
	a.SetLR(0.02)
	if err := SaveTorch(path, a); err != nil {
		t.Fatal(err)
	}
	b, err := NewAdam([]*torch.Tensor{p}, AdamOptions{AMSGrad: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := LoadTorch(path, b); err != nil {
		t.Fatal(err)
	}
	wantNames, want, err := a.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(want)
	gotNames, got, err := b.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(got)
	if !slices.Equal(gotNames, wantNames) || b.LR() != 0.02 {
		t.Fatalf("loaded %v (lr %v), want %v (lr 0.02)", gotNames, b.LR(), wantNames)
	}
	for i := range want {
		if g, w := got[i].ToDType(torch.Float64), want[i].ToDType(torch.Float64); !slices.Equal(g.Float64s(), w.Float64s()) {
			t.Errorf("%s = %v, want %v", gotNames[i], g.Float64s(), w.Float64s())
			g.Close()
			w.Close()
		} else {
			g.Close()
			w.Close()
		}
	}

	// A state dict of another optimizer, or no file, is refused with the path named.
	sgd, err := NewSGD([]*torch.Tensor{p}, SGDOptions{LR: new(0.1), Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	defer sgd.Close()
	if err := LoadTorch(path, sgd); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "unknown state key") {
		t.Errorf("loading Adam state into SGD: %v", err)
	}
	if err := LoadTorch(filepath.Join(t.TempDir(), "missing.pt"), b); err == nil || !strings.HasPrefix(err.Error(), "optim: LoadTorch") {
		t.Errorf("missing file: %v", err)
	}
}
