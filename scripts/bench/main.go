// Command bench runs seqtorch's side-by-side benchmarks against PyTorch (`make bench`).
//
// Every workload runs as a child process, once in Go (this binary re-executed as
// `bench worker NAME`) and once in Python (scripts/bench_workloads.py, on the PyTorch that
// shares the shim's libtorch), alternating Go, Python, Go, Python for -reps repetitions at
// each thread count, on the same work (same weights and batches; the mean losses agree). The
// ddp item runs its multi-process workloads at one libtorch thread per process whatever
// -threads says: an SMS LSTM epoch in 1 and 2 processes (`sms --nproc N` against torch
// DistributedDataParallel in scripts/bench_ddp.py) and all_reduce timings over 2 Gloo ranks
// (`bench worker allreduce` against torch.distributed). Children get
// OPENBLAS_NUM_THREADS=1 and set libtorch's intra-op thread count themselves; the parent reads
// each child's peak RSS from getrusage. It prints a Markdown table of medians with Go/Python
// ratios and writes the raw samples to bench.json.
//
// Usage:
//
//	go run ./scripts/bench [-reps 5] [-threads 1,2] [-only lstm-step,ops,batching,sms,siamese,serving,ddp] [-out bench.json]
//	go run ./scripts/bench siamese-inputs -dir DIR   the Siamese item's PyTorch inputs alone
//	go run ./scripts/bench sms-inputs -model RUN -dir DIR      the SMS item's shared weights and batches, from a train/sms run
//	go run ./scripts/bench sms-export -model RUN -dir DIR      a run's model and message for the PyTorch latency script
//	go run ./scripts/bench sms-latency -model RUN [-n N]       single-message predict latency of a run, in Go
//
// The Python interpreter is modelparity.Python(): $SEQTORCH_PYTHON, else $TORCH_PYTHON, else
// /usr/bin/python3. scripts/bench-ops.sh measures per-op overhead alone.
//
// The sections below are the measurements made so far, each with the command that produced
// it; rerun the command to refresh them.
//
// # Measured on libtorch 1.13
//
// `make bench` (threads 1 and 2, 5 runs per side) on a shared 2-core AMD EPYC (Debian libtorch
// 1.13.0 + OpenBLAS, Python 3.11 + torch 1.13, Go 1.26; other jobs may have been running, so
// read ratios, not absolute times). Go/Python ratios at 1 and 2 threads; the target is the
// ratio each item was asked to reach:
//
//	item                                                          Go (1 thr)  Python (1 thr)  Go/Py 1 thr  2 thr  target
//	(a) SMS LSTM training epoch (train split, batch 32, packed)   0.596 s     1.70 s          0.35         0.44   ≤ 0.8
//	(b) Siamese BiLSTM (MaLSTM) epoch, SICK train, batch 64       0.868 s     1.47 s          0.59         0.58   ≤ 0.8
//	(c) single-message predict latency, warm, p50                 204 µs      517 µs          0.39         0.40   ≤ 0.5
//	(c) single-message predict latency, warm, p99                 312 µs      785 µs          0.40         0.44   ≤ 0.5
//	(d) LSTM 300→50 training step, batch 64, length 30, + Adam    7.64 ms     10.85 ms        0.70         0.56   ≤ 0.8
//	(e) peak RSS, SMS training process                            207 MiB     270 MiB         0.77         0.76   ≤ 0.7
//	(e) peak RSS, SMS predict process                             179 MiB     245 MiB         0.73         0.73   ≤ 0.7
//	(e) peak RSS, Siamese training process                        231 MiB     282 MiB         0.82         0.82   ≤ 0.7
//	(e) peak RSS, LSTM step process                               179 MiB     257 MiB         0.70         0.70   ≤ 0.7
//	per-op: add two 1-element tensors                             1116 ns     1157 ns         0.97         0.99
//	per-op: matmul 64×80 · 80×80                                  8437 ns     8360 ns         1.01         1.01
//
// The p99 latencies move by up to a third between runs on this machine (PyTorch's p99 was
// 594 µs in the run before this one, 785 µs here); the Go side's time includes tokenizing the
// message (26 µs at the median, regular expressions), which the PyTorch side is spared (it is
// fed token ids).
//
// The table predates run-time loading of the shim and use-counted tensors (goroutine safety):
// since then the 1-element add costs about 10% more (`go test -bench '^BenchmarkAdd1$'
// ./torch`, interleaved runs of the two versions: median 1213 → 1338 ns); the other items
// moved within noise.
//
// # Measured on libtorch 2.6
//
// `scripts/compat.sh go run ./scripts/bench -reps 3 -threads 1` (inside `make compat`'s Debian
// 13 chroot, other jobs running on the machine; Go/Python ratios): (a) SMS epoch 0.93 (Go
// 1.37 s, Python 1.48 s — PyTorch 2.6 runs this epoch about 4× faster than 1.13 did), (b)
// Siamese epoch 0.47, (c) predict p50 0.37 / p99 0.51, (d) LSTM step 1.03; peak RSS Go/Python
// 0.51–0.68 (Go 176–228 MiB, as on 1.13; Python 260–358 MiB). A bare C++ program that adds two
// tensors peaks at 150 MiB on 2.6 (57 shared libraries) against 154 MiB on 1.13 (287): 2.6's
// floor is barely lower.
//
// # Where the speed comes from
//
// On the CPU an LSTM runs seqtorch's fused kernel (torch/csrc/rnn_cpu.cpp), not libtorch's
// at::lstm: one matrix product for the input projections of all steps, then per step one
// product for the recurrence and one vectorised loop for the gates (built for AVX2 and for
// plain SSE2, the CPU choosing at load time: AVX2 took item (d) from 8.4 to 7.5 ms and an SMS
// epoch from 0.60 to 0.54 s in A/B runs); its backward (a custom autograd Function) is likewise
// one product and one loop per step, with the weight gradients as single products after the
// loop. libtorch instead dispatches about a dozen ops per step forward and twenty-odd autograd
// nodes per step backward, which for hidden sizes of 50–80 costs more than the arithmetic.
// Outputs and gradients agree with PyTorch's to float rounding (parity grid: within 9.6e-7;
// training runs: mean losses equal to 1e-9); nn.RNNOptions{LibtorchKernel: true} runs at::lstm
// instead (bit-identical to PyTorch, e.g. to compare). The Go benchmarks show both (`go test
// -bench LSTM ./torch/nn`: packed forward+backward 3.8 ms fused vs 8.5 ms libtorch; padded 9.0
// vs 11.7 ms, where the 300-wide input projection dominates). GRUs get the same treatment
// (at::gru likewise: LibtorchKernel); the simple RNN cells, and everything on CUDA (cuDNN), use
// libtorch's kernels.
//
// With more than one libtorch thread (--threads N, torch.SetNumThreads), a layer's large
// products — the input projections of all steps, and the input and weight gradients after the
// backward loop — are split by rows into up to N BLAS calls run at once on libtorch's inter-op
// thread pool (BLAS itself is single-threaded, OPENBLAS_NUM_THREADS=1, and the shim is built
// without OpenMP). Only parts of at least 32M multiply-adds are worth it here: item (d)'s
// products (115M) split, taking its step from 9.4 to 7.2 ms at 2 threads (the same library,
// A/B runs), while an SMS epoch's products (mostly 10–30M) stay whole — split at 2M they made
// the epoch 14% slower, the other core being busy with libgomp's workers spinning after
// libtorch's own parallel regions. TestFusedThreads checks one thread against two on products
// that split.
//
// Where the ratio is still near 1, both sides run the same libtorch code: per-op overhead (a
// bare C++ loop over the same libtorch costs 641 ns for the 1-element add, so the floor is
// about 0.55× Python before any cgo transition or Go code runs), and the 300-wide matrix
// products of item (d) (about 5 of its 7.6 ms at 1 thread).
//
// # The generated ATen path
//
// scripts/bench-ops.sh times the hand-written ops against the generated wrappers (boxed
// dispatcher call: one cgo call, arguments converted to the schema's types in the shim) and
// PyTorch, one thread, medians of 3 alternating rounds (shared 2-core machine, load average
// below 1 during the run):
//
//	op                                       hand-written  generated  gen/hand  Python   hand/Python  gen/Python
//	add two 1-element tensors                795 ns        943 ns     1.19      733 ns   1.08         1.29
//	matmul 64×80 · 80×80 (generated: Mm)     6025 ns       5762 ns    0.96      5311 ns  1.13         1.08
//	log_softmax, 64×80                       4163 ns       4343 ns    1.04      4063 ns  1.02         1.07
//
// The generated path is within 1.19× the hand-written one (target 1.3×); the untyped
// torch.Call("aten::add.Tensor", x, y) costs 1013 ns (1.27×: a []any of results, boxed
// arguments). The first version of the generated path was 1.45× on the add: cgo's pointer
// checks on the argument and result cells (Go memory holding C pointers) cost more than the
// rest of the marshalling, so the cells now live in C memory. Reading a new tensor's storage
// size for the memory account (issue 24) costs no call either: the shim writes it into the
// handle's header.
//
// # Peak RSS
//
// Peak RSS (item (e)) is bounded by what libtorch itself costs. A bare C++ program that links
// Debian's libtorch and adds two tensors peaks at 152 MiB: 287 shared libraries (Debian's
// libtorch_cpu needs OpenCV, FFmpeg, GDAL, Qt and more for its Caffe2 operators) of which
// ~94 MiB of pages get touched at load, plus 41 MiB of heap from libtorch's operator
// registrations. Sampling /proc/PID/smaps at the peak of an SMS training run: shared libraries
// 119 MiB, main heap 41 MiB, libtorch's working memory in other malloc arenas 23 MiB, the Go
// heap 11 MiB, the Go binary's mapped pages 11 MiB; PyTorch's script: libraries 136, heap 89
// (Python and libtorch), other anonymous memory 37, executable 5. So ≤ 0.7 would need Go's
// whole working set below ~30 MiB on top of libtorch's floor (≤ 189 MiB); the Go processes also
// read and tokenise the data, validate, test and write reports, which the Python scripts (fed
// prepared batches) do not.
//
// What was Go-side waste is gone: checkpoints stream to and from disk one tensor at a time
// (nn.WriteSafetensors/ReadSafetensors: 6.9 → 1.6 MB of Go memory per SMS-size save, `go test
// -bench Safetensors ./torch/nn`), the Siamese command drops its Go copies of the word vectors
// and the embedding table once the model holds them, SICK pairs keep their own sentences
// rather than whole input lines, evaluation runs at the training batch size, and loading
// garbage is freed before training. Together these took the Siamese process from 315 MiB
// (1.11× Python) to 231 MiB (0.82×) and SMS training from 214 to 207 MiB. Not kept (no gain
// beyond ±10 MiB noise): MALLOC_ARENA_MAX=1 (libtorch's arenas move into the main heap, same
// total), a fixed mmap threshold, GOGC 25–50, locking the main thread.
//
// # Batching
//
// The batching item of `make bench` (alone: `go run ./scripts/bench -only batching`; SMS-like
// lengths, LSTM 300→50, batch 64, one epoch), padded / packed / bucketed / bucketed and packed:
//
//	Go, 1 thread        0.343 s   0.092 s   0.101 s   0.083 s
//	Go, 2 threads       0.247 s   0.100 s   0.099 s   0.080 s
//	PyTorch, 1 thread   0.398 s   0.237 s   0.130 s   0.148 s
//
// With the fused kernel packing no longer costs extra, so train/sms keeps length bucketing
// with packed batches as its CPU default (--bucket 50).
//
// # Serving
//
// `go run ./scripts/bench -only serving -threads 1 -reps 3` (item (f)): the SMS LSTM behind
// `sms serve` against the same weights in PyTorch behind Python's ThreadingHTTPServer
// (scripts/sms_serve_ref.py: one thread per request, keep-alive, the same tokenizer), both
// driven by the Go load generator (train/serve/loadgen) with one-message requests of the SMS
// test split's messages, every answer equal to `sms predict`'s on both sides. Medians of 3
// runs, shared 2-core machine (the load generator runs on it too; single runs vary up to 2x):
//
//	concurrency  Go msg/s  Python msg/s  Go/Python  Go p50 / p99 (ms)  Python p50 / p99 (ms)  p99 Go/Python
//	1            1170      715           1.64       0.77 / 4.6         1.23 / 4.9             0.93
//	8            1791      674           2.66       3.8 / 11.5         10.3 / 39.2            0.29
//	64           2173      602           3.61       23.2 / 82.5        66.3 / 730             0.11
//
// Peak RSS of the serving process: 192 MiB (Go) and 263 MiB (Python).
//
// jitserve (train/jitserve) is measured beside `sms serve` in the same item. It serves the
// same weights, which scripts/sms_jit_export.py turns into a TorchScript module with
// torch.jit.script, and it gets the same messages, loads and label checks, alternating with
// the other two servers. Its answers differed from `sms predict`'s on 0 messages. The table
// below comes from one run of the same command on the shared 2-core machine, with a load
// average near 10 during the run. The numbers are medians of 3; `sms serve`'s numbers from that
// run are shown for comparison. In that run the Python server served 630, 866 and 963 msg/s at
// the three concurrencies:
//
//	concurrency  sms serve msg/s  jitserve msg/s  jitserve/sms serve  sms serve p50 / p99 (ms)  jitserve p50 / p99 (ms)
//	1            1357             824             0.61                0.51 / 4.5                0.89 / 5.0
//	8            2226             2542            1.14                3.0 / 10.8                2.8 / 7.4
//	64           3730             4086            1.10                10.5 / 169                13.6 / 102
//
// Peak RSS was 200 MiB for jitserve and 197 MiB for `sms serve`. With one message per forward
// pass (concurrency 1), TorchScript's per-call interpreter cost shows. At concurrency 8 and 64,
// micro-batching spreads that cost over the batch, and the two servers are within this
// machine's run-to-run noise.
//
// # Data parallelism
//
// `go run ./scripts/bench -only ddp -reps 3 -threads 1` (1 libtorch thread per process, on a
// 2-core machine with other jobs running — rough numbers): one SMS LSTM epoch takes Go 1.49 s
// in one process and 2.22 s in two (global batch 32, 16 each): scaling efficiency t1/(2·t2) =
// 0.34, i.e. slower than one process here, where two trainers and Gloo's threads share two
// cores and every step pays an all-reduce of the 1.5 MB of gradients and a 1-element
// stop-agreement all-reduce (~0.5 ms each on this machine). PyTorch: 6.83 s → 2.23 s (its
// packed LSTM backward at batch 32 costs more than twice its cost at 16, so its "efficiency"
// of 1.53 is that, not free parallelism). Gloo all-reduce of 2 ranks, Go against PyTorch (the
// same Gloo): 0.91–1.08× the time at 1 KiB–16 MiB except 0.72× at 1 MiB; ~0.55 ms per call up
// to 16 KiB, 850–950 MB/s from 1 MiB. Data parallelism pays where there are spare cores or
// GPUs.
//
// # GPU check
//
// No CUDA numbers yet (no GPU has been lent to this project's sessions so far).
// `scripts/gpu-check.sh prepare` builds test and command binaries and packs the data into the
// git-ignored gpu-carry/; `scripts/gpu-check.sh run`, on a GPU machine with PyTorch and g++ but
// no Go, rebuilds the shim with `TORCH_PYTHON=python3 make libtorch`, runs the test binaries,
// the parity suite with its RNN grid on CUDA, a TorchScript classifier loaded with
// jit.Load(path, torch.CUDA(0)) against PyTorch's logits (1e-4; `scripts/gpu-check.sh jit`
// runs this step alone), a world-size-1 NCCL group, and both trainings beside the PyTorch
// scripts. The whole flow was rehearsed on a CPU machine with GPU_CHECK_DEVICE=cpu. The
// TorchScript step was rehearsed only through `scripts/gpu-check.sh jit`, and its CUDA run has
// not been tried.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/seqtorch/seqtorch/scripts/internal/modelparity"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is the parsed command line.
type config struct {
	reps    int
	threads []int
	only    map[string]bool
	out     string
	python  string
	seqs    int
}

func (c *config) want(name string) bool { return len(c.only) == 0 || c.only[name] }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "worker" {
		return runWorker(args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "siamese-inputs" {
		return runSiameseInputs(args[1:], stdout, stderr)
	}
	if len(args) > 0 && smsCommands[args[0]] != nil {
		return smsCommands[args[0]](args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reps := fs.Int("reps", 5, "repetitions per side and thread count (median reported)")
	threads := fs.String("threads", "1,2", "comma-separated libtorch thread counts")
	only := fs.String("only", "", "comma-separated items to run (lstm-step, ops, batching, sms, siamese, serving, ddp); empty: all")
	out := fs.String("out", "bench.json", "where to write the raw results")
	seqs := fs.Int("batching-seqs", 1024, "sequences in the batching workload's epoch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := config{reps: *reps, out: *out, seqs: *seqs, only: map[string]bool{}}
	if cfg.reps < 1 {
		return fmt.Errorf("-reps must be at least 1, got %d", cfg.reps)
	}
	for _, s := range strings.Split(*threads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-threads: %q is not a positive integer", s)
		}
		cfg.threads = append(cfg.threads, n)
	}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if !knownItem(s) {
				return fmt.Errorf("-only: unknown item %q", s)
			}
			cfg.only[s] = true
		}
	}
	cfg.python = modelparity.Python()
	if _, err := os.Stat("scripts/bench_workloads.py"); err != nil {
		return errors.New("run from the repository root (scripts/bench_workloads.py not found)")
	}
	return benchAll(ctx, cfg, stdout, stderr)
}
