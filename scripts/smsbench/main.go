// Command smsbench compares the time of one training epoch of the SMS classifier in Go (the
// shared training loop, as `go run ./train/sms` runs it) with the equivalent PyTorch script
// (scripts/sms_ref.py bench) on the same libtorch, the same batches and the same thread count.
// Rounds alternate Go and Python; each round runs two epochs in a fresh model and times the
// second. It prints every measurement and the ratio of the medians (Go / PyTorch).
//
// Usage (from the repository root): scripts/bench_sms.sh [--cell lstm] [--rounds 3] ...
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/scripts/internal/modelparity"
	"github.com/seqtorch/seqtorch/scripts/internal/smsrun"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
	"github.com/seqtorch/seqtorch/train/loop"
)

func main() {
	runtime.LockOSThread()
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "smsbench:", err)
		os.Exit(1)
	}
}

type spec struct {
	Model   smsrnn.Config `json:"model"`
	LR      float64       `json:"lr"`
	Steps   int           `json:"steps"`
	Epochs  int           `json:"epochs"`
	Threads int           `json:"threads"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("smsbench", flag.ContinueOnError)
	cell := fs.String("cell", "rnn", "rnn, lstm or gru")
	bi := fs.Bool("bidirectional", false, "bidirectional")
	batch := fs.Int("batch", 32, "batch size")
	rounds := fs.Int("rounds", 3, "alternating Go/PyTorch rounds")
	threads := fs.Int("threads", 1, "libtorch threads on both sides")
	python := fs.String("python", modelparity.Python(), "Python with PyTorch")
	script := fs.String("script", "scripts/sms_ref.py", "the PyTorch reference script")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := torch.SetNumThreads(*threads); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "smsbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The data pipeline of train/sms with its defaults.
	split, err := smsrun.Split("", 2024)
	if err != nil {
		return err
	}
	tok := data.DefaultSMSTokenizer()
	var docs [][]string
	for _, m := range split.Train {
		docs = append(docs, tok.Tokenize(m.Text))
	}
	vocab := data.BuildVocab(docs, data.VocabOptions{MinCount: 2})
	ex := data.EncodeSMS(split.Train, tok, vocab)
	bopt := data.BatchOptions{Size: *batch, Shuffle: true, Seed: 1}
	batches := slices.Collect(data.Batches(ex, bopt, 1))

	cfg := smsrnn.DefaultConfig(int64(vocab.Len()))
	cfg.Cell, cfg.Bidirectional = *cell, *bi
	sp := spec{Model: cfg, LR: 1e-3, Steps: len(batches), Epochs: 2, Threads: *threads}
	if err := writeInputs(dir, sp, batches); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "SMS %s bidirectional=%v: %d batches of %d, vocabulary %d, libtorch %s, %d thread(s), BLAS %s\n",
		*cell, *bi, len(batches), *batch, vocab.Len(), torch.Version(), *threads, torch.BLAS())
	var goT, pyT []float64
	for r := range *rounds {
		g, err := goEpoch(dir, cfg, batches)
		if err != nil {
			return err
		}
		p, err := pyEpoch(ctx, *python, *script, dir)
		if err != nil {
			return err
		}
		goT, pyT = append(goT, g), append(pyT, p)
		fmt.Fprintf(stdout, "round %d: Go %.3fs  PyTorch %.3fs  ratio %.3f\n", r+1, g, p, g/p)
	}
	mg, mp := median(goT), median(pyT)
	fmt.Fprintf(stdout, "median epoch: Go %.3fs, PyTorch %.3fs, Go/PyTorch = %.3f\n", mg, mp, mg/mp)
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeInputs writes spec.json and batches.pt for the Python side.
func writeInputs(dir string, sp spec, batches []data.Batch) error {
	b, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "spec.json"), b, 0o644); err != nil {
		return err
	}
	s := torch.NewScope()
	defer s.Close()
	var names []string
	var ts []*torch.Tensor
	for i, bt := range batches {
		names = append(names, fmt.Sprintf("ids_%03d", i), fmt.Sprintf("lengths_%03d", i), fmt.Sprintf("labels_%03d", i))
		ts = append(ts, torch.FromSlice(bt.IDs, int64(bt.B), int64(bt.T)), torch.FromSlice(bt.Lengths), torch.FromSlice(bt.Labels))
	}
	return torch.SaveDict(filepath.Join(dir, "batches.pt"), names, ts)
}

// goEpoch trains two epochs with the shared loop, as train/sms does (batch tensors built from
// the host batches each step), and returns the second epoch's training time.
func goEpoch(dir string, cfg smsrnn.Config, batches []data.Batch) (float64, error) {
	torch.ManualSeed(1)
	m, err := smsrnn.New(cfg)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	params := nn.Trainable(m)
	opt, err := optim.NewAdam(params, optim.AdamOptions{LR: new(1e-3)})
	if err != nil {
		return 0, err
	}
	defer opt.Close()
	run, err := os.MkdirTemp(dir, "go")
	if err != nil {
		return 0, err
	}
	res, err := loop.Run(context.Background(), loop.Config[data.Batch]{
		Epochs: 2, Seed: 1, Dir: run,
		Batches:    func(int) iter.Seq[data.Batch] { return slices.Values(batches) },
		NumBatches: func(int) int { return len(batches) },
		Step: func(b data.Batch) (loop.StepResult, error) {
			ids, labels := torch.FromSlice(b.IDs, int64(b.B), int64(b.T)), torch.FromSlice(b.Labels)
			logits := m.Forward(ids, b.Lengths)
			loss := smsrnn.Loss(logits, labels, nil)
			opt.ZeroGrad()
			loss.Backward()
			opt.Step()
			return loop.StepResult{Loss: loss, Correct: logits.Argmax(1, false).Eq(labels).Sum(), N: b.B}, nil
		},
		SetTraining: m.SetTraining,
		Model: loop.PersistFuncs{
			SaveFunc: func(p string) error { return nn.SaveSafetensors(p, m, nil) },
			LoadFunc: func(p string) error { return nn.LoadSafetensors(p, m) },
		},
	})
	if err != nil {
		return 0, err
	}
	return res.History[1].TrainSeconds, nil
}

// pyEpoch runs the PyTorch script for two epochs and returns the second epoch's time.
func pyEpoch(ctx context.Context, python, script, dir string) (float64, error) {
	cmd := exec.CommandContext(ctx, python, script, "bench", dir)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1")
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s %s bench: %w", python, script, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		raw, ok := strings.CutPrefix(line, "BENCH ")
		if !ok {
			continue
		}
		var r struct {
			Metrics map[string]float64 `json:"metrics"`
		}
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return 0, fmt.Errorf("PyTorch bench output %q: %w", raw, err)
		}
		if s, ok := r.Metrics["last_epoch_s"]; ok {
			return s, nil
		}
	}
	return 0, fmt.Errorf("PyTorch bench output %q has no BENCH line with last_epoch_s", out)
}
