package nn

import "github.com/seqtorch/seqtorch/torch"

// defaultIgnoreIndex is PyTorch's ignore_index default for cross_entropy and nll_loss.
const defaultIgnoreIndex = -100

// CrossEntropyOptions configures CrossEntropyLoss; the zero value is PyTorch's defaults.
type CrossEntropyOptions struct {
	Weight         *torch.Tensor   // per-class rescaling weights (C), or nil
	Reduction      torch.Reduction // zero value: mean
	IgnoreIndex    *int64          // nil: -100
	LabelSmoothing float64         // in [0, 1]
}

func ignoreIndex(p *int64) int64 {
	if p == nil {
		return defaultIgnoreIndex
	}
	return *p
}

// CrossEntropyLoss is torch.nn.CrossEntropyLoss over logits input (N, C) or (N, C, d…) and
// class indices target (N) or (N, d…), int64. Invalid shapes panic with *torch.Error.
func CrossEntropyLoss(input, target *torch.Tensor, opts CrossEntropyOptions) *torch.Tensor {
	return torch.CrossEntropy(input, target, opts.Weight, opts.Reduction, ignoreIndex(opts.IgnoreIndex), opts.LabelSmoothing)
}

// NLLLossOptions configures NLLLoss; the zero value is PyTorch's defaults.
type NLLLossOptions struct {
	Weight      *torch.Tensor   // per-class rescaling weights (C), or nil
	Reduction   torch.Reduction // zero value: mean
	IgnoreIndex *int64          // nil: -100
}

// NLLLoss is torch.nn.NLLLoss over log-probabilities input (N, C) and int64 targets (N).
func NLLLoss(input, target *torch.Tensor, opts NLLLossOptions) *torch.Tensor {
	return torch.NLLLoss(input, target, opts.Weight, opts.Reduction, ignoreIndex(opts.IgnoreIndex))
}

// MSELoss is torch.nn.MSELoss: the (reduced) squared differences.
func MSELoss(input, target *torch.Tensor, r torch.Reduction) *torch.Tensor {
	return torch.MSELoss(input, target, r)
}

// L1Loss is torch.nn.L1Loss: the (reduced) absolute differences.
func L1Loss(input, target *torch.Tensor, r torch.Reduction) *torch.Tensor {
	return torch.L1Loss(input, target, r)
}

// BCEWithLogitsOptions configures BCEWithLogitsLoss; the zero value is PyTorch's defaults.
type BCEWithLogitsOptions struct {
	Weight    *torch.Tensor // rescaling weight broadcast to the input, or nil
	PosWeight *torch.Tensor // weight of positive examples per class, or nil
	Reduction torch.Reduction
}

// BCEWithLogitsLoss is torch.nn.BCEWithLogitsLoss: sigmoid and binary cross entropy in one
// numerically stable step. target has input's shape and holds probabilities in [0, 1].
func BCEWithLogitsLoss(input, target *torch.Tensor, opts BCEWithLogitsOptions) *torch.Tensor {
	return torch.BCEWithLogits(input, target, opts.Weight, opts.PosWeight, opts.Reduction)
}

// TripletMarginOptions configures TripletMarginLoss. Zero fields take PyTorch's defaults:
// margin 1, p 2, eps 1e-6 (so a margin of exactly 0 cannot be requested).
type TripletMarginOptions struct {
	Margin    float64 // 0 means 1
	P         float64 // the norm degree; 0 means 2
	Eps       float64 // 0 means 1e-6
	Swap      bool    // use the distance swap of Balntas et al.
	Reduction torch.Reduction
}

// TripletMarginLoss is torch.nn.TripletMarginLoss: max(d(a,p) − d(a,n) + margin, 0) with
// d the pairwise p-norm distance.
func TripletMarginLoss(anchor, positive, negative *torch.Tensor, opts TripletMarginOptions) *torch.Tensor {
	margin, p, eps := opts.Margin, opts.P, opts.Eps
	if margin == 0 {
		margin = 1
	}
	if p == 0 {
		p = 2
	}
	if eps == 0 {
		eps = 1e-6
	}
	return torch.TripletMarginLoss(anchor, positive, negative, margin, p, eps, opts.Swap, opts.Reduction)
}

// ContrastiveLoss is the pairwise ranking loss y·d + (1−y)·max(0, margin−d), where d is the
// Euclidean distance between corresponding rows of a and b (torch.nn.functional.
// pairwise_distance with eps 1e-6, as PyTorch's default) and y ∈ {0, 1} (float, shape (N))
// marks similar pairs. r reduces over the batch (ReductionMean by default).
func ContrastiveLoss(a, b, y *torch.Tensor, margin float64, r torch.Reduction) *torch.Tensor {
	d := torch.PairwiseDistance(a, b, 2, 1e-6, false)
	defer d.Close()
	pos := y.Mul(d)
	defer pos.Close()
	gap := d.RSubScalar(margin)
	defer gap.Close()
	hinge := gap.ClampMin(0)
	defer hinge.Close()
	notY := y.RSubScalar(1)
	defer notY.Close()
	neg := notY.Mul(hinge)
	defer neg.Close()
	switch r {
	case torch.ReductionNone:
		return pos.Add(neg)
	case torch.ReductionSum:
		sum := pos.Add(neg)
		defer sum.Close()
		return sum.Sum()
	}
	sum := pos.Add(neg)
	defer sum.Close()
	return sum.Mean()
}
