package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/metrics"
)

// BenchMessage is the message `sms bench latency` classifies by default: a spam message of the
// SMS Spam Collection, 29 tokens with the default tokenizer (a typical length).
const BenchMessage = "WINNER!! As a valued network customer you have been selected to receivea £900 prize reward! " +
	"To claim call 09061701461. Claim code KL341. Valid 12 hours only."

// runBench is `sms bench`, the Go side of the SMS items of `make bench` (scripts/bench):
//
//	sms bench inputs --dir DIR [training flags]
//	    writes DIR/spec.json, DIR/init.pt and DIR/batches.pt: the initial weights and the
//	    epoch-1 batches that `sms [training flags]` trains on, for `sms_ref.py bench DIR`.
//	sms bench export --model RUN --dir DIR [--message TEXT]
//	    writes DIR/model.pt (the run's weights, torch.load-able) and DIR/latency.json (the model
//	    configuration and the message's token ids), for `sms_ref.py latency DIR`.
//	sms bench latency --model RUN [--n 3000] [--warmup 300] [--threads 1] [--message TEXT]
//	    loads RUN once and times the single-message predict path (tokenize → ids → tensor →
//	    forward without gradients → softmax → host) n times after warm-up; prints one line
//	    "BENCH {json}" with p50_us, p99_us, mean_us, tokenize_p50_us, tokens and p_spam.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cli.Usagef("bench: want a mode: inputs, export or latency")
	}
	switch args[0] {
	case "inputs":
		return benchInputs(ctx, args[1:], stdout, stderr)
	case "export":
		return benchExport(args[1:], stdout, stderr)
	case "latency":
		return benchLatency(args[1:], stdout, stderr)
	}
	return cli.Usagef("bench: unknown mode %q: want inputs, export or latency", args[0])
}

// benchSpec is spec.json of `sms bench inputs`, read by scripts/sms_ref.py.
type benchSpec struct {
	Model     smsrnn.Config `json:"model"`
	LR        float64       `json:"lr"`
	Optimizer string        `json:"optimizer"`
	Clip      float64       `json:"clip"`
	Steps     int           `json:"steps"`
	Epochs    int           `json:"epochs"`
	Threads   int           `json:"threads"`
	Batch     int           `json:"batch"`
	Bucket    int           `json:"bucket"`
}

// benchInputs writes the initial weights and epoch-1 batches of a training run with the
// given flags: the same data split, vocabulary, seed and batch order as `sms` itself.
func benchInputs(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sms bench inputs", "usage: go run ./train/sms bench inputs [flags]", stderr)
	var o Options
	trainFlags(fs, &o)
	dir := fs.String("dir", "", "folder to write spec.json, init.pt and batches.pt into (required)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return cli.Usagef("bench inputs: --dir is required")
	}
	o.Model.Kind, o.Model.Classes = smsrnn.Kind, 2
	if err := o.validate(); err != nil {
		return err
	}
	// scripts/sms_ref.py's bench mirrors Adam with plain settings only.
	if o.Optimizer != "adam" || o.WeightDecay != 0 || o.ClassWeights != "none" || o.Vectors != "" || o.Model.Subwords != 0 || o.WordDropout != 0 {
		return cli.Usagef("bench inputs: the PyTorch side supports --optimizer adam without --weight-decay, --class-weights, --vectors, --subwords or --word-dropout")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ds, err := loadDataset(&o, nil)
	if err != nil {
		return err
	}
	o.Model.Vocab = int64(ds.vocab.Len())
	torch.ManualSeed(o.Seed)
	model, err := smsrnn.New(o.Model)
	if err != nil {
		return err
	}
	defer model.Close()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("bench inputs: %w", err)
	}
	if err := nn.SaveTorch(filepath.Join(*dir, "init.pt"), model); err != nil {
		return fmt.Errorf("bench inputs: %w", err)
	}
	bopt := o.batchOptions()
	var names []string
	var ts []*torch.Tensor
	defer func() { closeAll(ts) }()
	steps := 0
	err = torch.Try(func() {
		for b := range data.Batches(ds.train, bopt, 1) { // loop.Run's first epoch is 1
			names = append(names, fmt.Sprintf("ids_%03d", steps), fmt.Sprintf("lengths_%03d", steps), fmt.Sprintf("labels_%03d", steps))
			ts = append(ts, torch.FromSlice(b.IDs, int64(b.B), int64(b.T)), torch.FromSlice(b.Lengths), torch.FromSlice(b.Labels))
			steps++
		}
	})
	if err != nil {
		return fmt.Errorf("bench inputs: %w", err)
	}
	if err := torch.SaveDict(filepath.Join(*dir, "batches.pt"), names, ts); err != nil {
		return fmt.Errorf("bench inputs: %w", err)
	}
	sp := benchSpec{Model: o.Model, LR: o.LR, Optimizer: o.Optimizer, Clip: o.Clip, Steps: steps, Epochs: 1,
		Threads: o.Threads, Batch: o.Batch, Bucket: o.Bucket}
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "spec.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench inputs: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d batches, vocabulary %d\n", *dir, steps, ds.vocab.Len())
	return nil
}

// latencySpec is latency.json of `sms bench export`, read by scripts/sms_ref.py.
type latencySpec struct {
	Model   smsrnn.Config `json:"model"`
	Message string        `json:"message"`
	IDs     []int64       `json:"ids"`
	PSpam   float64       `json:"p_spam"` // Go's answer, for the Python side to compare
}

// benchExport writes a run's weights as a torch.save file and the token ids of a message.
func benchExport(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sms bench export", "usage: go run ./train/sms bench export [flags]", stderr)
	modelDir := fs.String("model", "", "run folder written by training (required)")
	dir := fs.String("dir", "", "folder to write model.pt and latency.json into (required)")
	msg := fs.String("message", BenchMessage, "the message")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *modelDir == "" || *dir == "" {
		return cli.Usagef("bench export: --model and --dir are required")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := loadClassifier(*modelDir, "cpu")
	if err != nil {
		return err
	}
	defer c.close()
	p := newPredictor(c)
	prob, err := p.spamProbability(*msg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("bench export: %w", err)
	}
	if err := nn.SaveTorch(filepath.Join(*dir, "model.pt"), c.model); err != nil {
		return fmt.Errorf("bench export: %w", err)
	}
	b, err := json.MarshalIndent(latencySpec{Model: c.model.Config, Message: *msg, IDs: slices.Clone(p.ids), PSpam: prob}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "latency.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench export: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d tokens, p_spam %.6f\n", *dir, len(p.ids), prob)
	return nil
}

// benchLatency times the predictor on one message.
func benchLatency(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sms bench latency", "usage: go run ./train/sms bench latency [flags]", stderr)
	modelDir := fs.String("model", "", "run folder written by training (required)")
	n := fs.Int("n", 3000, "timed predictions")
	warmup := fs.Int("warmup", 300, "untimed predictions first")
	threads := fs.Int("threads", 1, "libtorch threads")
	msg := fs.String("message", BenchMessage, "the message")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *modelDir == "" {
		return cli.Usagef("bench latency: --model is required")
	}
	if *n < 1 || *warmup < 0 || *threads < 1 {
		return cli.Usagef("bench latency: --n and --threads must be positive, --warmup >= 0")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := torch.SetNumThreads(*threads); err != nil {
		return err
	}
	c, err := loadClassifier(*modelDir, "cpu")
	if err != nil {
		return err
	}
	defer c.close()
	p := newPredictor(c)
	var prob float64
	for range *warmup {
		if prob, err = p.spamProbability(*msg); err != nil {
			return err
		}
	}
	times := make([]float64, *n)
	for i := range times {
		t0 := time.Now()
		prob, err = p.spamProbability(*msg)
		times[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
		if err != nil {
			return err
		}
	}
	// The tokenizer alone (part of the times above; the PyTorch side is fed ids).
	tok := make([]float64, min(*n, 1000))
	for i := range tok {
		t0 := time.Now()
		p.encode(*msg)
		tok[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
	}
	var sum float64
	for _, t := range times {
		sum += t
	}
	p50, err50 := metrics.Quantile(times, 0.5)
	p99, err99 := metrics.Quantile(times, 0.99)
	tok50, errTok := metrics.Quantile(tok, 0.5)
	if err := errors.Join(err50, err99, errTok); err != nil {
		return fmt.Errorf("bench latency: %w", err)
	}
	out, err := json.Marshal(map[string]any{"metrics": map[string]float64{
		"p50_us": p50, "p99_us": p99, "mean_us": sum / float64(len(times)),
		"tokenize_p50_us": tok50, "tokens": float64(len(p.ids)), "p_spam": prob,
	}})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "BENCH %s\n", out)
	return err
}
