package optim

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// twoGroupSGD returns an SGD over two one-parameter groups with learning rates 1 and 0.1;
// the test closes everything.
func twoGroupSGD(t *testing.T) *SGD {
	t.Helper()
	p, q := newParam(), newParam()
	t.Cleanup(func() { p.Close(); q.Close() })
	s, err := NewSGDGroups([]ParamGroup{{Params: []*torch.Tensor{p}}, {Params: []*torch.Tensor{q}, LR: new(0.1)}},
		SGDOptions{LR: new(1.0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// lrsOf steps s n times and returns group 0's learning rate after construction and after
// every step.
func lrsOf(s LRScheduler, n int) []float64 {
	out := []float64{s.LastLR()[0]}
	for range n {
		s.Step()
		out = append(out, s.LastLR()[0])
	}
	return out
}

func closeTo(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}

func TestSchedulers(t *testing.T) {
	torchtest.CheckLive(t)
	cos := func(e, tMax, base, etaMin float64) float64 {
		return etaMin + (base-etaMin)*(1+math.Cos(math.Pi*e/tMax))/2
	}
	for _, c := range []struct {
		name string
		make func(o Optimizer) (LRScheduler, error)
		want []float64 // group 0 (base lr 1)
	}{
		{"LambdaLR", func(o Optimizer) (LRScheduler, error) {
			return NewLambdaLR(o, func(e int) float64 { return 1 / float64(e+1) })
		}, []float64{1, 0.5, 1.0 / 3, 0.25}},
		{"StepLR", func(o Optimizer) (LRScheduler, error) { return NewStepLR(o, 2, 0.5) },
			[]float64{1, 1, 0.5, 0.5, 0.25}},
		{"MultiStepLR repeated milestone", func(o Optimizer) (LRScheduler, error) { return NewMultiStepLR(o, []int{3, 1, 3}, 0.5) },
			[]float64{1, 0.5, 0.5, 0.125, 0.125}},
		{"ExponentialLR", func(o Optimizer) (LRScheduler, error) { return NewExponentialLR(o, 0.5) },
			[]float64{1, 0.5, 0.25}},
		{"CosineAnnealingLR", func(o Optimizer) (LRScheduler, error) { return NewCosineAnnealingLR(o, 4, 0.1) },
			[]float64{1, cos(1, 4, 1, 0.1), cos(2, 4, 1, 0.1), cos(3, 4, 1, 0.1), 0.1, cos(5, 4, 1, 0.1), cos(6, 4, 1, 0.1)}},
		{"LinearLR", func(o Optimizer) (LRScheduler, error) {
			return NewLinearLR(o, LinearLROptions{StartFactor: new(0.25), TotalIters: new(3)})
		}, []float64{0.25, 0.5, 0.75, 1, 1}},
		{"SequentialLR", func(o Optimizer) (LRScheduler, error) {
			warm, err := NewLinearLR(o, LinearLROptions{StartFactor: new(0.5), TotalIters: new(2)})
			if err != nil {
				return nil, err
			}
			decay, err := NewExponentialLR(o, 0.5)
			if err != nil {
				return nil, err
			}
			return NewSequentialLR(o, []LRScheduler{warm, decay}, []int{2})
		}, []float64{0.5, 0.75, 1, 0.5, 0.25}},
		{"OneCycleLR linear", func(o Optimizer) (LRScheduler, error) {
			return NewOneCycleLR(o, []float64{1}, OneCycleLROptions{TotalSteps: 5, PctStart: new(0.4), AnnealStrategy: "linear",
				DivFactor: new(4.0), FinalDivFactor: new(5.0)})
		}, []float64{0.25, 1, 1 - 0.95/3, 1 - 2*0.95/3, 0.05}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := twoGroupSGD(t)
			s, err := c.make(o)
			if err != nil {
				t.Fatal(err)
			}
			got := lrsOf(s, len(c.want)-1)
			if !closeTo(got, c.want, 1e-12) {
				t.Errorf("lrs = %v, want %v", got, c.want)
			}
			// The second group follows with its own base learning rate (0.1), except
			// OneCycleLR, whose max_lr is given, and CosineAnnealingLR, whose eta_min is.
			if !strings.HasPrefix(c.name, "OneCycleLR") && !strings.HasPrefix(c.name, "Cosine") {
				if g1 := o.ParamGroups()[1].LR; math.Abs(g1-0.1*got[len(got)-1]) > 1e-12 {
					t.Errorf("group 1 lr = %v, want %v", g1, 0.1*got[len(got)-1])
				}
			}
			if lr := s.LastLR()[0]; o.LR() != lr {
				t.Errorf("optimizer lr %v != LastLR %v", o.LR(), lr)
			}
		})
	}
}

// TestSchedulerResume checks that a schedule saved midway and loaded (with its optimizer)
// into fresh ones continues as the uninterrupted schedule does.
func TestSchedulerResume(t *testing.T) {
	torchtest.CheckLive(t)
	mk := func(o Optimizer) LRScheduler {
		warm, err := NewLinearLR(o, LinearLROptions{StartFactor: new(0.1), TotalIters: new(4)})
		if err != nil {
			t.Fatal(err)
		}
		decay, err := NewCosineAnnealingLR(o, 10, 0.01)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSequentialLR(o, []LRScheduler{warm, decay}, []int{4})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ref := mk(twoGroupSGD(t))
	want := lrsOf(ref, 14)

	o := twoGroupSGD(t)
	s := mk(o)
	got := lrsOf(s, 6)
	on, ot, err := o.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(ot)
	sn, st, err := s.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(st)
	if !slices.Contains(sn, "_schedulers.1.base_lrs") || !slices.Contains(on, "param_groups.1.initial_lr") {
		t.Errorf("state dict names: scheduler %v, optimizer %v", sn, on)
	}
	o2 := twoGroupSGD(t)
	s2 := mk(o2)
	if err := o2.LoadStateDict(on, ot); err != nil {
		t.Fatal(err)
	}
	if err := s2.LoadStateDict(sn, st); err != nil {
		t.Fatal(err)
	}
	got = append(got, lrsOf(s2, 8)[1:]...)
	if !closeTo(got, want, 1e-15) {
		t.Errorf("resumed lrs = %v, want %v", got, want)
	}

	// Bad entries are refused without changing anything.
	bad := torch.FromSlice([]float64{1, 2, 3})
	defer bad.Close()
	for _, c := range []struct {
		name, msg string
	}{{"bogus", "unknown entry"}, {"_last_lr", "one per parameter group"}, {"last_epoch", "want 1"}} {
		if err := s2.LoadStateDict([]string{c.name}, []*torch.Tensor{bad}); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("LoadStateDict(%s) = %v, want an error mentioning %q", c.name, err, c.msg)
		}
	}
	if s2.LastEpoch() != 14 {
		t.Errorf("LastEpoch = %d after a refused load, want 14", s2.LastEpoch())
	}
}

func TestOneCycleMomentum(t *testing.T) {
	torchtest.CheckLive(t)
	p := newParam()
	defer p.Close()
	a, err := NewAdam([]*torch.Tensor{p}, AdamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err := NewOneCycleLR(a, []float64{0.1}, OneCycleLROptions{Epochs: 2, StepsPerEpoch: 5})
	if err != nil {
		t.Fatal(err)
	}
	g := a.ParamGroups()[0]
	if g.Beta1 != 0.95 || math.Abs(g.LR-0.004) > 1e-15 {
		t.Fatalf("after construction: beta1 %v lr %v, want 0.95 and 0.004", g.Beta1, g.LR)
	}
	for range 2 {
		s.Step()
	}
	if g.Beta1 != 0.85 || math.Abs(g.LR-0.1) > 1e-15 { // the peak: pct_start·10 − 1 = 2
		t.Errorf("at the peak: beta1 %v lr %v, want 0.85 and 0.1", g.Beta1, g.LR)
	}
	for range 8 {
		s.Step()
	}
	defer func() {
		if recover() == nil {
			t.Error("stepping past TotalSteps did not panic")
		}
	}()
	s.Step()
}

func TestReduceLROnPlateau(t *testing.T) {
	torchtest.CheckLive(t)
	o := twoGroupSGD(t)
	r, err := NewReduceLROnPlateau(o, ReduceLROnPlateauOptions{Patience: new(1), Factor: new(0.5), Cooldown: 1, MinLR: []float64{0.3, 0}})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]float64
	for _, m := range []float64{1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5} {
		r.Step(m)
		got = append(got, r.LastLR())
	}
	want := [][]float64{{1, 0.1}, {1, 0.1}, {1, 0.1}, {0.5, 0.05}, {0.5, 0.05}, {0.5, 0.05}, {0.3, 0.025}, {0.3, 0.025}}
	if !slices.EqualFunc(got, want, func(a, b []float64) bool { return closeTo(a, b, 1e-15) }) {
		t.Errorf("lrs = %v, want %v", got, want)
	}
	if r.Best() != 0.5 {
		t.Errorf("best = %v", r.Best())
	}
}

func TestSchedulerErrors(t *testing.T) {
	torchtest.CheckLive(t)
	o := twoGroupSGD(t)
	other := twoGroupSGD(t)
	otherStep, _ := NewStepLR(other, 1, 0.5)
	step, _ := NewStepLR(o, 1, 0.5)
	f := func(int) float64 { return 1 }
	for _, c := range []struct {
		name string
		err  error
	}{
		{"lambda count", second(NewLambdaLR(o, f, f, f))},
		{"step size", second(NewStepLR(o, 0, 0.1))},
		{"T_max", second(NewCosineAnnealingLR(o, 0, 0))},
		{"start factor", second(NewLinearLR(o, LinearLROptions{StartFactor: new(0.0)}))},
		{"milestones", second(NewSequentialLR(o, []LRScheduler{step}, []int{3}))},
		{"other optimizer", second(NewSequentialLR(o, []LRScheduler{step, otherStep}, []int{3}))},
		{"one cycle steps", second(NewOneCycleLR(o, []float64{1}, OneCycleLROptions{}))},
		{"one cycle max lr", second(NewOneCycleLR(o, []float64{1, 2, 3}, OneCycleLROptions{TotalSteps: 5}))},
		{"one cycle anneal", second(NewOneCycleLR(o, []float64{1}, OneCycleLROptions{TotalSteps: 5, AnnealStrategy: "exp"}))},
		{"plateau factor", second(NewReduceLROnPlateau(o, ReduceLROnPlateauOptions{Factor: new(1.0)}))},
		{"plateau mode", second(NewReduceLROnPlateau(o, ReduceLROnPlateauOptions{Mode: "up"}))},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(c.err.Error(), "optim: New") {
			t.Errorf("%s: error %q lacks context", c.name, c.err)
		}
	}
	// OneCycleLR cycles momentum only where the optimizer has one.
	p := newParam()
	defer p.Close()
	ad, err := NewAdagrad([]*torch.Tensor{p}, AdagradOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ad.Close()
	if _, err := NewOneCycleLR(ad, []float64{1}, OneCycleLROptions{TotalSteps: 5}); err == nil || !strings.Contains(err.Error(), "momentum") {
		t.Errorf("OneCycleLR over Adagrad with momentum cycling: %v", err)
	}
}
