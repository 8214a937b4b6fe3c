package siamese

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
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
	// Tai is the similarity head of Tai, Socher & Manning (2015): a distribution p̂ over the
	// scores 1..5 from the features' product and distance (TaiSimilarity), trained with
	// KL(p ‖ p̂) against the sparse target distribution p of the score (TaiTarget);
	// the prediction is Σ i·p̂ᵢ.
	Tai
)

var lossNames = []string{"malstm", "contrastive", "triplet", "tai"}

// String returns "malstm", "contrastive", "triplet" or "tai".
func (l Loss) String() string { return enumName(lossNames, l, "Loss") }

// ParseLoss parses the names written by Loss.String.
func ParseLoss(s string) (Loss, error) { return parseEnum[Loss](lossNames, s, "loss") }

// enumName returns names[v], or "Type(v)" for a value without a name.
func enumName[T ~int](names []string, v T, typ string) string {
	if v < 0 || int(v) >= len(names) {
		return fmt.Sprintf("%s(%d)", typ, int(v))
	}
	return names[v]
}

// parseEnum returns the value whose name is s (its index in names).
func parseEnum[T ~int](names []string, s, what string) (T, error) {
	if i := slices.Index(names, s); i >= 0 {
		return T(i), nil
	}
	return 0, fmt.Errorf("unknown %s %q (want one of %q)", what, s, names)
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
	// Module is the Tai loss's similarity module (the model's Similarity child).
	Module *TaiSimilarity
	// Alpha and Factor scale the L1 distance of the MaLSTM score, exp(−Factor·Alpha·‖f1 − f2‖₁):
	// Alpha is a learned scalar (the model's "scale" parameter; nil: 1), Factor a fixed
	// number (0: 1). Model.ScoreScale returns both.
	Alpha  *torch.Tensor
	Factor float64
	// EntailmentWeight, when positive, adds this multiple of the entailment classifier's cross
	// entropy to the Tai loss (ForwardLabeled); the module needs TaiSimilarity.WE.
	EntailmentWeight float64
}

// manhattan returns the MaLSTM score exp(−Factor·Alpha·‖fa − fb‖₁) per row.
func (h Head) manhattan(fa, fb *torch.Tensor) *torch.Tensor {
	if h.Alpha == nil && (h.Factor == 0 || h.Factor == 1) {
		return ManhattanSimilarity(fa, fb)
	}
	d := fa.Sub(fb).Abs().SumDim(false, 1)
	if h.Factor != 0 && h.Factor != 1 {
		d = d.MulScalar(h.Factor)
	}
	if h.Alpha != nil {
		d = d.Mul(h.Alpha)
	}
	return d.Neg().Exp()
}

// Similarity returns the head's raw similarity of feature rows fa and fb, (B,), larger for
// more similar pairs: exp(-α‖fa − fb‖₁) for MaLSTM (α: Alpha·Factor, 1 by default), (Σ i·p̂ᵢ − 1)/4 ∈ [0, 1] for Tai (both map
// to relatedness as 1 + 4·s), exp(-‖fa − fb‖₂) for the distance losses.
func (h Head) Similarity(fa, fb *torch.Tensor) (*torch.Tensor, error) {
	switch h.Loss {
	case MaLSTM:
		return h.manhattan(fa, fb), nil
	case Tai:
		if h.Module == nil {
			return nil, errors.New("siamese: the tai loss needs the model's similarity module (Config.SimilarityHidden)")
		}
		return h.Module.Expected(h.Module.LogProbs(fa, fb)).SubScalar(1).DivScalar(4), nil
	}
	return torch.PairwiseDistance(fa, fb, 2, 1e-6, false).Neg().Exp(), nil
}

// ManhattanSimilarity returns exp(-‖fa − fb‖₁) per row.
func ManhattanSimilarity(fa, fb *torch.Tensor) *torch.Tensor {
	return fa.Sub(fb).Abs().SumDim(false, 1).Neg().Exp()
}

// Forward returns the mean loss of a batch given the features of A and B and the relatedness
// scores (1–5), and the raw similarity of each pair (see Similarity). A head with an
// EntailmentWeight needs the labels too: see ForwardLabeled.
func (h Head) Forward(fa, fb *torch.Tensor, scores []float64) (loss, sim *torch.Tensor, err error) {
	return h.ForwardLabeled(fa, fb, scores, nil)
}

// ForwardLabeled is Forward with the pairs' entailment labels (data.Label values), which the
// Tai loss uses when EntailmentWeight is positive: it adds EntailmentWeight times the mean
// cross entropy of the similarity module's entailment classifier. Other heads ignore labels.
func (h Head) ForwardLabeled(fa, fb *torch.Tensor, scores []float64, labels []int64) (loss, sim *torch.Tensor, err error) {
	if int64(len(scores)) != fa.Size(0) {
		return nil, nil, fmt.Errorf("siamese: %d scores for %d pairs", len(scores), fa.Size(0))
	}
	dev := fa.Device()
	switch h.Loss {
	case MaLSTM:
		sim = h.manhattan(fa, fb)
		tgt := make([]float32, len(scores))
		for i, s := range scores {
			tgt[i] = float32((s - 1) / 4)
		}
		loss = nn.MSELoss(sim, torch.FromSlice(tgt).To(dev), torch.ReductionMean)
		return loss, sim, nil
	case Contrastive:
		y := make([]float32, len(scores))
		for i, s := range scores {
			if s >= h.Threshold {
				y[i] = 1
			}
		}
		loss = nn.ContrastiveLoss(fa, fb, torch.FromSlice(y).To(dev), h.Margin, torch.ReductionMean)
		sim, err = h.Similarity(fa, fb)
		return loss, sim, err
	case Triplet:
		if sim, err = h.Similarity(fa, fb); err != nil {
			return nil, nil, err
		}
		loss, err = h.triplet(fa, fb, scores)
		return loss, sim, err
	case Tai:
		if h.Module == nil {
			return nil, nil, errors.New("siamese: the tai loss needs the model's similarity module (Config.SimilarityHidden)")
		}
		target, negEntropy, err := TaiTarget(scores)
		if err != nil {
			return nil, nil, err
		}
		hs := h.Module.Hidden(fa, fb)
		logp := h.Module.WP.Forward(hs).LogSoftmax(1)
		// KL(p ‖ p̂) averaged over the batch (F.kl_div(logp, p, reduction="batchmean")):
		// Σ p·log p is a constant of the batch, computed on the host.
		n := float64(len(scores))
		loss = torch.FromSlice(target, int64(len(scores)), TaiClasses).To(dev).Mul(logp).Sum().
			MulScalar(-1 / n).AddScalar(negEntropy / n)
		if h.EntailmentWeight > 0 {
			if h.Module.WE == nil {
				return nil, nil, errors.New("siamese: an entailment weight needs the similarity module's entailment classifier (Config.Entailment)")
			}
			if len(labels) != len(scores) {
				return nil, nil, fmt.Errorf("siamese: %d entailment labels for %d pairs", len(labels), len(scores))
			}
			ce := nn.CrossEntropyLoss(h.Module.WE.Forward(hs), torch.FromSlice(labels).To(dev), nn.CrossEntropyOptions{})
			loss = loss.Add(ce.MulScalar(h.EntailmentWeight))
		}
		return loss, h.Module.Expected(logp).SubScalar(1).DivScalar(4), nil
	}
	return nil, nil, fmt.Errorf("siamese: unknown loss %v", h.Loss)
}

// TaiClasses is the number of relatedness classes (scores 1..5) of the Tai head.
const TaiClasses = 5

// TaiTarget returns the sparse target distributions of relatedness scores y ∈ [1, 5]
// (len(scores) rows of TaiClasses, row-major): with f = ⌊y⌋, p_f = f − y + 1 and
// p_{f+1} = y − f (classes numbered 1..5), as Tai et al. (2015, §4.2). It also returns
// Σ p·log p over all rows (0·log 0 = 0), the constant part of the KL divergence.
func TaiTarget(scores []float64) (p []float32, negEntropy float64, err error) {
	p = make([]float32, len(scores)*TaiClasses)
	for i, y := range scores {
		if !(y >= 1 && y <= TaiClasses) {
			return nil, 0, fmt.Errorf("siamese: relatedness %v outside [1, %d]", y, TaiClasses)
		}
		f := math.Floor(y)
		row := p[i*TaiClasses : (i+1)*TaiClasses]
		if f == TaiClasses {
			row[TaiClasses-1] = 1
			continue
		}
		row[int(f)-1] = float32(f - y + 1)
		row[int(f)] = float32(y - f)
	}
	for _, v := range p {
		if v > 0 {
			negEntropy += float64(v) * math.Log(float64(v))
		}
	}
	return p, negEntropy, nil
}

// TaiSimilarity is the similarity module of Tai, Socher & Manning (2015, §4.2), as the
// Similarity class of the PyTorch Tree-LSTM code (treelstm.pytorch):
//
//	h× = f₁ ⊙ f₂,  h₊ = |f₁ − f₂|
//	hₛ = σ(W_h [h×; h₊] + b_h)        wh: Linear(2·features, hidden)
//	p̂  = softmax(W_p hₛ + b_p)         wp: Linear(hidden, 5)
//
// Parameters: wh.weight, wh.bias, wp.weight, wp.bias; with an entailment classifier
// (AddEntailment) also we.weight, we.bias.
type TaiSimilarity struct {
	nn.Modules
	WH, WP *nn.Linear
	// WE is the optional entailment classifier on hₛ: Linear(hidden, data.NumLabels), or nil.
	WE *nn.Linear
}

// NewTaiSimilarity builds the module with PyTorch's Linear initialisation (wh, then wp).
func NewTaiSimilarity(features, hidden int64) *TaiSimilarity {
	s := &TaiSimilarity{WH: nn.NewLinear(2*features, hidden, nn.LinearOptions{})}
	s.WP = nn.NewLinear(hidden, TaiClasses, nn.LinearOptions{})
	s.Add("wh", s.WH)
	s.Add("wp", s.WP)
	return s
}

// EntailmentClasses is the number of outputs of the entailment classifier: SICK's labels
// NEUTRAL, ENTAILMENT and CONTRADICTION in data.Label order.
const EntailmentClasses = 3

// AddEntailment registers the entailment classifier "we", Linear(hidden, EntailmentClasses),
// on the hidden layer hₛ (PyTorch's Linear initialisation, drawn now). It is a second output
// of the same features: trained beside the relatedness (Head.EntailmentWeight), SICK's
// entailment labels shape the encoder too.
func (s *TaiSimilarity) AddEntailment() {
	s.WE = nn.NewLinear(s.WH.Weight.Size(0), EntailmentClasses, nn.LinearOptions{})
	s.Add("we", s.WE)
}

// Hidden returns hₛ, (B, hidden), for feature rows fa and fb.
func (s *TaiSimilarity) Hidden(fa, fb *torch.Tensor) *torch.Tensor {
	h := torch.Cat([]*torch.Tensor{fa.Mul(fb), fa.Sub(fb).Abs()}, 1)
	return s.WH.Forward(h).Sigmoid()
}

// LogProbs returns log p̂, (B, 5), for feature rows fa and fb.
func (s *TaiSimilarity) LogProbs(fa, fb *torch.Tensor) *torch.Tensor {
	return s.WP.Forward(s.Hidden(fa, fb)).LogSoftmax(1)
}

// Expected returns Σ i·p̂ᵢ, (B,), the predicted relatedness on 1..5, from log p̂.
func (s *TaiSimilarity) Expected(logp *torch.Tensor) *torch.Tensor {
	r := torch.Arange(1, TaiClasses+1, 1, torch.WithDType(torch.Float32), torch.WithDevice(logp.Device()))
	return logp.Exp().Mul(r).SumDim(false, 1)
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
	return nn.TripletMarginLoss(fa.IndexSelect(0, ai), fb.IndexSelect(0, ai), fb.IndexSelect(0, ni),
		nn.TripletMarginOptions{Margin: h.Margin}), nil
}
