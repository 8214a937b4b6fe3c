package cases

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

type lossArgs struct {
	Fn             string   `json:"fn"`
	Reduction      string   `json:"reduction"`
	IgnoreIndex    *int64   `json:"ignore_index,omitempty"`
	LabelSmoothing float64  `json:"label_smoothing,omitempty"`
	Margin         float64  `json:"margin,omitempty"`
	Swap           bool     `json:"swap,omitempty"`
	Grad           []string `json:"grad"` // inputs whose gradients are compared
}

func reduction(s string) (torch.Reduction, error) {
	switch s {
	case "mean":
		return torch.ReductionMean, nil
	case "sum":
		return torch.ReductionSum, nil
	case "none":
		return torch.ReductionNone, nil
	}
	return 0, fmt.Errorf("unknown reduction %q", s)
}

// goLoss computes the loss a case names with seqtorch's nn losses; x holds the inputs (those
// in a.Grad require gradients).
func goLoss(a lossArgs, x map[string]*torch.Tensor) (*torch.Tensor, error) {
	r, err := reduction(a.Reduction)
	if err != nil {
		return nil, err
	}
	switch a.Fn {
	case "cross_entropy":
		return nn.CrossEntropyLoss(x["input"], x["target"], nn.CrossEntropyOptions{Weight: x["weight"], Reduction: r,
			IgnoreIndex: a.IgnoreIndex, LabelSmoothing: a.LabelSmoothing}), nil
	case "nll":
		return nn.NLLLoss(x["input"].LogSoftmax(1), x["target"], nn.NLLLossOptions{Weight: x["weight"], Reduction: r,
			IgnoreIndex: a.IgnoreIndex}), nil
	case "mse":
		return nn.MSELoss(x["input"], x["target"], r), nil
	case "l1":
		return nn.L1Loss(x["input"], x["target"], r), nil
	case "bce_logits":
		return nn.BCEWithLogitsLoss(x["input"], x["target"], nn.BCEWithLogitsOptions{Weight: x["weight"],
			PosWeight: x["pos_weight"], Reduction: r}), nil
	case "triplet":
		return nn.TripletMarginLoss(x["anchor"], x["positive"], x["negative"], nn.TripletMarginOptions{Margin: a.Margin,
			Swap: a.Swap, Reduction: r}), nil
	case "contrastive":
		return nn.ContrastiveLoss(x["a"], x["b"], x["y"], a.Margin, r), nil
	}
	return nil, fmt.Errorf("unknown loss %q", a.Fn)
}

// registerLoss registers a loss case whose inputs make builds (gw, the weighting of an
// unreduced loss, is added here).
func registerLoss(name string, seed uint64, a lossArgs, make func() *Dict) {
	Register(Case{
		Name: "loss/" + name,
		Build: func(dir string) error {
			torch.ManualSeed(seed)
			in := make()
			in.Add("gw", torch.Rand([]int64{16}))
			return WriteInputs(dir, "loss", a, in)
		},
		Check: func(dir string) (float64, error) {
			in, want, err := ReadBoth(dir)
			if err != nil {
				return 0, err
			}
			x := map[string]*torch.Tensor{}
			for i, n := range in.Names {
				x[n] = in.Ts[i]
			}
			for _, n := range a.Grad {
				x[n] = leaf(in.MustGet(n))
			}
			loss, err := goLoss(a, x)
			if err != nil {
				return 0, err
			}
			if loss.Dim() > 0 {
				gw := in.MustGet("gw").Narrow(0, 0, loss.Numel()).View(loss.Shape()...)
				loss.Mul(gw).Sum().Backward()
			} else {
				loss.Backward()
			}
			c := NewCmp(want)
			c.T("loss", loss)
			for _, n := range a.Grad {
				g := x[n].Grad()
				if g == nil {
					g = torch.Zeros(x[n].Shape())
				}
				c.T("grad."+n, g)
			}
			return c.Result(true)
		},
	})
}

func i64(v int64) *int64 { return &v }

func init() {
	const n, classes = 6, 4
	logits := func(withWeight bool, ignore int64) func() *Dict {
		return func() *Dict {
			d := &Dict{}
			d.Add("input", torch.Randn([]int64{n, classes}).MulScalar(2))
			tgt := []int64{0, 3, 1, 2, 3, 1}
			if ignore != 0 {
				tgt[1], tgt[4] = ignore, ignore
			}
			d.Add("target", torch.FromSlice(tgt))
			if withWeight {
				d.Add("weight", torch.FromSlice([]float32{0.2, 1, 2.5, 0.7}))
			}
			return d
		}
	}
	in := []string{"input"}
	for _, r := range []string{"mean", "sum", "none"} {
		registerLoss("cross-entropy/weight-"+r, 11, lossArgs{Fn: "cross_entropy", Reduction: r, Grad: in}, logits(true, 0))
		registerLoss("mse/"+r, 12, lossArgs{Fn: "mse", Reduction: r, Grad: []string{"input", "target"}}, pair(3, 5))
		registerLoss("l1/"+r, 13, lossArgs{Fn: "l1", Reduction: r, Grad: []string{"input", "target"}}, pair(3, 5))
	}
	registerLoss("cross-entropy/plain-mean", 14, lossArgs{Fn: "cross_entropy", Reduction: "mean", Grad: in}, logits(false, 0))
	registerLoss("cross-entropy/label-smoothing", 15, lossArgs{Fn: "cross_entropy", Reduction: "mean", LabelSmoothing: 0.1, Grad: in}, logits(false, 0))
	registerLoss("cross-entropy/label-smoothing-weight", 16, lossArgs{Fn: "cross_entropy", Reduction: "mean", LabelSmoothing: 0.2, Grad: in}, logits(true, 0))
	registerLoss("cross-entropy/ignore-index-default", 17, lossArgs{Fn: "cross_entropy", Reduction: "mean", Grad: in}, logits(true, -100))
	registerLoss("cross-entropy/ignore-index-2-none", 18, lossArgs{Fn: "cross_entropy", Reduction: "none", IgnoreIndex: i64(2), Grad: in}, logits(false, 2))
	registerLoss("nll/weight-ignore-mean", 19, lossArgs{Fn: "nll", Reduction: "mean", IgnoreIndex: i64(1), Grad: in}, logits(true, 1))
	registerLoss("nll/none", 20, lossArgs{Fn: "nll", Reduction: "none", Grad: in}, logits(false, 0))

	bce := func(weight bool) func() *Dict {
		return func() *Dict {
			d := &Dict{}
			d.Add("input", torch.Randn([]int64{5, 3}).MulScalar(3))
			d.Add("target", torch.Rand([]int64{5, 3}).GtScalar(0.5).ToDType(torch.Float32))
			d.Add("pos_weight", torch.FromSlice([]float32{0.5, 2, 4}))
			if weight {
				d.Add("weight", torch.Rand([]int64{5, 3}))
			}
			return d
		}
	}
	registerLoss("bce-with-logits/pos-weight-mean", 21, lossArgs{Fn: "bce_logits", Reduction: "mean", Grad: in}, bce(false))
	registerLoss("bce-with-logits/weight-pos-weight-none", 22, lossArgs{Fn: "bce_logits", Reduction: "none", Grad: in}, bce(true))
	registerLoss("bce-with-logits/weight-pos-weight-sum", 23, lossArgs{Fn: "bce_logits", Reduction: "sum", Grad: in}, bce(true))

	triplet := func() *Dict {
		d := &Dict{}
		for _, k := range []string{"anchor", "positive", "negative"} {
			d.Add(k, torch.Randn([]int64{5, 4}))
		}
		return d
	}
	tg := []string{"anchor", "positive", "negative"}
	registerLoss("triplet/margin1-mean", 24, lossArgs{Fn: "triplet", Reduction: "mean", Margin: 1, Grad: tg}, triplet)
	registerLoss("triplet/margin2-swap-none", 25, lossArgs{Fn: "triplet", Reduction: "none", Margin: 2, Swap: true, Grad: tg}, triplet)

	contrastive := func() *Dict {
		d := &Dict{}
		d.Add("a", torch.Randn([]int64{6, 4}).MulScalar(0.5))
		d.Add("b", torch.Randn([]int64{6, 4}).MulScalar(0.5))
		d.Add("y", torch.FromSlice([]float32{1, 0, 1, 0, 0, 1}))
		return d
	}
	cg := []string{"a", "b"}
	registerLoss("contrastive/margin1-mean", 26, lossArgs{Fn: "contrastive", Reduction: "mean", Margin: 1, Grad: cg}, contrastive)
	registerLoss("contrastive/margin1.5-none", 27, lossArgs{Fn: "contrastive", Reduction: "none", Margin: 1.5, Grad: cg}, contrastive)
}

// pair returns inputs "input" and "target" of shape (r, c).
func pair(r, c int64) func() *Dict {
	return func() *Dict {
		d := &Dict{}
		d.Add("input", torch.Randn([]int64{r, c}))
		d.Add("target", torch.Randn([]int64{r, c}))
		return d
	}
}
