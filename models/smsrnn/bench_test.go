package smsrnn

import (
	"math/rand/v2"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// smsLSTM is the SMS study's LSTM at its real size (vocabulary of the default split).
func smsLSTM(b *testing.B) *Model {
	b.Helper()
	cfg := DefaultConfig(3226)
	cfg.Cell = "lstm"
	torch.ManualSeed(1)
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Close)
	return m
}

// smsBatch draws a padded batch of n messages with SMS-like lengths (1..maxLen).
func smsBatch(n, maxLen int, vocab int64) (ids []int64, lengths []int64, labels []int64, t int) {
	r := rand.New(rand.NewPCG(1, 2))
	lengths, labels = make([]int64, n), make([]int64, n)
	for i := range lengths {
		lengths[i] = int64(1 + r.IntN(maxLen))
		t = max(t, int(lengths[i]))
		labels[i] = int64(r.IntN(2))
	}
	ids = make([]int64, n*t)
	for i := range n {
		for j := range int(lengths[i]) {
			ids[i*t+j] = 2 + r.Int64N(vocab-2)
		}
	}
	return ids, lengths, labels, t
}

// BenchmarkTrainStep is one training step of train/sms's LSTM (batch 32, packed): batch
// tensors from host slices, forward, cross entropy, backward, Adam, the correct count.
func BenchmarkTrainStep(b *testing.B) {
	m := smsLSTM(b)
	m.SetTraining(true)
	params := nn.Trainable(m)
	opt, err := optim.NewAdam(params, optim.AdamOptions{LR: new(1e-3)})
	if err != nil {
		b.Fatal(err)
	}
	defer opt.Close()
	ids, lengths, labels, t := smsBatch(32, 40, m.Config.Vocab)
	b.ReportAllocs()
	for b.Loop() {
		torch.WithScope(func(*torch.Scope) {
			x, y := torch.FromSlice(ids, 32, int64(t)), torch.FromSlice(labels)
			logits := m.Forward(x, lengths)
			loss := Loss(logits, y, nil)
			opt.ZeroGrad()
			loss.Backward()
			opt.Step()
			logits.Argmax(1, false).Eq(y).Sum()
		})
	}
}

// BenchmarkForwardOne is the model's part of a single-message prediction: one unpadded row of
// 33 tokens, without gradients.
func BenchmarkForwardOne(b *testing.B) {
	m := smsLSTM(b)
	m.SetTraining(false)
	ids := make([]int64, 33)
	for i := range ids {
		ids[i] = int64(2 + i)
	}
	lengths := []int64{33}
	b.ReportAllocs()
	torch.NoGrad(func() {
		for b.Loop() {
			x := torch.FromSlice(ids, 1, 33)
			logits := m.Forward(x, lengths)
			p := logits.Softmax(1)
			_ = p.Float32s()[1]
			p.Close()
			logits.Close()
			x.Close()
		}
	})
}
