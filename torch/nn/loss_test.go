package nn

import (
	"math"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func logSumExp(v ...float64) float64 {
	s := 0.0
	for _, x := range v {
		s += math.Exp(x)
	}
	return math.Log(s)
}

func TestLosses(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	logits := torch.FromSlice([]float32{1, 2, 3, 0, 0, 1}, 2, 3)
	target := torch.FromSlice([]int64{2, 0})
	row0 := logSumExp(1, 2, 3) - 3
	row1 := logSumExp(0, 0, 1) - 0
	ign := int64(0)
	ignNeg := int64(-100)
	ls := 0.1
	// label smoothing: (1-ε)·nll + ε·mean over classes of −log p_c
	smooth := func(z []float64, y int) float64 {
		lse := logSumExp(z...)
		mean := 0.0
		for _, v := range z {
			mean += (lse - v) / float64(len(z))
		}
		return (1-ls)*(lse-z[y]) + ls*mean
	}
	logp := torch.FromSlice([]float32{-1, -2, -0.5, -3}, 2, 2)
	nllTarget := torch.FromSlice([]int64{0, 1})
	one := int64(1)

	eps := 1e-6
	dist := func(dx, dy float64) float64 { return math.Hypot(dx+eps, dy+eps) }

	for _, tc := range []struct {
		name string
		loss func() *torch.Tensor
		want []float64
	}{
		{"cross entropy mean", func() *torch.Tensor { return CrossEntropyLoss(logits, target, CrossEntropyOptions{}) }, []float64{(row0 + row1) / 2}},
		{"cross entropy sum", func() *torch.Tensor {
			return CrossEntropyLoss(logits, target, CrossEntropyOptions{Reduction: torch.ReductionSum})
		}, []float64{row0 + row1}},
		{"cross entropy none", func() *torch.Tensor {
			return CrossEntropyLoss(logits, target, CrossEntropyOptions{Reduction: torch.ReductionNone})
		}, []float64{row0, row1}},
		{"cross entropy ignore index", func() *torch.Tensor {
			return CrossEntropyLoss(logits, target, CrossEntropyOptions{IgnoreIndex: &ign})
		}, []float64{row0}},
		{"cross entropy default ignores -100", func() *torch.Tensor {
			return CrossEntropyLoss(logits, torch.FromSlice([]int64{2, ignNeg}), CrossEntropyOptions{})
		}, []float64{row0}},
		{"cross entropy weight", func() *torch.Tensor {
			return CrossEntropyLoss(logits, target, CrossEntropyOptions{Weight: torch.FromSlice([]float32{1, 1, 3})})
		}, []float64{(3*row0 + row1) / 4}},
		{"cross entropy label smoothing", func() *torch.Tensor {
			return CrossEntropyLoss(logits, target, CrossEntropyOptions{LabelSmoothing: ls})
		}, []float64{(smooth([]float64{1, 2, 3}, 2) + smooth([]float64{0, 0, 1}, 0)) / 2}},
		{"nll mean", func() *torch.Tensor { return NLLLoss(logp, nllTarget, NLLLossOptions{}) }, []float64{2}},
		{"nll sum", func() *torch.Tensor { return NLLLoss(logp, nllTarget, NLLLossOptions{Reduction: torch.ReductionSum}) }, []float64{4}},
		{"nll ignore", func() *torch.Tensor { return NLLLoss(logp, nllTarget, NLLLossOptions{IgnoreIndex: &one}) }, []float64{1}},
		{"nll weight", func() *torch.Tensor {
			return NLLLoss(logp, nllTarget, NLLLossOptions{Weight: torch.FromSlice([]float32{1, 3})})
		}, []float64{(1 + 9) / 4.0}},
		{"mse mean", func() *torch.Tensor {
			return MSELoss(torch.FromSlice([]float32{1, 2, 3}), torch.FromSlice([]float32{1, 1, 1}), torch.ReductionMean)
		}, []float64{5.0 / 3}},
		{"mse none", func() *torch.Tensor {
			return MSELoss(torch.FromSlice([]float32{1, 2, 3}), torch.FromSlice([]float32{1, 1, 1}), torch.ReductionNone)
		}, []float64{0, 1, 4}},
		{"l1 mean", func() *torch.Tensor {
			return L1Loss(torch.FromSlice([]float32{1, 2, 3}), torch.FromSlice([]float32{1, 1, 1}), torch.ReductionMean)
		}, []float64{1}},
		{"l1 sum", func() *torch.Tensor {
			return L1Loss(torch.FromSlice([]float32{1, -2, 3}), torch.FromSlice([]float32{1, 1, 1}), torch.ReductionSum)
		}, []float64{5}},
		{"bce with logits", func() *torch.Tensor {
			return BCEWithLogitsLoss(torch.FromSlice([]float32{0, 2}), torch.FromSlice([]float32{1, 0}), BCEWithLogitsOptions{})
		}, []float64{(math.Log(2) + math.Log(1+math.Exp(2))) / 2}},
		{"bce with logits pos_weight", func() *torch.Tensor {
			return BCEWithLogitsLoss(torch.FromSlice([]float32{0, 2}), torch.FromSlice([]float32{1, 0}),
				BCEWithLogitsOptions{PosWeight: torch.FromSlice([]float32{3}), Reduction: torch.ReductionNone})
		}, []float64{3 * math.Log(2), math.Log(1 + math.Exp(2))}},
		{"bce with logits weight", func() *torch.Tensor {
			return BCEWithLogitsLoss(torch.FromSlice([]float32{0, 2}), torch.FromSlice([]float32{1, 0}),
				BCEWithLogitsOptions{Weight: torch.FromSlice([]float32{2, 0}), Reduction: torch.ReductionSum})
		}, []float64{2 * math.Log(2)}},
		{"triplet margin defaults", func() *torch.Tensor {
			return TripletMarginLoss(torch.FromSlice([]float32{0, 0}, 1, 2), torch.FromSlice([]float32{3, 4}, 1, 2),
				torch.FromSlice([]float32{0, 1}, 1, 2), TripletMarginOptions{})
		}, []float64{dist(-3, -4) - dist(0, -1) + 1}},
		{"triplet margin zero loss", func() *torch.Tensor {
			return TripletMarginLoss(torch.FromSlice([]float32{0, 0}, 1, 2), torch.FromSlice([]float32{0, 1}, 1, 2),
				torch.FromSlice([]float32{3, 4}, 1, 2), TripletMarginOptions{Margin: 2})
		}, []float64{0}},
		{"triplet margin p=1", func() *torch.Tensor {
			return TripletMarginLoss(torch.FromSlice([]float32{0, 0}, 1, 2), torch.FromSlice([]float32{3, 4}, 1, 2),
				torch.FromSlice([]float32{0, 1}, 1, 2), TripletMarginOptions{P: 1, Eps: 1e-9})
		}, []float64{7 - 1 + 1}},
		{"contrastive mean", func() *torch.Tensor {
			return ContrastiveLoss(torch.FromSlice([]float32{0, 0, 0, 0}, 2, 2), torch.FromSlice([]float32{3, 4, 0, 1}, 2, 2),
				torch.FromSlice([]float32{1, 0}), 2, torch.ReductionMean)
		}, []float64{(dist(-3, -4) + (2 - dist(0, -1))) / 2}},
		{"contrastive none, hinge at zero", func() *torch.Tensor {
			return ContrastiveLoss(torch.FromSlice([]float32{0, 0, 0, 0}, 2, 2), torch.FromSlice([]float32{3, 4, 0, 1}, 2, 2),
				torch.FromSlice([]float32{0, 0}), 0.5, torch.ReductionNone)
		}, []float64{0, 0}},
		{"contrastive sum", func() *torch.Tensor {
			return ContrastiveLoss(torch.FromSlice([]float32{1, 1, 0, 0}, 2, 2), torch.FromSlice([]float32{1, 1, 0, 1}, 2, 2),
				torch.FromSlice([]float32{1, 0}), 3, torch.ReductionSum)
		}, []float64{dist(0, 0) + 3 - dist(0, -1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.Scope(t)
			got := tc.loss()
			vals := f32(got)
			if len(vals) != len(tc.want) {
				t.Fatalf("got %d values %v, want %v", len(vals), vals, tc.want)
			}
			for i := range vals {
				if math.Abs(float64(vals[i])-tc.want[i]) > 1e-5 {
					t.Errorf("got %v, want %v", vals, tc.want)
					break
				}
			}
		})
	}
}

func TestContrastiveLossGradient(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	a := torch.FromSlice([]float32{0, 0}, 1, 2).SetRequiresGrad(true)
	b := torch.FromSlice([]float32{3, 4}, 1, 2)
	ContrastiveLoss(a, b, torch.FromSlice([]float32{1}), 1, torch.ReductionMean).Backward()
	// d = |a-b|: ∂d/∂a = (a-b)/d ≈ (-0.6, -0.8)
	if g := a.Grad().Float32s(); !near32(g, []float32{-0.6, -0.8}, 1e-5) {
		t.Errorf("grad = %v", g)
	}
}

func TestLossShapeMismatchPanicsWithTorchError(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	err := torch.Try(func() {
		MSELoss(torch.Zeros([]int64{2, 3}), torch.Zeros([]int64{4}), torch.ReductionMean)
	})
	if err == nil {
		t.Fatal("mismatched shapes accepted")
	}
}
