// Command bench runs seqtorch's side-by-side benchmarks against PyTorch (`make bench`).
//
// Every workload runs as a child process, once in Go (this binary re-executed as
// `bench worker NAME`) and once in Python (scripts/bench_workloads.py, on the PyTorch that
// shares the shim's libtorch), alternating Go, Python, Go, Python for -reps repetitions at
// each thread count. The ddp item runs its multi-process workloads at one libtorch thread per
// process whatever -threads says: an SMS LSTM epoch in 1 and 2 processes (`sms --nproc N`
// against torch DistributedDataParallel in scripts/bench_ddp.py) and all_reduce timings over 2
// Gloo ranks (`bench worker allreduce` against torch.distributed). Children get
// OPENBLAS_NUM_THREADS=1 and set libtorch's intra-op thread count themselves; the parent reads
// each child's peak RSS from getrusage. It prints a Markdown table of medians with Go/Python
// ratios and writes the raw samples to bench.json.
//
// Usage:
//
//	go run ./scripts/bench [-reps 5] [-threads 1,2] [-only lstm-step,ops,batching,sms,siamese,serving,ddp] [-out bench.json]
//	go run ./scripts/bench siamese-inputs -dir DIR   the Siamese item's PyTorch inputs alone
//
// The Python interpreter is modelparity.Python(): $SEQTORCH_PYTHON, else $TORCH_PYTHON, else
// /usr/bin/python3.
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

	"github.com/seqtorch/seqtorch/scripts/modelparity"
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
