// Command lmbench measures a word-level LSTM language-model training loop written the way a
// PyTorch user writes it (PyTorch's examples/word_language_model: embedding, 2-layer LSTM,
// decoder, truncated backpropagation with the hidden state detached and carried between
// batches, gradient clipping, Adam), in two styles:
//
//   - unscoped: no torch.Scope and no runtime.LockOSThread, every tensor left to the garbage
//     collector as Python leaves it to reference counting;
//   - scoped: the same loop with one torch.Scope per step.
//
// Each style runs in a child process of its own (this binary re-executed as `lmbench worker`)
// with the environment the user gave (no OPENBLAS_NUM_THREADS, libtorch's default thread
// count). For each epoch it reports the peak RSS within the epoch (reset through
// /proc/self/clear_refs), the RSS at the epoch's end, the mean step time and the training
// loss; then the ratios the memory target is stated in.
//
// Usage:
//
//	go run ./scripts/lmbench [-steps 3000] [-epochs 4] [-styles unscoped,scoped] [-tied] [-json out.json]
//
// The corpus is synthetic (a seeded Zipf-distributed token stream over a 10,000-word
// vocabulary, the size of Penn Treebank's): the benchmark measures memory and time, not
// perplexity.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "lmbench:", err)
		os.Exit(1)
	}
}

// The model and batch shapes of the benchmark (PyTorch's word_language_model with -emsize 200
// -nhid 200 -nlayers 2 -bptt 35 -batch_size 20 -clip 0.25).
const (
	vocab   = 10000
	emsize  = 200
	nhid    = 200
	nlayers = 2
	bptt    = 35
	batch   = 20
	clip    = 0.25
	dropout = 0.2
)

// epochStats is one epoch of one style, as the worker reports it.
type epochStats struct {
	Style    string  `json:"style"`
	Epoch    int     `json:"epoch"`
	Steps    int     `json:"steps"`
	StepMS   float64 `json:"step_ms"`
	PeakMiB  float64 `json:"peak_mib"` // peak RSS within the epoch
	EndMiB   float64 `json:"end_mib"`  // RSS at the end of the epoch
	Loss     float64 `json:"loss"`     // mean training loss of the epoch
	Live     int64   `json:"live"`     // torch.Live() at the end of the epoch
	GCs      uint32  `json:"gcs"`      // Go collections so far
	CPUMS    float64 `json:"cpu_ms"`   // process CPU time (user+system) per step
	SysMS    float64 `json:"sys_ms"`   // of which system time (page faults, mmap)
	Forced   int64   `json:"forced"`   // collections torch ran for native memory so far
	GCMS     float64 `json:"gc_ms"`    // time spent in them so far
	Threads  int     `json:"threads"`  // torch.NumThreads()
	HalfMiB  float64 `json:"half_mib"` // RSS at the half-way step (last epoch only)
	Complete bool    `json:"complete"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "worker" {
		return runWorker(args[1:], stdout)
	}
	fs := flag.NewFlagSet("lmbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	steps := fs.Int("steps", 3000, "training steps per style")
	epochs := fs.Int("epochs", 4, "epochs the steps are split into")
	styles := fs.String("styles", "unscoped,scoped", "comma-separated styles to run (unscoped, scoped)")
	tied := fs.Bool("tied", false, "tie the decoder's weight to the embedding's (nn.TieWeights)")
	jsonOut := fs.String("json", "", "also write the per-epoch results to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *steps < *epochs || *epochs < 1 {
		return fmt.Errorf("want -epochs >= 1 and -steps >= -epochs, got %d and %d", *epochs, *steps)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	results := map[string][]epochStats{}
	var order []string
	for _, style := range strings.Split(*styles, ",") {
		style = strings.TrimSpace(style)
		if style != "unscoped" && style != "scoped" {
			return fmt.Errorf("-styles: unknown style %q", style)
		}
		cmd := exec.CommandContext(ctx, self, "worker", "-style", style, "-steps", strconv.Itoa(*steps),
			"-epochs", strconv.Itoa(*epochs), "-tied="+strconv.FormatBool(*tied))
		cmd.Stderr = stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%s worker: %w", style, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "EPOCH ")
			if !ok {
				continue
			}
			var e epochStats
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				return fmt.Errorf("%s worker: %w", style, err)
			}
			results[style] = append(results[style], e)
			fmt.Fprintf(stderr, "%-8s epoch %d: %6.1f ms/step (CPU %.0f, sys %.1f), peak %6.1f MiB, end %6.1f MiB, loss %.3f, live %d, GCs %d (%d for native memory, %.0f ms)\n",
				style, e.Epoch, e.StepMS, e.CPUMS, e.SysMS, e.PeakMiB, e.EndMiB, e.Loss, e.Live, e.GCs, e.Forced, e.GCMS)
		}
		if n := len(results[style]); n != *epochs || !results[style][n-1].Complete {
			return fmt.Errorf("%s worker: reported %d of %d epochs", style, n, *epochs)
		}
		order = append(order, style)
	}
	report(stdout, order, results, *steps)
	if *jsonOut != "" {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

// report prints a Markdown table (one row per epoch and style) and the target ratios.
func report(w io.Writer, order []string, results map[string][]epochStats, steps int) {
	fmt.Fprintf(w, "LSTM language model, %d steps: embedding %d, %dx%d LSTM, batch %dx%d, vocab %d, Adam, ClipGradNorm %.2f; libtorch %s, %d threads, BLAS %s\n\n",
		steps, emsize, nlayers, nhid, batch, bptt, vocab, clip, torch.Version(), results[order[0]][0].Threads, torch.BLAS())
	fmt.Fprintln(w, "| style | epoch | step (ms) | peak RSS (MiB) | end RSS (MiB) | loss |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, s := range order {
		for _, e := range results[s] {
			fmt.Fprintf(w, "| %s | %d | %.1f | %.0f | %.0f | %.3f |\n", s, e.Epoch, e.StepMS, e.PeakMiB, e.EndMiB, e.Loss)
		}
	}
	fmt.Fprintln(w)
	summary := func(es []epochStats) (peak, stepMS float64) {
		var n int
		for _, e := range es {
			peak = math.Max(peak, e.PeakMiB)
			stepMS += e.StepMS * float64(e.Steps)
			n += e.Steps
		}
		return peak, stepMS / float64(n)
	}
	for _, s := range order {
		es := results[s]
		peak, ms := summary(es)
		last := es[len(es)-1]
		growth := math.NaN()
		if len(es) >= 2 {
			growth = (es[len(es)-1].PeakMiB/es[1].PeakMiB - 1) * 100
		}
		fmt.Fprintf(w, "%s: peak %.0f MiB, %.1f ms/step; end RSS %.0f MiB vs %.0f MiB half-way (%+.1f%%); peak growth from epoch 2 to %d: %+.1f%%\n",
			s, peak, ms, last.EndMiB, last.HalfMiB, (last.EndMiB/last.HalfMiB-1)*100, len(es), growth)
	}
	if u, ok := results["unscoped"]; ok {
		if sc, ok := results["scoped"]; ok {
			up, ums := summary(u)
			sp, sms := summary(sc)
			fmt.Fprintf(w, "unscoped/scoped: peak RSS %.2fx, step time %.2fx\n", up/sp, ums/sms)
		}
	}
}

// ---- the worker: one style in this process ----

func runWorker(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	style := fs.String("style", "unscoped", "unscoped or scoped")
	steps := fs.Int("steps", 3000, "training steps")
	epochs := fs.Int("epochs", 4, "epochs")
	tied := fs.Bool("tied", false, "tie the decoder's weight to the embedding's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return torch.Try(func() { train(*style == "scoped", *steps, *epochs, *tied, stdout) })
}

// lm is PyTorch's RNNModel from examples/word_language_model (LSTM flavour).
type lm struct {
	nn.Modules
	drop    *nn.Dropout
	encoder *nn.Embedding
	rnn     *nn.RNNBase
	decoder *nn.Linear
}

func newLM(tied bool) *lm {
	m := &lm{
		drop:    nn.NewDropout(dropout),
		encoder: nn.NewEmbedding(vocab, emsize, nn.EmbeddingOptions{}),
		rnn:     nn.NewLSTM(emsize, nhid, nn.RNNOptions{NumLayers: nlayers, Dropout: dropout}),
		decoder: nn.NewLinear(nhid, vocab, nn.LinearOptions{}),
	}
	// init_weights: U(-0.1, 0.1) for the encoder and decoder, zero decoder bias.
	torch.NoGrad(func() {
		m.encoder.Weight.UniformInPlace(-0.1, 0.1)
		m.decoder.Weight.UniformInPlace(-0.1, 0.1)
		m.decoder.Bias.Fill(0)
	})
	if tied {
		nn.TieWeights(&m.decoder.Weight, m.encoder.Weight)
	}
	m.Add("drop", m.drop)
	m.Add("encoder", m.encoder)
	m.Add("rnn", m.rnn)
	m.Add("decoder", m.decoder)
	return m
}

// forward is RNNModel.forward: decoded logits (bptt·batch, vocab) and the new hidden state.
func (m *lm) forward(x *torch.Tensor, hidden nn.State) (*torch.Tensor, nn.State) {
	emb := m.drop.Forward(m.encoder.Forward(x))
	out, hn := m.rnn.Forward(emb, &hidden)
	out = m.drop.Forward(out)
	return m.decoder.Forward(out).View(-1, vocab), hn
}

// corpus returns a seeded synthetic token stream batchified as PyTorch's batchify does:
// (n/batch, batch) int64, each column a contiguous slice of the stream.
func corpus(rows int) *torch.Tensor {
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 1, vocab-1)
	data := make([]int64, rows*batch)
	for i := range data {
		data[i] = int64(z.Uint64())
	}
	return torch.FromSlice(data, int64(batch), int64(rows)).Transpose(0, 1).Contiguous()
}

// train runs the loop and prints one "EPOCH {json}" line per epoch.
func train(scoped bool, steps, epochs int, tied bool, stdout io.Writer) {
	torch.ManualSeed(1111)
	style := "unscoped"
	if scoped {
		style = "scoped"
	}
	const rows = 200*bptt + 1 // 200 distinct batches, then the corpus wraps
	data := corpus(rows)
	model := newLM(tied)
	params := nn.Parameters(model)
	opt, err := optim.NewAdam(params, optim.AdamOptions{})
	if err != nil {
		panic(&torch.Error{Op: "NewAdam", Msg: err.Error()})
	}
	zeros := []int64{nlayers, batch, nhid}
	hidden := nn.State{H: torch.Zeros(zeros), C: torch.Zeros(zeros)}
	model.SetTraining(true)

	perEpoch := steps / epochs
	step := 0
	var half float64
	for epoch := 1; epoch <= epochs; epoch++ {
		n := perEpoch
		if epoch == epochs {
			n = steps - step
		}
		resetPeak()
		var total float64
		u0, s0 := cpuTimes()
		start := time.Now()
		for range n {
			i := int64(step%200) * bptt
			if scoped {
				s := torch.NewScope()
				loss, h := lmStep(model, opt, params, data, i, hidden)
				hidden = h
				total += loss
				s.Close()
			} else {
				loss, h := lmStep(model, opt, params, data, i, hidden)
				hidden = h
				total += loss
			}
			step++
			if step == steps/2 {
				half = rssMiB("VmRSS")
			}
		}
		elapsed := time.Since(start)
		u1, s1 := cpuTimes()
		e := epochStats{
			Style: style, Epoch: epoch, Steps: n,
			StepMS:  float64(elapsed.Microseconds()) / 1000 / float64(n),
			PeakMiB: rssMiB("VmHWM"), EndMiB: rssMiB("VmRSS"),
			CPUMS: float64((u1 + s1 - u0 - s0).Microseconds()) / 1000 / float64(n), SysMS: float64((s1 - s0).Microseconds()) / 1000 / float64(n),
			Loss: total / float64(n), Live: torch.Live(), GCs: numGC(), Threads: torch.NumThreads(),
			Forced: torch.ReadMemStats().Collections, GCMS: float64(torch.ReadMemStats().CollectionTime.Microseconds()) / 1000,
			Complete: epoch == epochs,
		}
		if epoch == epochs {
			e.HalfMiB = half
		}
		b, _ := json.Marshal(e)
		fmt.Fprintf(stdout, "EPOCH %s\n", b)
	}
}

// lmStep is one training step, written as in PyTorch:
//
//	hidden = repackage_hidden(hidden)
//	model.zero_grad()
//	output, hidden = model(data, hidden)
//	loss = criterion(output, targets)
//	loss.backward()
//	torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
//	optimizer.step()
//
// In the scoped style the caller's scope frees every tensor of the step; hidden.Detach takes
// the carried state out of it.
func lmStep(model *lm, opt optim.Optimizer, params []*torch.Tensor, data *torch.Tensor, i int64, hidden nn.State) (float64, nn.State) {
	x := data.Narrow(0, i, bptt)
	y := data.Narrow(0, i+1, bptt).Reshape(-1)
	nn.ZeroGrad(model)
	output, hidden := model.forward(x, hidden)
	loss := nn.CrossEntropyLoss(output, y, nn.CrossEntropyOptions{})
	loss.Backward()
	nn.ClipGradNorm(params, clip)
	opt.Step()
	return loss.Item(), hidden.Detach()
}

// ---- process memory ----

// cpuTimes returns the process's user and system CPU time.
func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// numGC returns the number of completed Go collections.
func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// rssMiB reads a VmRSS-style field of /proc/self/status in MiB (NaN when unavailable).
func rssMiB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return math.NaN()
}

// resetPeak resets the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0).
func resetPeak() {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil && !errors.Is(err, os.ErrPermission) {
		fmt.Fprintln(os.Stderr, "lmbench: cannot reset the peak RSS:", err)
	}
}
