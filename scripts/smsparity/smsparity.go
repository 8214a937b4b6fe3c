// Package smsparity checks the SMS classifier (models/smsrnn) against PyTorch end to end: Go
// writes a model's initial weights and a fixed list of batches, trains a number of Adam steps
// and records the losses; scripts/sms_ref.py trains the same Python class from the same
// weights on the same batches; the two loss sequences must agree to within Tol.
//
// Each step is seeded with the same seed on both sides (loop.StepSeed), so the comparison
// holds with dropout too.
package smsparity

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
	"github.com/seqtorch/seqtorch/train/loop"
)

// Tol is the largest accepted absolute difference between a Go and a PyTorch loss.
const Tol = 1e-4

// Spec is one parity case: the model, the optimizer and the batches.
type Spec struct {
	Name      string        `json:"name"`
	Model     smsrnn.Config `json:"model"`
	LR        float64       `json:"lr"`
	Optimizer string        `json:"optimizer"` // "adam"
	Clip      float64       `json:"clip"`      // gradient norm clip (0: off)
	Steps     int           `json:"steps"`     // batches to train on
	Batch     int           `json:"batch"`     // batch size
	MaxLen    int           `json:"max_len"`   // longest sequence
	Seed      uint64        `json:"seed"`      // initialisation and data
	Seeds     []uint64      `json:"seeds"`     // per-step libtorch seeds (filled by Build)
}

// Specs are the cases the parity suite runs: the study's baseline (simple RNN, packed) and a
// two-layer bidirectional LSTM with dropout and clipping; a GRU over padded batches.
func Specs() []Spec {
	rnn := smsrnn.DefaultConfig(60)
	rnn.Embed, rnn.Hidden, rnn.Dense = 16, 12, 10
	lstm := rnn
	lstm.Cell, lstm.Layers, lstm.Bidirectional, lstm.Dropout, lstm.RNNDropout = "lstm", 2, true, 0.3, 0.2
	gru := rnn
	gru.Cell, gru.Packed, gru.Activation = "gru", false, "tanh"
	return []Spec{
		{Name: "sms/rnn-packed", Model: rnn, LR: 0.01, Optimizer: "adam", Steps: 20, Batch: 8, MaxLen: 12, Seed: 1},
		{Name: "sms/bilstm2-dropout-clip", Model: lstm, LR: 0.01, Optimizer: "adam", Clip: 0.5, Steps: 20, Batch: 8, MaxLen: 12, Seed: 2},
		{Name: "sms/gru-padded", Model: gru, LR: 0.01, Optimizer: "adam", Steps: 20, Batch: 8, MaxLen: 12, Seed: 3},
	}
}

// batch is one training batch in host memory.
type batch struct {
	ids     []int64 // B*T
	lengths []int64
	labels  []int64
	b, t    int
}

// makeBatches draws spec.Steps batches of random ids (padded with 0 at the end).
func makeBatches(s Spec) []batch {
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
func Build(dir string, s Spec) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.Seeds = make([]uint64, s.Steps)
	for i := range s.Seeds {
		s.Seeds[i] = loop.StepSeed(s.Seed, 1, i)
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

// GoLosses trains the case in Go from dir/init.pt and returns the loss of every step.
func GoLosses(dir string) ([]float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil {
		return nil, err
	}
	var s Spec
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
	params := nn.Trainable(m)
	opt, err := optim.NewAdam(params, optim.AdamOptions{LR: s.LR})
	if err != nil {
		return nil, err
	}
	defer opt.Close()
	m.SetTraining(true)
	var losses []float64
	var ferr error
	terr := torch.Try(func() {
		for i, bt := range makeBatches(s) {
			sc := torch.NewScope()
			torch.ManualSeed(s.Seeds[i])
			logits, err := m.Forward(torch.FromSlice(bt.ids, int64(bt.b), int64(bt.t)), bt.lengths)
			if err != nil {
				ferr = err
				sc.Close()
				return
			}
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
	})
	if terr != nil {
		return nil, terr
	}
	return losses, ferr
}

// PyLosses runs `python scriptPath parity dir` and returns the losses it wrote.
func PyLosses(ctx context.Context, python, script, dir string) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script, "parity", dir)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", python, script, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "py_losses.json"))
	if err != nil {
		return nil, err
	}
	var l []float64
	return l, json.Unmarshal(b, &l)
}

// Compare returns the largest |a[i] − b[i]|, or an error if the lengths differ.
func Compare(a, b []float64) (float64, error) {
	if len(a) != len(b) {
		return math.Inf(1), fmt.Errorf("%d Go losses, %d PyTorch losses", len(a), len(b))
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d, nil
}

// Run builds the case in dir, trains it in Go and in PyTorch and returns the largest loss
// difference and both loss sequences.
func Run(ctx context.Context, python, script, dir string, s Spec) (diff float64, goL, pyL []float64, err error) {
	if err := Build(dir, s); err != nil {
		return 0, nil, nil, fmt.Errorf("%s: build: %w", s.Name, err)
	}
	if goL, err = GoLosses(dir); err != nil {
		return 0, nil, nil, fmt.Errorf("%s: Go: %w", s.Name, err)
	}
	if pyL, err = PyLosses(ctx, python, script, dir); err != nil {
		return 0, nil, nil, fmt.Errorf("%s: PyTorch: %w", s.Name, err)
	}
	diff, err = Compare(goL, pyL)
	return diff, goL, pyL, err
}
