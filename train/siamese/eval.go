package main

import (
	"fmt"
	"math"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/metrics"
)

// scores is the evaluation of a set of pairs.
type scores struct {
	Loss     float64 `json:"loss"`
	Pearson  float64 `json:"pearson"`
	Spearman float64 `json:"spearman"`
	MSE      float64 `json:"mse"`
	Accuracy float64 `json:"accuracy"`
}

// calibration maps a head's similarity to relatedness: a + b·s, clipped to [1, 5].
type calibration struct{ A, B float64 }

// identity is the fixed map 1 + 4·s of MaLSTM (its similarity is trained against
// (score−1)/4) and of Tai (its similarity is (Σ i·p̂ᵢ − 1)/4).
var identity = calibration{A: 1, B: 4}

func (c calibration) apply(s float64) float64 { return min(5, max(1, c.A+c.B*s)) }

// fitCalibration is the least-squares line from sims to gold.
func fitCalibration(sims, gold []float64) calibration {
	n := float64(len(sims))
	var mx, my float64
	for i := range sims {
		mx += sims[i]
		my += gold[i]
	}
	mx /= n
	my /= n
	var sxy, sxx float64
	for i := range sims {
		sxy += (sims[i] - mx) * (gold[i] - my)
		sxx += (sims[i] - mx) * (sims[i] - mx)
	}
	if sxx == 0 {
		return calibration{A: my}
	}
	b := sxy / sxx
	return calibration{A: my - b*mx, B: b}
}

// pairTensors moves a batch's two padded id matrices to dev.
func pairTensors(b data.PairBatch, dev torch.Device) (a, bb *torch.Tensor) {
	a = torch.FromSlice(b.A.IDs, int64(b.A.B), int64(b.A.T))
	bb = torch.FromSlice(b.B.IDs, int64(b.B.B), int64(b.B.T))
	if dev.IsCUDA() {
		a, bb = a.To(dev), bb.To(dev)
	}
	return a, bb
}

// predict returns the head's similarity of every pair (in order) and the mean loss, with
// autograd off and the model in eval mode. It runs inside its own scopes.
// evalBatch is the batch size of evaluation passes: the training default, which keeps the
// transient activations of a pass small (a 256-pair batch raised the training command's
// peak RSS by about 40 MB) at no cost in time on the CPU.
const evalBatch = 64

func predict(m *siamese.Model, head siamese.Head, ex []data.PairExample, batch int) (sims []float64, loss float64, err error) {
	m.SetTraining(false)
	defer m.SetTraining(true)
	sims = make([]float64, len(ex))
	dev := m.Device()
	err = torch.Run(func() error {
		var herr error // the head's configuration error
		torch.NoGrad(func() {
			for b := range data.PairBatches(ex, data.BatchOptions{Size: batch}, 0) {
				torch.WithScope(func(*torch.Scope) {
					a, bb := pairTensors(b, dev)
					fa, fb := m.EncodePair(a, b.A.Lengths, bb, b.B.Lengths)
					var l, s *torch.Tensor
					if l, s, herr = head.ForwardLabeled(fa, fb, b.Scores, b.Labels); herr != nil {
						return
					}
					loss += l.Item() * float64(len(b.Index))
					for k, v := range s.ToDType(torch.Float64).Float64s() {
						sims[b.Index[k]] = v
					}
				})
				if herr != nil {
					return
				}
			}
		})
		return herr
	})
	if err != nil {
		return nil, 0, fmt.Errorf("predict: %w", err)
	}
	return sims, loss / float64(len(ex)), nil
}

// score computes the metrics of predictions pred (1–5) against gold.
func score(pred, gold []float64, loss, threshold float64) (scores, error) {
	s := scores{Loss: loss}
	var err error
	if s.Pearson, err = metrics.Pearson(pred, gold); err != nil {
		s.Pearson = math.NaN()
	}
	if s.Spearman, err = metrics.Spearman(pred, gold); err != nil {
		s.Spearman = math.NaN()
	}
	if s.MSE, err = metrics.MSE(pred, gold); err != nil {
		return s, err
	}
	p := make([]int, len(pred))
	g := make([]int, len(gold))
	for i := range pred {
		if pred[i] >= threshold {
			p[i] = 1
		}
		if gold[i] >= threshold {
			g[i] = 1
		}
	}
	if s.Accuracy, err = metrics.Accuracy(p, g); err != nil {
		return s, err
	}
	return s, nil
}

// goldScores returns the relatedness scores of ex.
func goldScores(ex []data.PairExample) []float64 {
	g := make([]float64, len(ex))
	for i, e := range ex {
		g[i] = e.Score
	}
	return g
}

// evaluate predicts ex and scores it. With fit, the calibration is fitted on ex itself (used
// for TRIAL with the distance losses); otherwise cal is applied.
func evaluate(m *siamese.Model, head siamese.Head, ex []data.PairExample, batch int, cal calibration, fit bool) (scores, calibration, error) {
	sims, loss, err := predict(m, head, ex, batch)
	if err != nil {
		return scores{}, cal, err
	}
	gold := goldScores(ex)
	if fit {
		cal = fitCalibration(sims, gold)
	}
	pred := make([]float64, len(sims))
	for i, s := range sims {
		pred[i] = cal.apply(s)
	}
	sc, err := score(pred, gold, loss, head.Threshold)
	return sc, cal, err
}
