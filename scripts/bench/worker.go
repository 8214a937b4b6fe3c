package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// A worker is one measured workload run in a child process; it returns named metrics. The
// Python side (scripts/bench_workloads.py) implements the same workloads under the same names.
type worker func(threads int, specPath string) (map[string]float64, error)

var workers = map[string]worker{
	"lstm-step": lstmStepWorker,
	"ops":       opsWorker,
	"batching":  batchingWorker,
}

// runWorker is the child-process side of the benchmark: `bench worker NAME -threads N [-spec F]`.
// It prints one line "BENCH {json}" with the metrics on stdout.
func runWorker(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("worker: missing workload name")
	}
	name := args[0]
	w, ok := workers[name]
	if !ok {
		return fmt.Errorf("worker: unknown workload %q", name)
	}
	fs := flag.NewFlagSet("worker "+name, flag.ContinueOnError)
	threads := fs.Int("threads", 1, "libtorch intra-op threads")
	spec := fs.String("spec", "", "workload spec file (JSON) written by the parent")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	// libtorch's grad mode is per OS thread: keep all libtorch work on this one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := torch.SetNumThreads(*threads); err != nil {
		return fmt.Errorf("worker %s: %w", name, err)
	}
	var metrics map[string]float64
	err := torch.Try(func() {
		var werr error
		metrics, werr = w(*threads, *spec)
		if werr != nil {
			panic(&torch.Error{Op: name, Msg: werr.Error()})
		}
	})
	if err != nil {
		return fmt.Errorf("worker %s: %w", name, err)
	}
	b, err := json.Marshal(map[string]any{"metrics": metrics, "live_tensors": torch.Live()})
	if err != nil {
		return fmt.Errorf("worker %s: %w", name, err)
	}
	_, err = fmt.Fprintf(stdout, "BENCH %s\n", b)
	return err
}

// ---- (d) one LSTM training step ----

// Sizes of the LSTM training step (item d), the same in bench_workloads.py.
const (
	stepBatch, stepSeq, stepIn, stepHidden = 64, 30, 300, 50
	stepWarmup, stepTimed                  = 5, 40
)

// lstmStepWorker times one training step of LSTM(300→50, batch_first) + Linear(50→1) on the
// last hidden state + MSE + Adam, on a fixed random batch (64×30×300).
func lstmStepWorker(threads int, _ string) (map[string]float64, error) {
	torch.ManualSeed(0)
	m, err := newSeqModel(stepIn, stepHidden)
	if err != nil {
		return nil, err
	}
	defer m.close()
	opt, err := optim.NewAdam(m.params(), optim.AdamOptions{LR: new(1e-3)})
	if err != nil {
		return nil, fmt.Errorf("lstm-step: %w", err)
	}
	defer opt.Close()
	x := torch.Randn([]int64{stepBatch, stepSeq, stepIn})
	y := torch.Randn([]int64{stepBatch, 1})
	defer x.Close()
	defer y.Close()

	step := func() *torch.Tensor {
		opt.ZeroGrad()
		_, h := m.padded(x)
		loss := torch.MSELoss(m.head.Forward(h), y, torch.ReductionMean)
		loss.Backward()
		opt.Step()
		return loss
	}
	var first, last float64
	times := make([]float64, 0, stepTimed)
	for i := range stepWarmup + stepTimed {
		s := torch.NewScope()
		t0 := time.Now()
		loss := step()
		el := time.Since(t0)
		if i == 0 {
			first = loss.Item()
		}
		if i == stepWarmup+stepTimed-1 {
			last = loss.Item()
		}
		s.Close()
		if i >= stepWarmup {
			times = append(times, float64(el.Nanoseconds())/1e6)
		}
	}
	return map[string]float64{
		"step_ms":    median(times),
		"loss_first": first,
		"loss_last":  last,
	}, nil
}

// ---- per-op overhead (the loops of scripts/bench_ops.py) ----

// opsBench mirrors bench() in scripts/bench_ops.py: the median over 5 runs of n calls, in ns.
func opsBench(f func(), n int) float64 {
	times := make([]float64, 5)
	for r := range times {
		t0 := time.Now()
		for range n {
			f()
		}
		times[r] = float64(time.Since(t0).Nanoseconds()) / float64(n)
	}
	return median(times)
}

// Loop counts of the per-op workload, the same in bench_workloads.py (smaller than
// bench-ops.sh's so that both thread counts fit the time budget).
const opsAddN, opsMatmulN = 50000, 5000

// opsWorker measures per-op overhead: a 1-element add (result freed at once, as Python's
// refcount does) and a 64×80 · 80×80 matmul.
func opsWorker(threads int, _ string) (map[string]float64, error) {
	x1, y1 := torch.FromSlice([]float32{1}), torch.FromSlice([]float32{2})
	defer x1.Close()
	defer y1.Close()
	torch.ManualSeed(0)
	a, b := torch.Randn([]int64{64, 80}), torch.Randn([]int64{80, 80})
	defer a.Close()
	defer b.Close()
	return map[string]float64{
		"add1_ns":        opsBench(func() { x1.Add(y1).Close() }, opsAddN),
		"matmul64x80_ns": opsBench(func() { a.Matmul(b).Close() }, opsMatmulN),
	}, nil
}

// ---- padded vs packed vs length-bucketed batches ----

// batchingSpec is the shared description of the batching workload, written by the parent
// and read by both the Go and the Python worker, so both do identical work.
type batchingSpec struct {
	Vocab   int64              `json:"vocab"`
	Embed   int64              `json:"embed"`
	Hidden  int64              `json:"hidden"`
	Lengths []int64            `json:"lengths"`
	Batches map[string][][]int `json:"batches"` // "random", "bucketed": lists of sequence indices
	Modes   []batchingMode     `json:"modes"`
}

// batchingMode is one way of batching an epoch: which batch order and whether the LSTM runs
// on the padded batch or on a PackedSequence.
type batchingMode struct {
	Name    string `json:"name"`
	Batches string `json:"batches"`
	Packed  bool   `json:"packed"`
}

// tokenID is the synthetic token at position t of sequence i (never the padding id 0).
func tokenID(i, t int, vocab int64) int64 { return int64(i*31+t*17)%(vocab-1) + 1 }

// preparedBatch holds the tensors of one batch, built before timing starts.
type preparedBatch struct {
	ids     *torch.Tensor // (B, Tmax) int64, padded with 0
	lengths []int64
	gather  *torch.Tensor // (B, 1, H) int64: index of each sequence's last step
	labels  *torch.Tensor // (B, 1) float32
}

func prepareBatch(spec *batchingSpec, idx []int) preparedBatch {
	var tmax int64
	for _, i := range idx {
		tmax = max(tmax, spec.Lengths[i])
	}
	b := int64(len(idx))
	ids := make([]int64, b*tmax)
	gather := make([]int64, 0, b*spec.Hidden)
	labels := make([]float32, b)
	lengths := make([]int64, b)
	for r, i := range idx {
		l := spec.Lengths[i]
		lengths[r] = l
		for t := range int(l) {
			ids[int64(r)*tmax+int64(t)] = tokenID(i, t, spec.Vocab)
		}
		for range spec.Hidden {
			gather = append(gather, l-1)
		}
		if l > 20 {
			labels[r] = 1
		}
	}
	return preparedBatch{
		ids:     torch.FromSlice(ids, b, tmax),
		lengths: lengths,
		gather:  torch.FromSlice(gather, b, 1, spec.Hidden),
		labels:  torch.FromSlice(labels, b, 1),
	}
}

// batchingWorker trains one epoch per batching mode: frozen Embedding(vocab, 300) → LSTM(300→50,
// batch_first) → Linear(50→1) on each sequence's last valid output → BCE with logits → Adam.
// Padded modes run the LSTM over the padded batch and gather the output at length−1; packed
// modes pack (enforce_sorted=False) and use h_n. It reports seconds per epoch for each mode.
func batchingWorker(threads int, specPath string) (map[string]float64, error) {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("batching: %w", err)
	}
	var spec batchingSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("batching: spec %s: %w", specPath, err)
	}
	torch.ManualSeed(0)
	emb := torch.Randn([]int64{spec.Vocab, spec.Embed})
	defer emb.Close()
	prepared := map[string][]preparedBatch{}
	for name, batches := range spec.Batches {
		for _, idx := range batches {
			prepared[name] = append(prepared[name], prepareBatch(&spec, idx))
		}
	}
	defer func() {
		for _, bs := range prepared {
			for _, b := range bs {
				b.ids.Close()
				b.gather.Close()
				b.labels.Close()
			}
		}
	}()
	out := map[string]float64{}
	for _, mode := range spec.Modes {
		batches, ok := prepared[mode.Batches]
		if !ok {
			return nil, fmt.Errorf("batching: mode %s: no batches named %q", mode.Name, mode.Batches)
		}
		secs, loss, err := batchingEpoch(&spec, emb, batches, mode.Packed)
		if err != nil {
			return nil, fmt.Errorf("batching: mode %s: %w", mode.Name, err)
		}
		out[mode.Name+"_s"] = secs
		out[mode.Name+"_loss"] = loss
	}
	return out, nil
}

// batchingEpoch builds a fresh model and optimizer, runs two untimed warm-up steps, then times
// one epoch over batches. It returns the epoch's seconds and its mean loss.
func batchingEpoch(spec *batchingSpec, emb *torch.Tensor, batches []preparedBatch, packed bool) (float64, float64, error) {
	torch.ManualSeed(1)
	m, err := newSeqModel(spec.Embed, spec.Hidden)
	if err != nil {
		return 0, 0, err
	}
	defer m.close()
	opt, err := optim.NewAdam(m.params(), optim.AdamOptions{LR: new(1e-3)})
	if err != nil {
		return 0, 0, err
	}
	defer opt.Close()
	step := func(b preparedBatch) (*torch.Tensor, error) {
		opt.ZeroGrad()
		x := torch.Embedding(emb, b.ids, -1)
		var h *torch.Tensor
		if packed {
			p := nn.PackPaddedSequence(x, b.lengths, nn.PackPaddedOptions{BatchFirst: true, NoEnforceSorted: true})
			h = m.packed(p)
		} else {
			out, _ := m.padded(x)
			h = out.Gather(1, b.gather).SqueezeDim(1)
		}
		loss := torch.BCEWithLogits(m.head.Forward(h), b.labels, nil, nil, torch.ReductionMean)
		loss.Backward()
		opt.Step()
		return loss, nil
	}
	for _, b := range batches[:min(2, len(batches))] {
		s := torch.NewScope()
		_, err := step(b)
		s.Close()
		if err != nil {
			return 0, 0, err
		}
	}
	// Losses stay on the device until the epoch ends (no host sync per batch).
	losses := torch.NewScope()
	defer losses.Close()
	var kept []*torch.Tensor
	t0 := time.Now()
	for _, b := range batches {
		s := torch.NewScope()
		loss, err := step(b)
		if err != nil {
			s.Close()
			return 0, 0, err
		}
		d := loss.Detach()
		s.Keep(d)
		s.Close()
		kept = append(kept, d)
	}
	total := torch.Stack(kept, 0).Mean().Item()
	secs := time.Since(t0).Seconds()
	for _, k := range kept {
		k.Close()
	}
	return secs, total, nil
}

// ---- the model shared by the workloads ----

// seqModel is nn.LSTM(in→hidden, batch_first) + nn.Linear(hidden→1) on the last hidden state,
// registered in the same order as SeqModel in bench_workloads.py, so a seed gives both sides
// the same initial weights.
type seqModel struct {
	lstm *nn.RNNBase
	head *nn.Linear
}

func newSeqModel(in, hidden int64) (m *seqModel, err error) {
	if err := torch.Try(func() {
		m = &seqModel{lstm: nn.NewLSTM(in, hidden, nn.RNNOptions{BatchFirst: true}), head: nn.NewLinear(hidden, 1, nn.LinearOptions{})}
	}); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}

func (m *seqModel) params() []*torch.Tensor {
	return append(nn.Trainable(m.lstm), nn.Trainable(m.head)...)
}

func (m *seqModel) close() {
	nn.Close(m.lstm)
	nn.Close(m.head)
}

// padded runs the LSTM over x (B, T, in) and returns its output (B, T, H) and the last layer's
// final hidden state (B, H). Errors (programming errors here) panic as *torch.Error.
func (m *seqModel) padded(x *torch.Tensor) (out, h *torch.Tensor) {
	out, hn := m.lstm.Forward(x, nil)
	return out, hn.H.SqueezeDim(0)
}

// packed runs the LSTM over p and returns the final hidden state (B, H) in the caller's batch
// order.
func (m *seqModel) packed(p nn.PackedSequence) *torch.Tensor {
	_, hn := m.lstm.ForwardPacked(p, nil)
	return hn.H.SqueezeDim(0)
}
