package main

import (
	"fmt"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/metrics"
)

// evalResult holds the metrics of a model on a set of examples.
type evalResult struct {
	loss  float64
	probs []float64 // spam probability per example, in input order
	conf  *metrics.Confusion
	f1    float64 // spam F1 (0 when undefined)
}

// evaluate runs the model in eval mode without gradients over ex.
func evaluate(model *smsrnn.Model, ex []data.Example, dev torch.Device, batch int, classWeights *torch.Tensor) (*evalResult, error) {
	wasTraining := model.Training()
	model.SetTraining(false)
	defer model.SetTraining(wasTraining)
	r := &evalResult{probs: make([]float64, len(ex))}
	var lossSum, weightSum float64
	err := torch.Run(func() error {
		torch.NoGrad(func() {
			for b := range data.Batches(ex, data.BatchOptions{Size: batch, Bucket: len(ex)/batch + 1}, 0) {
				s := torch.NewScope() // a panic leaves it open: Run closes it
				ids, labels := batchTensors(b, dev)
				logits := model.Forward(ids, b.Lengths)
				loss := smsrnn.Loss(logits, labels, classWeights).Item()
				w := float64(b.B)
				if classWeights != nil { // the weighted mean divides by the summed weights
					w = labelWeightSum(b.Labels, classWeights)
				}
				lossSum += loss * w
				weightSum += w
				p := logits.Softmax(1).Narrow(1, 1, 1).Reshape(int64(b.B)).ToDType(torch.Float64).Float64s()
				for k, i := range b.Index {
					r.probs[i] = p[k]
				}
				s.Close()
			}
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	r.loss = lossSum / weightSum
	labels := make([]int, len(ex))
	for i, e := range ex {
		labels[i] = int(e.Label)
	}
	conf, err := confusion(r.probs, labels)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	r.conf = conf
	_, _, r.f1, _ = conf.PRF(data.Spam) // undefined values are 0
	return r, nil
}

// confusion is the confusion matrix of spam probabilities against labels at the threshold 0.5.
func confusion(probs []float64, labels []int) (*metrics.Confusion, error) {
	pred := make([]int, len(probs))
	for i, p := range probs {
		if p >= 0.5 {
			pred[i] = data.Spam
		}
	}
	return metrics.NewConfusion(pred, labels, 2)
}

func labelWeightSum(labels []int64, w *torch.Tensor) float64 {
	ws := w.To(torch.CPU).Float32s()
	var s float64
	for _, l := range labels {
		s += float64(ws[l])
	}
	return s
}
