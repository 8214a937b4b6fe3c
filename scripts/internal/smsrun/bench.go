package smsrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/train/metrics"
)

// BenchMessage is the message that Export and Latency take by default: a spam message of the
// SMS Spam Collection, 29 tokens with the default tokenizer (a typical length).
const BenchMessage = "WINNER!! As a valued network customer you have been selected to receivea £900 prize reward! " +
	"To claim call 09061701461. Claim code KL341. Valid 12 hours only."

// InputsSpec is spec.json of WriteInputs, read by scripts/sms_ref.py (bench) and
// scripts/bench_ddp.py (epoch).
type InputsSpec struct {
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

// WriteInputs writes dir/spec.json, dir/init.pt and dir/batches.pt: the initial weights of the
// run and the batches of its first epoch (the same split, vocabulary, seed and batch order as
// its training), for `sms_ref.py bench DIR`. The PyTorch side mirrors Adam with plain settings
// only: runs with another optimizer, weight decay, class weights, vectors, subwords or word
// dropout are refused.
func WriteInputs(r *Run, dir string) (InputsSpec, error) {
	o := r.Config.Options
	if o.Optimizer != "adam" || o.WeightDecay != 0 || (o.ClassWeights != "none" && o.ClassWeights != "") || o.Vectors != "" ||
		r.Config.Model.Subwords != 0 || o.WordDropout != 0 {
		return InputsSpec{}, fmt.Errorf("run folder %s: the PyTorch side supports --optimizer adam without --weight-decay, --class-weights, --vectors, --subwords or --word-dropout", r.Dir)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ex, err := r.TrainExamples()
	if err != nil {
		return InputsSpec{}, err
	}
	model, err := r.NewModel()
	if err != nil {
		return InputsSpec{}, err
	}
	defer model.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return InputsSpec{}, err
	}
	if err := nn.SaveTorch(filepath.Join(dir, "init.pt"), model); err != nil {
		return InputsSpec{}, err
	}
	var names []string
	var ts []*torch.Tensor
	defer func() {
		for _, t := range ts {
			t.Close()
		}
	}()
	steps := 0
	err = torch.Try(func() {
		for b := range data.Batches(ex, r.BatchOptions(), 1) { // loop.Run's first epoch is 1
			names = append(names, fmt.Sprintf("ids_%03d", steps), fmt.Sprintf("lengths_%03d", steps), fmt.Sprintf("labels_%03d", steps))
			ts = append(ts, torch.FromSlice(b.IDs, int64(b.B), int64(b.T)), torch.FromSlice(b.Lengths), torch.FromSlice(b.Labels))
			steps++
		}
	})
	if err != nil {
		return InputsSpec{}, err
	}
	if err := torch.SaveDict(filepath.Join(dir, "batches.pt"), names, ts); err != nil {
		return InputsSpec{}, err
	}
	sp := InputsSpec{Model: r.Config.Model, LR: o.LR, Optimizer: o.Optimizer, Clip: o.Clip, Steps: steps, Epochs: 1,
		Threads: o.Threads, Batch: o.Batch, Bucket: o.Bucket}
	return sp, writeJSON(filepath.Join(dir, "spec.json"), sp)
}

// LatencySpec is latency.json of Export, read by scripts/sms_ref.py (latency).
type LatencySpec struct {
	Model   smsrnn.Config `json:"model"`
	Message string        `json:"message"`
	IDs     []int64       `json:"ids"`
	PSpam   float64       `json:"p_spam"` // Go's answer, for the Python side to compare
}

// Export writes dir/model.pt (the run's trained weights, torch.load-able, PyTorch names) and
// dir/latency.json (the model configuration, msg's token ids and Go's P(spam)), for
// `sms_ref.py latency DIR`, scripts/sms_serve_ref.py and scripts/sms_jit_export.py.
func Export(r *Run, dir, msg string) (LatencySpec, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	model, err := r.LoadModel()
	if err != nil {
		return LatencySpec{}, err
	}
	defer model.Close()
	p := r.NewPredictor(model)
	prob, err := p.SpamProbability(msg)
	if err != nil {
		return LatencySpec{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return LatencySpec{}, err
	}
	if err := nn.SaveTorch(filepath.Join(dir, "model.pt"), model); err != nil {
		return LatencySpec{}, err
	}
	ls := LatencySpec{Model: model.Config, Message: msg, IDs: slices.Clone(p.IDs()), PSpam: prob}
	return ls, writeJSON(filepath.Join(dir, "latency.json"), ls)
}

// LatencyOptions are Latency's settings.
type LatencyOptions struct {
	N       int    // timed predictions
	Warmup  int    // untimed predictions first
	Message string // the message
}

// Latency loads the run's model once and times the single-message predict path (tokenize →
// ids → tensor → forward without gradients → softmax → host) o.N times after o.Warmup
// untimed calls, on the CPU with the calling thread's libtorch thread count. It returns p50_us,
// p99_us, mean_us, tokenize_p50_us (the tokenizer alone, part of the times), tokens and p_spam.
func Latency(r *Run, o LatencyOptions) (map[string]float64, error) {
	if o.N < 1 || o.Warmup < 0 {
		return nil, fmt.Errorf("latency: want N >= 1 and Warmup >= 0, got %d and %d", o.N, o.Warmup)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	model, err := r.LoadModel()
	if err != nil {
		return nil, err
	}
	defer model.Close()
	p := r.NewPredictor(model)
	var prob float64
	for range o.Warmup {
		if prob, err = p.SpamProbability(o.Message); err != nil {
			return nil, err
		}
	}
	times := make([]float64, o.N)
	for i := range times {
		t0 := time.Now()
		prob, err = p.SpamProbability(o.Message)
		times[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
		if err != nil {
			return nil, err
		}
	}
	// The tokenizer alone (part of the times above; the PyTorch side is fed ids).
	tok := make([]float64, min(o.N, 1000))
	for i := range tok {
		t0 := time.Now()
		p.Encode(o.Message)
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
		return nil, fmt.Errorf("latency: %w", err)
	}
	return map[string]float64{"p50_us": p50, "p99_us": p99, "mean_us": sum / float64(len(times)),
		"tokenize_p50_us": tok50, "tokens": float64(len(p.IDs())), "p_spam": prob}, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
