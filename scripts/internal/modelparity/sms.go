package modelparity

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
	"github.com/seqtorch/seqtorch/train/loop"
)

// SMSSpec is the SMS classifier (models/smsrnn) trained against scripts/sms_ref.py: Go
// writes the model's initial weights and a fixed list of random batches, trains Steps steps
// and records the losses; sms_ref.py trains the same Python class from the same weights on
// the same batches. Each step is seeded with the same seed on both sides (loop.StepSeed), so
// the comparison holds with dropout too.
type SMSSpec struct {
	Label     string        `json:"name"` // the case's name without "sms/"
	Model     smsrnn.Config `json:"model"`
	LR        float64       `json:"lr"`
	Optimizer string        `json:"optimizer"` // adam or adadelta (NewOptimizer)
	Clip      float64       `json:"clip"`      // gradient norm clip (0: off)
	Steps     int           `json:"steps"`     // batches to train on
	Batch     int           `json:"batch"`     // batch size
	MaxLen    int           `json:"max_len"`   // longest sequence
	Seed      uint64        `json:"seed"`      // initialisation and data
	Seeds     []uint64      `json:"seeds"`     // per-step libtorch seeds (filled by Build)
	// Words are the vocabulary's words, whose character n-grams a model with subwords looks
	// up (filled by Build; sms_ref.py hashes them itself).
	Words []string `json:"words,omitempty"`
}

// Name returns "sms/" and the spec's label.
func (s SMSSpec) Name() string { return "sms/" + s.Label }

// Specs are the SMS cases: the study's baseline (simple RNN, packed); a two-layer
// bidirectional LSTM with dropout and clipping; a GRU over padded batches, trained with
// Adadelta; max pooling (packed, bidirectional, dropout) and mean pooling (padded); character
// n-gram subwords with max pooling.
func Specs() []SMSSpec {
	rnn := smsrnn.DefaultConfig(60)
	rnn.Embed, rnn.Hidden, rnn.Dense = 16, 12, 10
	lstm := rnn
	lstm.Cell, lstm.Layers, lstm.Bidirectional, lstm.Dropout, lstm.RNNDropout = "lstm", 2, true, 0.3, 0.2
	gru := rnn
	gru.Cell, gru.Packed, gru.Activation = "gru", false, "tanh"
	sub := rnn
	sub.Cell, sub.Pooling, sub.Subwords = "lstm", "max", 23
	maxPool := rnn
	maxPool.Cell, maxPool.Bidirectional, maxPool.Pooling, maxPool.Dropout = "lstm", true, "max", 0.3
	meanPool := rnn
	meanPool.Cell, meanPool.Packed, meanPool.Pooling = "gru", false, "mean"
	return []SMSSpec{
		{Label: "rnn-packed", Model: rnn, LR: 0.01, Optimizer: "adam", Steps: 20, Batch: 8, MaxLen: 12, Seed: 1},
		{Label: "bilstm2-dropout-clip", Model: lstm, LR: 0.01, Optimizer: "adam", Clip: 0.5, Steps: 20, Batch: 8, MaxLen: 12, Seed: 2},
		{Label: "gru-padded-adadelta", Model: gru, LR: 1, Optimizer: "adadelta", Steps: 20, Batch: 8, MaxLen: 12, Seed: 3},
		{Label: "bilstm-max-pooling-dropout", Model: maxPool, LR: 0.01, Optimizer: "adam", Steps: 20, Batch: 8, MaxLen: 12, Seed: 4},
		{Label: "gru-padded-mean-pooling", Model: meanPool, LR: 0.01, Optimizer: "adam", Steps: 20, Batch: 8, MaxLen: 12, Seed: 5},
		{Label: "lstm-subwords-max-pooling", Model: sub, LR: 0.01, Optimizer: "adam", Steps: 20, Batch: 8, MaxLen: 12, Seed: 6},
	}
}

// subwordWords returns v words for the subword case: "<pad>", "<unk>", a placeholder, then
// words of one to three pieces (shared pieces share n-grams; "£" and "é" are two bytes).
func subwordWords(v int, seed uint64) []string {
	pieces := []string{"ca", "ll", "txt", "£", "fré", "e", "win", "4", "u"}
	r := rand.New(rand.NewPCG(seed, 7))
	words := []string{"<pad>", "<unk>", "<num>"}
	for len(words) < v {
		w := ""
		for range 1 + r.IntN(3) {
			w += pieces[r.IntN(len(pieces))]
		}
		words = append(words, w)
	}
	return words[:v]
}

// batch is one training batch in host memory.
type batch struct {
	ids     []int64 // B*T
	lengths []int64
	labels  []int64
	b, t    int
}

// makeBatches draws spec.Steps batches of random ids (padded with 0 at the end).
func makeBatches(s SMSSpec) []batch {
	r := rand.New(rand.NewPCG(s.Seed, 99))
	out := make([]batch, s.Steps)
	for i := range out {
		b := batch{b: s.Batch, lengths: make([]int64, s.Batch), labels: make([]int64, s.Batch)}
		for k := range b.lengths {
			b.lengths[k] = int64(1 + r.IntN(s.MaxLen))
			b.t = max(b.t, int(b.lengths[k]))
			b.labels[k] = int64(r.IntN(2))
		}
		b.ids = make([]int64, b.b*b.t)
		for k := range b.b {
			for j := range int(b.lengths[k]) {
				b.ids[k*b.t+j] = int64(1 + r.IntN(int(s.Model.Vocab-1)))
			}
		}
		out[i] = b
	}
	return out
}

// Build writes dir/spec.json, dir/init.pt (the initial state dict, torch.load-able) and
// dir/batches.pt for scripts/sms_ref.py.
func (s SMSSpec) Build(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.Seeds = make([]uint64, s.Steps)
	for i := range s.Seeds {
		s.Seeds[i] = loop.StepSeed(s.Seed, 1, i)
	}
	if s.Model.Subwords > 0 {
		s.Words = subwordWords(int(s.Model.Vocab), s.Seed)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "spec.json"), b, 0o644); err != nil {
		return err
	}
	torch.ManualSeed(s.Seed)
	m, err := smsrnn.New(s.Model)
	if err != nil {
		return err
	}
	defer m.Close()
	if m.Subword != nil {
		// n-gram rows that start at zero would leave the first steps' forward pass alone.
		err := torch.Try(func() {
			torch.WithScope(func(*torch.Scope) {
				torch.NoGrad(func() {
					m.Subword.Weight.NormalInPlace(0, 0.3)
					m.Subword.Weight.Narrow(0, 0, 1).Fill(0)
				})
			})
		})
		if err != nil {
			return err
		}
	}
	if err := nn.SaveTorch(filepath.Join(dir, "init.pt"), m); err != nil {
		return err
	}
	var names []string
	var ts []*torch.Tensor
	err = torch.Try(func() {
		for i, bt := range makeBatches(s) {
			names = append(names, fmt.Sprintf("ids_%03d", i), fmt.Sprintf("lengths_%03d", i), fmt.Sprintf("labels_%03d", i))
			ts = append(ts, torch.FromSlice(bt.ids, int64(bt.b), int64(bt.t)), torch.FromSlice(bt.lengths), torch.FromSlice(bt.labels))
		}
	})
	defer func() {
		for _, t := range ts {
			t.Close()
		}
	}()
	if err != nil {
		return err
	}
	return torch.SaveDict(filepath.Join(dir, "batches.pt"), names, ts)
}

// GoLosses trains the case Build wrote in dir in Go, from dir/init.pt, with the spec saved in
// dir/spec.json (the receiver's fields are not used), and returns the loss of every step.
func (SMSSpec) GoLosses(dir string) ([]float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil {
		return nil, err
	}
	var s SMSSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	m, err := smsrnn.New(s.Model)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if err := nn.LoadTorch(filepath.Join(dir, "init.pt"), m); err != nil {
		return nil, err
	}
	if err := m.SetWords(s.Words); err != nil {
		return nil, err
	}
	params, opt, err := startTraining(m, s.Optimizer, s.LR)
	if err != nil {
		return nil, err
	}
	defer closeOptimizer(opt)
	var losses []float64
	terr := torch.Run(func() error {
		for i, bt := range makeBatches(s) {
			sc := torch.NewScope()
			torch.ManualSeed(s.Seeds[i])
			logits := m.Forward(torch.FromSlice(bt.ids, int64(bt.b), int64(bt.t)), bt.lengths)
			loss := smsrnn.Loss(logits, torch.FromSlice(bt.labels), nil)
			opt.ZeroGrad()
			loss.Backward()
			if s.Clip > 0 {
				optim.ClipGradNorm(params, s.Clip)
			}
			opt.Step()
			losses = append(losses, loss.Item())
			sc.Close()
		}
		return nil
	})
	if terr != nil {
		return nil, terr
	}
	return losses, nil
}

// PyLosses runs `python scripts/sms_ref.py parity dir` and returns the losses it wrote.
func (SMSSpec) PyLosses(ctx context.Context, python, dir string) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := runScript(ctx, python, "sms_ref.py", abs, "parity", abs); err != nil {
		return nil, err
	}
	var l floats
	err = readPyJSON(filepath.Join(abs, "py_losses.json"), &l)
	return l, err
}
