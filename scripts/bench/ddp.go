package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/train/cli"
)

// The all-reduce workload, the same constants in scripts/bench_ddp.py: float32 tensors of
// these sizes (bytes); per size ddpWarmup untimed calls, ddpCalibrate timed together from
// which rank 0 picks the count (at least ddpMinIters, about ddpMinSeconds, at most
// ddpMaxIters), then that many calls timed one by one.
var ddpSizes = []int64{1 << 10, 16 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20}

const (
	ddpWarmup, ddpCalibrate, ddpMinIters, ddpMaxIters = 5, 10, 20, 5000
	ddpMinSeconds                                     = 0.5
	ddpRanks                                          = 2 // processes of the data-parallel runs
	ddpRankTimeout                                    = 2 * time.Minute
)

func init() { workers["allreduce"] = allReduceWorker }

// allReduceWorker is `bench worker allreduce`, one rank of the all-reduce workload, started
// by [bench.launchRanks] with RANK, WORLD_SIZE and SEQTORCH_STORE_FILE set. It joins the group
// as the training commands do (distributed.ReadEnv, distributed.Init: Gloo over loopback) and
// returns, per size in bytes, us_<bytes> (the median time of one all_reduce(sum), µs),
// mean_us_<bytes> and iters_<bytes>. Every rank returns its own; the parent reads rank 0's.
func allReduceWorker(_ int, _ string) (map[string]float64, error) {
	if !distributed.Available() {
		return nil, errors.New("allreduce: this libtorch has no c10d with Gloo")
	}
	env, ok, err := distributed.ReadEnv(nil)
	if err != nil {
		return nil, fmt.Errorf("allreduce: %w", err)
	}
	if !ok || env.WorldSize < 2 {
		return nil, errors.New("allreduce: run as one of several ranks (RANK and WORLD_SIZE are unset; `make bench` launches them)")
	}
	g, err := distributed.Init(env, distributed.InitOptions{})
	if err != nil {
		return nil, fmt.Errorf("allreduce: rank %d of %d: %w", env.Rank, env.WorldSize, err)
	}
	defer g.Close()
	m := map[string]float64{"world_size": float64(env.WorldSize)}
	for _, size := range ddpSizes {
		times, err := timeAllReduce(g, size)
		if err != nil {
			return nil, fmt.Errorf("allreduce: %d bytes: %w", size, err)
		}
		mean := 0.0
		for _, t := range times {
			mean += t
		}
		m[fmt.Sprintf("us_%d", size)] = median(times)
		m[fmt.Sprintf("mean_us_%d", size)] = mean / float64(len(times))
		m[fmt.Sprintf("iters_%d", size)] = float64(len(times))
	}
	if err := g.Barrier(); err != nil {
		return nil, fmt.Errorf("allreduce: final barrier: %w", err)
	}
	return m, nil
}

// timeAllReduce returns the times (µs) of the timed all-reduces of a float32 tensor of size
// bytes; every rank runs as many, the count chosen by rank 0 (see ddpSizes).
func timeAllReduce(g *distributed.ProcessGroup, size int64) ([]float64, error) {
	t := torch.Zeros([]int64{size / 4}) // zeros: the sums stay 0, never inf or denormal
	defer t.Close()
	call := func() error { return g.AllReduce(t, distributed.Sum) }
	for range ddpWarmup {
		if err := call(); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	for range ddpCalibrate {
		if err := call(); err != nil {
			return nil, err
		}
	}
	per := time.Since(t0).Seconds() / ddpCalibrate
	iters := min(max(ddpMinIters, int(ddpMinSeconds/max(per, 1e-9))+1), ddpMaxIters)
	n := torch.FromSlice([]int64{int64(iters)})
	defer n.Close()
	if err := g.Broadcast(n, 0); err != nil {
		return nil, fmt.Errorf("broadcasting the iteration count: %w", err)
	}
	times := make([]float64, n.Int64s()[0])
	for i := range times {
		s := time.Now()
		if err := call(); err != nil {
			return nil, err
		}
		times[i] = float64(time.Since(s).Nanoseconds()) / 1e3
	}
	return times, nil
}

// launchRanks runs exe with args as n ranks through train/cli's launcher (the one behind the
// training commands' --nproc: RANK, WORLD_SIZE, a fresh SEQTORCH_STORE_FILE, ...) and returns
// rank 0's "BENCH {json}" report.
func (b *bench) launchRanks(ctx context.Context, n int, exe string, args []string) (sample, error) {
	var out, errb bytes.Buffer
	t0 := time.Now()
	err := cli.Launch(ctx, cli.LaunchOptions{NProc: n, Exe: exe, Args: args, Env: b.jobEnv(1),
		Stdout: &out, Stderr: &errb, Timeout: ddpRankTimeout, Name: "bench ddp"})
	s := sample{WallS: time.Since(t0).Seconds()}
	what := fmt.Sprintf("%s %s (%d ranks)", filepath.Base(exe), strings.Join(args, " "), n)
	if err != nil {
		return s, fmt.Errorf("%s: %w\n%s", what, err, tail(errb.String(), 2000))
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "BENCH "); ok {
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				return s, fmt.Errorf("%s: bad BENCH line: %w", what, err)
			}
			return s, nil
		}
	}
	return s, fmt.Errorf("%s: no BENCH line from rank 0\n%s", what, tail(out.String()+errb.String(), 2000))
}

// soloEnv is jobEnv(1) without the launch variables: a process that is not a rank.
func (b *bench) soloEnv() []string {
	return slices.DeleteFunc(b.jobEnv(1), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(distributed.EnvVars, name)
	})
}

var ddpEpochItems = []string{
	"ddp: SMS LSTM training epoch (a), 1 process, batch 32",
	"ddp: SMS LSTM training epoch (a), 2 processes, batch 16 each (global 32)",
	"ddp: scaling efficiency t1/(2·t2), 2 processes",
}

func ddpAllReduceItem(size int64, what string) string {
	return fmt.Sprintf("ddp: all_reduce sum, 2 ranks, %s float32, %s", fmtBytes(size), what)
}

// fmtBytes writes a power-of-two size as KiB or MiB.
func fmtBytes(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// ddpItems lists every row of the item, for the rows that say why nothing was measured.
func ddpItems() []string {
	items := slices.Clone(ddpEpochItems)
	for _, size := range ddpSizes {
		items = append(items, ddpAllReduceItem(size, "time per call"), ddpAllReduceItem(size, "algbw"))
	}
	return items
}

// ddp measures data-parallel training, with one libtorch thread per process:
//
// The SMS LSTM training epoch of item (a) (train/sms's defaults with --cell lstm, global batch
// 32) in 1 and in 2 processes. Go: the real command, `sms --epochs 1 --cell lstm --device cpu
// --threads 1 --nproc N` (its train_seconds: the training steps of epoch 1 on rank 0, without
// validation; at N=2 each process takes 16 examples per step, DistributedDataParallel through
// c10d's Reducer). Python: `bench_ddp.py epoch DIR` on what `bench sms-inputs` (this binary)
// writes from the first 1-process Go run (its initial weights and epoch-1 batches of 32):
// alone, sms_ref.py's bench; as 2 ranks (launched here, Gloo through a FileStore), torch
// DistributedDataParallel, each rank training on its 16 rows of every batch of 32, as many
// steps as Go's.
//
// All-reduce: 2 ranks, float32 tensors of ddpSizes, the median time of one all_reduce(sum)
// and the algorithm bandwidth (bytes / time). Go: `bench worker allreduce` (this binary,
// torch/distributed); Python: `bench_ddp.py allreduce` (torch.distributed, gloo).
//
// Without c10d in the shim's libtorch, every row says so; without torch.distributed in the
// Python, the Go side is measured alone and a row says why Python is not.
func (b *bench) ddp(ctx context.Context) []row {
	items := ddpItems()
	none := make([]string, len(items))
	if !distributed.Available() {
		return notMeasured("this libtorch has no c10d with Gloo (distributed.Available() is false)", items, none)
	}
	for _, f := range []string{"scripts/sms_ref.py", "scripts/bench_ddp.py", "train/sms"} {
		if _, err := os.Stat(f); err != nil {
			return notMeasured(f+" does not exist", items, none)
		}
	}
	var extra []row // the row saying why Python is not measured
	py := true
	if _, err := runChild(ctx, []string{b.cfg.python, "scripts/bench_ddp.py", "check"}, b.soloEnv()); err != nil {
		py = false
		extra = notMeasured("Python: torch.distributed with Gloo is unavailable: "+firstLine(err.Error()),
			[]string{"ddp: PyTorch side"}, []string{""})
	}
	bin, err := b.buildCommand(ctx, "train/sms")
	if err != nil {
		return notMeasured(err.Error(), items, none)
	}
	in := filepath.Join(b.tmp, "ddp-sms-inputs")
	inputs := !py // whether the Python side's inputs are written (or not needed)
	goEpoch := func(nproc, rep int) (sample, error) {
		run := filepath.Join(b.tmp, fmt.Sprintf("ddp-run-%d-%d", nproc, rep))
		defer os.RemoveAll(run)
		argv := append([]string{bin, "--epochs", "1", "--threads", "1", "--nproc", fmt.Sprint(nproc), "--out", run}, smsTrainFlags...)
		s, err := runChild(ctx, argv, b.soloEnv())
		if err != nil && !strings.Contains(err.Error(), "no BENCH line") {
			return s, fmt.Errorf("Go sms --nproc %d: %w", nproc, err)
		}
		rec, err := firstEpoch(run)
		if err != nil {
			return s, fmt.Errorf("Go sms --nproc %d: %w", nproc, err)
		}
		s.Metrics = map[string]float64{"epoch_s": rec["train_seconds"], "steps": rec["steps"], "loss_mean": rec["train_loss"]}
		if !inputs && nproc == 1 {
			if err := b.smsInputs(ctx, "ddp", run, in, b.soloEnv()); err != nil {
				return s, err
			}
			inputs = true
		}
		return s, nil
	}
	pyEpoch := func(nproc int) (sample, error) {
		args := []string{"scripts/bench_ddp.py", "epoch", in, "--threads", "1"}
		if nproc == 1 {
			return runChild(ctx, append([]string{b.cfg.python}, args...), b.soloEnv())
		}
		return b.launchRanks(ctx, nproc, b.cfg.python, args)
	}

	var goE, pyE [2][]sample // [0]: 1 process, [1]: 2 processes
	var goAR, pyAR []sample
	for i := range b.cfg.reps {
		for k, nproc := range []int{1, ddpRanks} {
			g, err := goEpoch(nproc, i)
			if err != nil {
				return append(extra, notMeasured(err.Error(), items, none)...)
			}
			goE[k] = append(goE[k], g)
			msg := fmt.Sprintf("bench: ddp epoch nproc=%d rep %d/%d: go %s", nproc, i+1, b.cfg.reps, briefEpoch(g))
			if py {
				p, err := pyEpoch(nproc)
				if err != nil {
					return append(extra, notMeasured("Python: "+err.Error(), items, none)...)
				}
				pyE[k] = append(pyE[k], p)
				msg += " | python " + briefEpoch(p)
			}
			fmt.Fprintln(b.stderr, msg)
		}
		g, err := b.launchRanks(ctx, ddpRanks, b.self, []string{"worker", "allreduce", "-threads", "1"})
		if err != nil {
			return append(extra, notMeasured("Go all-reduce: "+err.Error(), items, none)...)
		}
		goAR = append(goAR, g)
		msg := fmt.Sprintf("bench: ddp all_reduce rep %d/%d: go %s", i+1, b.cfg.reps, briefAllReduce(g))
		if py {
			p, err := b.launchRanks(ctx, ddpRanks, b.cfg.python, []string{"scripts/bench_ddp.py", "allreduce", "--threads", "1"})
			if err != nil {
				return append(extra, notMeasured("Python all-reduce: "+err.Error(), items, none)...)
			}
			pyAR = append(pyAR, p)
			msg += " | python " + briefAllReduce(p)
		}
		fmt.Fprintln(b.stderr, msg)
	}
	b.rep.Samples["go/ddp-epoch/nproc=1"], b.rep.Samples["python/ddp-epoch/nproc=1"] = goE[0], pyE[0]
	b.rep.Samples["go/ddp-epoch/nproc=2"], b.rep.Samples["python/ddp-epoch/nproc=2"] = goE[1], pyE[1]
	b.rep.Samples["go/ddp-allreduce/ranks=2"], b.rep.Samples["python/ddp-allreduce/ranks=2"] = goAR, pyAR

	var rows []row
	for k := range goE {
		r := row{Item: ddpEpochItems[k], Unit: "s", Threads: 1, Go: metric(goE[k], "epoch_s"), Python: metric(pyE[k], "epoch_s")}
		r.finish()
		rows = append(rows, r)
	}
	// The efficiency of the medians: t1/(2·t2) with the t1 and t2 of the rows above.
	eff := row{Item: ddpEpochItems[2], Unit: "ratio", Threads: 1}
	efficiency := func(t1, t2 *float64) *float64 {
		if t1 == nil || t2 == nil || *t2 == 0 {
			return nil
		}
		return ptr(*t1 / (ddpRanks * *t2))
	}
	eff.GoMedian, eff.PyMedian = efficiency(rows[0].GoMedian, rows[1].GoMedian), efficiency(rows[0].PyMedian, rows[1].PyMedian)
	if eff.GoMedian != nil && eff.PyMedian != nil && *eff.PyMedian != 0 {
		eff.Ratio = ptr(*eff.GoMedian / *eff.PyMedian)
	}
	rows = append(rows, eff)
	for _, size := range ddpSizes {
		key := fmt.Sprintf("us_%d", size)
		t := row{Item: ddpAllReduceItem(size, "time per call"), Unit: "µs", Threads: 1, Go: metric(goAR, key), Python: metric(pyAR, key)}
		bw := row{Item: ddpAllReduceItem(size, "algbw"), Unit: "MB/s", Threads: 1, Go: bandwidth(size, t.Go), Python: bandwidth(size, t.Python)}
		t.finish()
		bw.finish()
		rows = append(rows, t, bw)
	}
	b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("ddp: measured on %d CPU(s) with 1 libtorch thread per process: "+
		"at 2 processes the two trainers and Gloo's I/O threads contend for the cores (and any other load on the machine), "+
		"so the scaling efficiency t1/(2·t2) is bounded well below 1 here and says little about a machine with spare cores. "+
		"Go's 2-process epoch also does what train/loop does on every rank before every step: a 1-element all_reduce(max) "+
		"agreeing whether to stop (Ctrl-C); the PyTorch script has no such collective. "+
		"algbw = bytes / median time per call (MB/s = 10^6 B/s).", runtime.NumCPU()))
	for k, e := range []*float64{eff.GoMedian, eff.PyMedian} {
		if e != nil && *e > 1 {
			b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("ddp: %s's efficiency above 1 means its step at batch 32 costs more than "+
				"twice its step at batch 16 (a per-step cost superlinear in the batch), not that data parallelism is free.", []string{"Go", "Python"}[k]))
		}
	}
	return append(rows, extra...)
}

// bandwidth converts times per call (µs) of an all-reduce of size bytes to MB/s.
func bandwidth(size int64, us []float64) []float64 {
	var out []float64
	for _, t := range us {
		if t > 0 {
			out = append(out, float64(size)/t)
		}
	}
	return out
}

// briefEpoch is the progress line of one epoch run (without the peak RSS, which a launched
// run does not report).
func briefEpoch(s sample) string {
	return fmt.Sprintf("epoch_s=%.4g steps=%.0f loss_mean=%.4f", s.Metrics["epoch_s"], s.Metrics["steps"], s.Metrics["loss_mean"])
}

// briefAllReduce is the progress line of one all-reduce run: the median µs per size.
func briefAllReduce(s sample) string {
	var parts []string
	for _, size := range ddpSizes {
		parts = append(parts, fmt.Sprintf("%s=%.4gµs", strings.ReplaceAll(fmtBytes(size), " ", ""), s.Metrics[fmt.Sprintf("us_%d", size)]))
	}
	return strings.Join(parts, " ")
}
