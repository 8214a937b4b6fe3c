package siamese

import (
	"fmt"
	"slices"

	"github.com/seqtorch/seqtorch/torch"
)

// Loss names a similarity head and its training loss.
type Loss int

// Losses.
const (
	// MaLSTM scores a pair exp(-‖f1 − f2‖₁) ∈ (0, 1] and regresses it on (relatedness − 1)/4 with
	// the mean squared error (Mueller & Thyagarajan 2016).
	MaLSTM Loss = iota
	// Contrastive is the pairwise ranking loss y·d + (1 − y)·max(0, m − d) with d the Euclidean
	// distance of the features and y = 1 for a similar pair.
	Contrastive
	// Triplet is max(0, m − (d(a, n) − d(a, p))): anchor A, positive its related B, negatives
	// the B sentences of other pairs of the batch.
	Triplet
)

var lossNames = []string{"malstm", "contrastive", "triplet"}

// String returns "malstm", "contrastive" or "triplet".
func (l Loss) String() string {
	if l < 0 || int(l) >= len(lossNames) {
		return fmt.Sprintf("Loss(%d)", int(l))
	}
	return lossNames[l]
}

// ParseLoss parses the names written by Loss.String.
func ParseLoss(s string) (Loss, error) {
	if i := slices.Index(lossNames, s); i >= 0 {
		return Loss(i), nil
	}
	return 0, fmt.Errorf("unknown loss %q (want one of %q)", s, lossNames)
}

// Mining picks the negative of each anchor for the triplet loss.
type Mining int

// Mining strategies.
const (
	// MineHardest takes the other pair's B closest to the anchor.
	MineHardest Mining = iota
	// MineRandom takes another pair's B at random.
	MineRandom
)

// ParseMining parses "hardest" or "random".
func ParseMining(s string) (Mining, error) {
	switch s {
	case "hardest":
		return MineHardest, nil
	case "random":
		return MineRandom, nil
	}
	return 0, fmt.Errorf("unknown negative mining %q (want \"hardest\" or \"random\")", s)
}

// String returns "hardest" or "random".
func (m Mining) String() string {
	if m == MineRandom {
		return "random"
	}
	return "hardest"
}

// Head holds a loss's settings.
type Head struct {
	Loss Loss
	// Margin is m of the contrastive and triplet losses.
	Margin float64
	// Threshold is the relatedness (1–5) at or above which a pair counts as similar (y = 1).
	Threshold float64
	// Mining picks triplet negatives. Random negatives are drawn from libtorch's default
	// generator (torch.ManualSeed makes them repeatable).
	Mining Mining
}

// Similarity returns the head's raw similarity of feature rows fa and fb, (B,), larger for
// more similar pairs: exp(-‖fa − fb‖₁) for MaLSTM, exp(-‖fa − fb‖₂) for the distance losses.
func (h Head) Similarity(fa, fb *torch.Tensor) *torch.Tensor {
	if h.Loss == MaLSTM {
		return ManhattanSimilarity(fa, fb)
	}
	return torch.PairwiseDistance(fa, fb, 2, 1e-6, false).Neg().Exp()
}

// ManhattanSimilarity returns exp(-‖fa − fb‖₁) per row.
func ManhattanSimilarity(fa, fb *torch.Tensor) *torch.Tensor {
	return fa.Sub(fb).Abs().SumDim(false, 1).Neg().Exp()
}

// Forward returns the mean loss of a batch given the features of A and B and the relatedness
// scores (1–5), and the raw similarity of each pair (see Similarity).
func (h Head) Forward(fa, fb *torch.Tensor, scores []float64) (loss, sim *torch.Tensor, err error) {
	if int64(len(scores)) != fa.Size(0) {
		return nil, nil, fmt.Errorf("siamese: %d scores for %d pairs", len(scores), fa.Size(0))
	}
	dev := fa.Device()
	switch h.Loss {
	case MaLSTM:
		sim = ManhattanSimilarity(fa, fb)
		tgt := make([]float32, len(scores))
		for i, s := range scores {
			tgt[i] = float32((s - 1) / 4)
		}
		loss = torch.MSELoss(sim, torch.FromSlice(tgt).To(dev), torch.ReductionMean)
		return loss, sim, nil
	case Contrastive:
		d := torch.PairwiseDistance(fa, fb, 2, 1e-6, false)
		y := make([]float32, len(scores))
		for i, s := range scores {
			if s >= h.Threshold {
				y[i] = 1
			}
		}
		loss = ContrastiveLoss(d, torch.FromSlice(y).To(dev), h.Margin)
		return loss, d.Neg().Exp(), nil
	case Triplet:
		sim = h.Similarity(fa, fb)
		loss, err = h.triplet(fa, fb, scores)
		return loss, sim, err
	}
	return nil, nil, fmt.Errorf("siamese: unknown loss %v", h.Loss)
}

// ContrastiveLoss is mean(y·d + (1 − y)·max(0, margin − d)) for distances d and labels y ∈ {0, 1}.
func ContrastiveLoss(d, y *torch.Tensor, margin float64) *torch.Tensor {
	pos := y.Mul(d)
	neg := y.RSubScalar(1).Mul(d.RSubScalar(margin).ClampMin(0))
	return pos.Add(neg).Mean()
}

// triplet builds the triplets of a batch: every pair whose score reaches the threshold is an
// anchor (A) with its B as positive; its negative is the B of another pair, the closest one
// (hardest) or a random one. A batch without anchors or with a single pair gives loss 0.
func (h Head) triplet(fa, fb *torch.Tensor, scores []float64) (*torch.Tensor, error) {
	n := len(scores)
	var anchors []int64
	for i, s := range scores {
		if s >= h.Threshold {
			anchors = append(anchors, int64(i))
		}
	}
	if len(anchors) == 0 || n < 2 {
		return fa.Sum().MulScalar(0), nil
	}
	negs := make([]int64, len(anchors))
	switch h.Mining {
	case MineRandom:
		u := torch.Rand([]int64{int64(len(anchors))}, torch.WithDType(torch.Float64)).Float64s()
		for k, i := range anchors {
			j := min(int(u[k]*float64(n-1)), n-2)
			if int64(j) >= i {
				j++
			}
			negs[k] = int64(j)
		}
	default:
		var dist []float32
		torch.NoGrad(func() {
			// (n, n) Euclidean distances between every A and every B.
			a := fa.Detach().Unsqueeze(1)
			b := fb.Detach().Unsqueeze(0)
			dist = a.Sub(b).PowScalar(2).SumDim(false, 2).Float32s()
		})
		for k, i := range anchors {
			best := -1
			for j := range n {
				if int64(j) == i {
					continue
				}
				if best < 0 || dist[int(i)*n+j] < dist[int(i)*n+best] {
					best = j
				}
			}
			negs[k] = int64(best)
		}
	}
	dev := fa.Device()
	ai := torch.FromSlice(anchors).To(dev)
	ni := torch.FromSlice(negs).To(dev)
	return torch.TripletMarginLoss(fa.IndexSelect(0, ai), fb.IndexSelect(0, ai), fb.IndexSelect(0, ni),
		h.Margin, 2, 1e-6, false, torch.ReductionMean), nil
}
