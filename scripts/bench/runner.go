package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/seqtorch/seqtorch/torch"
)

// items lists what -only accepts.
var items = []string{"lstm-step", "ops", "batching", "sms", "siamese", "serving", "ddp"}

func knownItem(s string) bool { return slices.Contains(items, s) }

// sample is what one child process reported.
type sample struct {
	Metrics   map[string]float64 `json:"metrics"`
	MaxRSSMiB float64            `json:"max_rss_mib"`
	WallS     float64            `json:"wall_s"`
}

// row is one line of the results table: a metric measured on both sides at one thread count.
type row struct {
	Item        string    `json:"item"`
	Unit        string    `json:"unit"`
	Threads     int       `json:"threads"`
	Go          []float64 `json:"go,omitempty"`
	Python      []float64 `json:"python,omitempty"`
	GoMedian    *float64  `json:"go_median,omitempty"`
	PyMedian    *float64  `json:"python_median,omitempty"`
	Ratio       *float64  `json:"go_over_python,omitempty"`
	Target      string    `json:"target,omitempty"`       // the Go/Python target
	NotMeasured string    `json:"not_measured,omitempty"` // why there is no number
	lowerBetter bool
}

// report is bench.json.
type report struct {
	Date     string              `json:"date"`
	Machine  map[string]string   `json:"machine"`
	Reps     int                 `json:"reps"`
	Threads  []int               `json:"threads"`
	Rows     []row               `json:"rows"`
	Batching []row               `json:"batching,omitempty"`
	Fastest  map[string]string   `json:"fastest_batching_go,omitempty"` // threads → mode
	Samples  map[string][]sample `json:"samples"`                       // "side/workload/threads" → every child's report
	Notes    []string            `json:"notes,omitempty"`               // caveats printed under the table
}

func ptr(f float64) *float64 {
	if math.IsNaN(f) {
		return nil
	}
	return &f
}

func (r *row) finish() {
	if len(r.Go) > 0 {
		r.GoMedian = ptr(median(r.Go))
	}
	if len(r.Python) > 0 {
		r.PyMedian = ptr(median(r.Python))
	}
	if r.GoMedian != nil && r.PyMedian != nil && *r.PyMedian != 0 {
		r.Ratio = ptr(*r.GoMedian / *r.PyMedian)
	}
}

// bench holds the state of one `make bench` run.
type bench struct {
	cfg    config
	self   string // this executable, re-run as the Go worker
	stderr io.Writer
	rep    report
	tmp    string
}

func benchAll(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this executable to re-run as the Go worker: %w", err)
	}
	tmp, err := os.MkdirTemp("", "seqtorch-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{cfg: cfg, self: self, stderr: stderr, tmp: tmp}
	b.rep = report{
		Date: time.Now().UTC().Format(time.RFC3339), Reps: cfg.reps, Threads: cfg.threads,
		Machine: machineInfo(ctx, cfg.python), Samples: map[string][]sample{},
	}
	start := time.Now()
	if cfg.want("lstm-step") {
		if err := b.lstmStep(ctx); err != nil {
			return err
		}
	}
	if cfg.want("ops") {
		if err := b.ops(ctx); err != nil {
			return err
		}
	}
	if cfg.want("sms") {
		b.rep.Rows = append(b.rep.Rows, b.sms(ctx)...)
	}
	if cfg.want("siamese") {
		b.rep.Rows = append(b.rep.Rows, b.siamese(ctx)...)
	}
	if cfg.want("batching") {
		if err := b.batching(ctx); err != nil {
			return err
		}
	}
	if cfg.want("serving") {
		b.rep.Rows = append(b.rep.Rows, b.serving(ctx)...)
	}
	if cfg.want("ddp") {
		b.rep.Rows = append(b.rep.Rows, b.ddp(ctx)...)
	}
	fmt.Fprintf(stderr, "bench: done in %s\n", time.Since(start).Round(time.Second))
	printReport(stdout, &b.rep)
	raw, err := json.MarshalIndent(b.rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfg.out, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	fmt.Fprintf(stdout, "\nRaw samples: %s\n", cfg.out)
	return nil
}

// childEnv is the environment of every child: one OpenBLAS thread (its pool fights
// libtorch's) and OpenMP sized like libtorch's intra-op pool.
func childEnv(threads int) []string {
	return append(os.Environ(), "OPENBLAS_NUM_THREADS=1", fmt.Sprintf("OMP_NUM_THREADS=%d", threads))
}

// runChild runs argv, parses its "BENCH {json}" line and records its peak RSS.
func runChild(ctx context.Context, argv []string, env []string) (sample, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	s := sample{WallS: time.Since(t0).Seconds()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.MaxRSSMiB = float64(ru.Maxrss) / 1024 // Linux reports KiB
		}
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, tail(errb.String(), 2000))
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "BENCH "); ok {
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				return s, fmt.Errorf("%s: bad BENCH line: %w", strings.Join(argv, " "), err)
			}
			return s, nil
		}
	}
	return s, fmt.Errorf("%s: no BENCH line in its output\n%s", strings.Join(argv, " "), tail(out.String()+errb.String(), 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// pair runs a workload alternately in Go and Python, reps times at one thread count.
func (b *bench) pair(ctx context.Context, workload string, threads int, spec string) (goS, pyS []sample, err error) {
	goArgv := []string{b.self, "worker", workload, "-threads", fmt.Sprint(threads)}
	pyArgv := []string{b.cfg.python, "scripts/bench_workloads.py", workload, "--threads", fmt.Sprint(threads)}
	if spec != "" {
		goArgv = append(goArgv, "-spec", spec)
		pyArgv = append(pyArgv, "--spec", spec)
	}
	for i := range b.cfg.reps {
		g, err := runChild(ctx, goArgv, childEnv(threads))
		if err != nil {
			return nil, nil, fmt.Errorf("Go %s: %w", workload, err)
		}
		p, err := runChild(ctx, pyArgv, childEnv(threads))
		if err != nil {
			return nil, nil, fmt.Errorf("Python %s: %w", workload, err)
		}
		goS, pyS = append(goS, g), append(pyS, p)
		fmt.Fprintf(b.stderr, "bench: %s threads=%d rep %d/%d: go %s | python %s\n", workload, threads, i+1, b.cfg.reps,
			brief(g), brief(p))
	}
	key := fmt.Sprintf("%s/threads=%d", workload, threads)
	b.rep.Samples["go/"+key] = goS
	b.rep.Samples["python/"+key] = pyS
	return goS, pyS, nil
}

func brief(s sample) string {
	keys := make([]string, 0, len(s.Metrics))
	for k := range s.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%.4g", k, s.Metrics[k]))
	}
	return fmt.Sprintf("%s rss=%.0fMiB", strings.Join(parts, " "), s.MaxRSSMiB)
}

func metric(ss []sample, key string) []float64 {
	var out []float64
	for _, s := range ss {
		if v, ok := s.Metrics[key]; ok {
			out = append(out, v)
		}
	}
	return out
}

func rss(ss []sample) []float64 {
	var out []float64
	for _, s := range ss {
		out = append(out, s.MaxRSSMiB)
	}
	return out
}

func (b *bench) lstmStep(ctx context.Context) error {
	for _, th := range b.cfg.threads {
		g, p, err := b.pair(ctx, "lstm-step", th, "")
		if err != nil {
			return err
		}
		r := row{Item: "(d) LSTM training step: LSTM 300→50 + Linear + MSE + Adam, batch 64, length 30", Unit: "ms",
			Threads: th, Go: metric(g, "step_ms"), Python: metric(p, "step_ms"), Target: "≤ 0.8"}
		m := row{Item: "(e) peak RSS, LSTM training step process", Unit: "MiB", Threads: th,
			Go: rss(g), Python: rss(p), Target: "≤ 0.7"}
		r.finish()
		m.finish()
		b.rep.Rows = append(b.rep.Rows, r, m)
	}
	return nil
}

func (b *bench) ops(ctx context.Context) error {
	for _, th := range b.cfg.threads {
		g, p, err := b.pair(ctx, "ops", th, "")
		if err != nil {
			return err
		}
		for _, m := range []struct{ key, item string }{
			{"add1_ns", "per-op overhead: 1-element add"},
			{"matmul64x80_ns", "per-op: matmul 64×80 · 80×80"},
		} {
			r := row{Item: m.item, Unit: "ns", Threads: th, Go: metric(g, m.key), Python: metric(p, m.key)}
			r.finish()
			b.rep.Rows = append(b.rep.Rows, r)
		}
	}
	return nil
}

// batchingModes are the ways the batching workload batches an epoch.
var batchingModes = []batchingMode{
	{Name: "padded", Batches: "random", Packed: false},
	{Name: "packed", Batches: "random", Packed: true},
	{Name: "bucketed", Batches: "bucketed", Packed: false},
	{Name: "bucketed-packed", Batches: "bucketed", Packed: true},
}

// makeBatchingSpec draws n sequence lengths shaped like SMS token counts (log-normal, median
// 12, a long tail clipped at 190: many short messages, a few long ones) and the batch orders:
// "random" shuffles all sequences into batches of 64; "bucketed" sorts by length, cuts
// batches of 64 and shuffles the batch order. The seed is fixed: every run does the same work.
func makeBatchingSpec(n int) batchingSpec {
	rng := rand.New(rand.NewPCG(42, 7))
	lengths := make([]int64, n)
	for i := range lengths {
		l := math.Round(math.Exp(math.Log(12) + 0.75*rng.NormFloat64()))
		lengths[i] = int64(min(max(l, 1), 190))
	}
	const batch = 64
	chunks := func(idx []int) [][]int {
		var out [][]int
		for i := 0; i < len(idx); i += batch {
			out = append(out, slices.Clone(idx[i:min(i+batch, len(idx))]))
		}
		return out
	}
	perm := rng.Perm(n)
	sorted := slices.Clone(perm)
	slices.SortStableFunc(sorted, func(a, b int) int { return int(lengths[a] - lengths[b]) })
	bucketed := chunks(sorted)
	rng.Shuffle(len(bucketed), func(i, j int) { bucketed[i], bucketed[j] = bucketed[j], bucketed[i] })
	return batchingSpec{Vocab: 5000, Embed: 300, Hidden: 50, Lengths: lengths,
		Batches: map[string][][]int{"random": chunks(perm), "bucketed": bucketed}, Modes: batchingModes}
}

func (b *bench) batching(ctx context.Context) error {
	spec := makeBatchingSpec(b.cfg.seqs)
	raw, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	path := b.tmp + "/batching.json"
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("writing the batching spec: %w", err)
	}
	b.rep.Fastest = map[string]string{}
	for _, th := range b.cfg.threads {
		g, p, err := b.pair(ctx, "batching", th, path)
		if err != nil {
			return err
		}
		best, bestT := "", math.Inf(1)
		for _, m := range batchingModes {
			r := row{Item: m.Name, Unit: "s", Threads: th, Go: metric(g, m.Name+"_s"), Python: metric(p, m.Name+"_s")}
			r.finish()
			if r.GoMedian != nil && *r.GoMedian < bestT {
				best, bestT = m.Name, *r.GoMedian
			}
			b.rep.Batching = append(b.rep.Batching, r)
		}
		b.rep.Fastest[fmt.Sprint(th)] = best
	}
	return nil
}

// machineInfo describes where the numbers came from.
func machineInfo(ctx context.Context, python string) map[string]string {
	m := map[string]string{
		"cpus":      fmt.Sprint(runtime.NumCPU()),
		"go":        runtime.Version(),
		"libtorch":  torch.Version(),
		"blas":      torch.BLAS(),
		"goos":      runtime.GOOS + "/" + runtime.GOARCH,
		"python":    python,
		"cpu_model": "unknown",
	}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu_model"] = strings.TrimSpace(v)
				break
			}
		}
	}
	out, err := exec.CommandContext(ctx, python, "-c", "import sys, torch; print(sys.version.split()[0], torch.__version__)").Output()
	if err == nil {
		m["python_torch"] = strings.TrimSpace(string(out))
	} else {
		m["python_torch"] = "unavailable: " + err.Error()
	}
	return m
}

func fmtNum(p *float64) string {
	if p == nil {
		return "—"
	}
	v := *p
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func fmtRatio(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f", *p)
}

// printReport writes the Markdown tables.
func printReport(w io.Writer, r *report) {
	fmt.Fprintf(w, "\nMachine: %s, %s CPUs; libtorch %s (%s); %s; Python %s\n",
		r.Machine["cpu_model"], r.Machine["cpus"], r.Machine["libtorch"], r.Machine["blas"], r.Machine["go"], r.Machine["python_torch"])
	fmt.Fprintf(w, "Medians of %d runs per side, Go and Python alternating, OPENBLAS_NUM_THREADS=1.\n\n", r.Reps)
	fmt.Fprintln(w, "| item | threads | Go | Python | Go/Python | target |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	var missing []row
	for _, x := range r.Rows {
		if x.NotMeasured != "" {
			missing = append(missing, x)
			fmt.Fprintf(w, "| %s | — | not yet measured | not yet measured | — | %s |\n", x.Item, x.Target)
			continue
		}
		fmt.Fprintf(w, "| %s (%s) | %d | %s | %s | %s | %s |\n", x.Item, x.Unit, x.Threads,
			fmtNum(x.GoMedian), fmtNum(x.PyMedian), fmtRatio(x.Ratio), x.Target)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\nNote: %s\n", n)
	}
	if len(r.Batching) > 0 {
		fmt.Fprintln(w, "\nBatching an LSTM epoch (frozen Embedding 5000×300 → LSTM 300→50 → Linear → BCE → Adam;")
		fmt.Fprintln(w, "SMS-like synthetic lengths, batch 64; seconds per epoch):")
		fmt.Fprintln(w, "\n| batching | threads | Go (s) | Python (s) | Go/Python |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		for _, x := range r.Batching {
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", x.Item, x.Threads, fmtNum(x.GoMedian), fmtNum(x.PyMedian), fmtRatio(x.Ratio))
		}
		var ths []string
		for th := range r.Fastest {
			ths = append(ths, th)
		}
		sort.Strings(ths)
		for _, th := range ths {
			fmt.Fprintf(w, "\nFastest in Go on CPU at %s thread(s): %s\n", th, r.Fastest[th])
		}
	}
	if len(missing) > 0 {
		fmt.Fprintln(w, "\nNot measured:")
		for _, x := range missing {
			fmt.Fprintf(w, "- %s: %s\n", x.Item, x.NotMeasured)
		}
	}
}
