package optim_test

import (
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// lstmSizedParams returns parameters shaped like LSTM(300→50) + Linear(50→1) (the model of
// `make bench`'s training step), each with a gradient of ones. The caller closes them.
func lstmSizedParams(b *testing.B) []*torch.Tensor {
	b.Helper()
	torch.ManualSeed(0)
	var ps []*torch.Tensor
	for _, shape := range [][]int64{{200, 300}, {200, 50}, {200}, {200}, {1, 50}, {1}} {
		ps = append(ps, torch.Randn(shape).SetRequiresGrad(true))
	}
	torch.WithScope(func(*torch.Scope) {
		var sums []*torch.Tensor
		for _, p := range ps {
			sums = append(sums, p.Sum())
		}
		torch.Stack(sums, 0).Sum().Backward()
	})
	return ps
}

func closeAll(ts []*torch.Tensor) {
	for _, t := range ts {
		t.Close()
	}
}

// benchStep times o.Step on LSTM-sized parameters, with allocation counts, and checks that
// steps free their temporaries.
func benchStep(b *testing.B, newOpt func([]*torch.Tensor) (optim.Optimizer, func(), error)) {
	_ = torch.SetNumThreads(1)
	ps := lstmSizedParams(b)
	defer closeAll(ps)
	o, closeOpt, err := newOpt(ps)
	if err != nil {
		b.Fatal(err)
	}
	defer closeOpt()
	o.Step() // creates the state outside the timed loop
	live := torch.Live()
	b.ReportAllocs()
	for b.Loop() {
		o.Step()
	}
	if got := torch.Live(); got != live {
		b.Fatalf("Live() = %d after the steps, %d before: Step leaks tensors", got, live)
	}
}

// BenchmarkAdamStep is one Adam step over LSTM(300→50) + Linear(50→1) parameters.
func BenchmarkAdamStep(b *testing.B) {
	benchStep(b, func(ps []*torch.Tensor) (optim.Optimizer, func(), error) {
		o, err := optim.NewAdam(ps, optim.AdamOptions{LR: new(1e-3)})
		if err != nil {
			return nil, nil, err
		}
		return o, o.Close, nil
	})
}

// BenchmarkAdadeltaStep is one Adadelta step over the same parameters.
func BenchmarkAdadeltaStep(b *testing.B) {
	benchStep(b, func(ps []*torch.Tensor) (optim.Optimizer, func(), error) {
		o, err := optim.NewAdadelta(ps, optim.AdadeltaOptions{})
		if err != nil {
			return nil, nil, err
		}
		return o, o.Close, nil
	})
}

// BenchmarkSGDMomentumStep is one SGD step with momentum over the same parameters.
func BenchmarkSGDMomentumStep(b *testing.B) {
	benchStep(b, func(ps []*torch.Tensor) (optim.Optimizer, func(), error) {
		o, err := optim.NewSGD(ps, optim.SGDOptions{LR: new(0.1), Momentum: 0.9})
		if err != nil {
			return nil, nil, err
		}
		return o, o.Close, nil
	})
}

// BenchmarkClipGradNorm clips the gradients of the same parameters (it reads the total norm
// back to the host: one sync per call).
func BenchmarkClipGradNorm(b *testing.B) {
	_ = torch.SetNumThreads(1)
	ps := lstmSizedParams(b)
	defer closeAll(ps)
	b.ReportAllocs()
	for b.Loop() {
		optim.ClipGradNorm(ps, 1e9)
	}
}
