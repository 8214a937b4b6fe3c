package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// notMeasured returns table rows that carry the reason instead of a number.
func notMeasured(reason string, items, targets []string) []row {
	var out []row
	for i, item := range items {
		out = append(out, row{Item: item, Target: targets[i], NotMeasured: reason})
	}
	return out
}

// jobEnv is childEnv plus the data mirror the Makefile exports (../shared/data) when unset.
func (b *bench) jobEnv(threads int) []string {
	env := childEnv(threads)
	if os.Getenv("SEQTORCH_MIRROR") == "" {
		if abs, err := filepath.Abs("../shared/data"); err == nil {
			env = append(env, "SEQTORCH_MIRROR="+abs)
		}
	}
	return append(env, "SEQTORCH_PYTHON="+b.cfg.python)
}

// smsInputs runs `bench sms-inputs` (this binary) on the run folder run, writing dir: the
// initial weights and epoch-1 batches of that run for the PyTorch side of item.
func (b *bench) smsInputs(ctx context.Context, item, run, dir string, env []string) error {
	fmt.Fprintf(b.stderr, "bench: %s: writing the shared initial weights and batches (bench sms-inputs)\n", item)
	prep := exec.CommandContext(ctx, b.self, "sms-inputs", "-model", run, "-dir", dir)
	prep.Env = env
	if out, err := prep.CombinedOutput(); err != nil {
		return fmt.Errorf("bench sms-inputs failed: %v: %s", err, tail(string(out), 300))
	}
	return nil
}

// buildCommand builds ./pkg into the bench's temporary folder.
func (b *bench) buildCommand(ctx context.Context, pkg string) (string, error) {
	bin := filepath.Join(b.tmp, filepath.Base(pkg))
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./%s: %v: %s", pkg, err, firstLine(string(out)))
	}
	return bin, nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return strings.TrimSpace(s)
}

// firstEpoch reads the first record of a run folder's metrics.jsonl (written by train/loop).
func firstEpoch(dir string) (map[string]float64, error) {
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() {
		return nil, fmt.Errorf("%s/metrics.jsonl is empty", dir)
	}
	var raw map[string]any
	if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
		return nil, fmt.Errorf("%s/metrics.jsonl: %w", dir, err)
	}
	m := map[string]float64{}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			m[k] = f
		}
	}
	return m, nil
}

// epochRows records a training epoch's samples under key and returns its two rows: the
// epoch's seconds (items[0]) and the peak RSS (items[1]), with their targets.
func (b *bench) epochRows(key string, threads int, items, targets []string, goS, pyS []sample) []row {
	b.rep.Samples["go/"+key], b.rep.Samples["python/"+key] = goS, pyS
	e := row{Item: items[0], Unit: "s", Threads: threads, Go: metric(goS, "epoch_s"), Python: metric(pyS, "epoch_s"), Target: targets[0]}
	m := row{Item: items[1], Unit: "MiB", Threads: threads, Go: rss(goS), Python: rss(pyS), Target: targets[1]}
	e.finish()
	m.finish()
	return []row{e, m}
}

var siameseItems = []string{"(b) Siamese BiLSTM (MaLSTM) training epoch, SICK train, batch 64", "(e) peak RSS, Siamese training process"}

// siamese measures one SICK training epoch. Go: the real command,
// `siamese --epochs 1 --layers 1 --scale one --pooling last --tsne 0 --threads N` (its train_seconds: the training
// steps of epoch 1, without validation). Python: scripts/bench_siamese.py (siamese_ref.py's
// model) on the initial weights and batches that `bench siamese-inputs` (this binary) writes:
// the same model, initial weights, optimizer and number and size of batches; only the shuffle
// order differs.
func (b *bench) siamese(ctx context.Context) []row {
	targets := []string{"≤ 0.8", "≤ 0.7"}
	for _, f := range []string{"scripts/siamese_ref.py", "scripts/bench_siamese.py", "train/siamese"} {
		if _, err := os.Stat(f); err != nil {
			return notMeasured(f+" does not exist yet", siameseItems, targets)
		}
	}
	bin, err := b.buildCommand(ctx, "train/siamese")
	if err != nil {
		return notMeasured(err.Error(), siameseItems, targets)
	}
	ref := filepath.Join(b.tmp, "siamese-ref")
	if err := os.MkdirAll(ref, 0o755); err != nil {
		return notMeasured(err.Error(), siameseItems, targets)
	}
	fmt.Fprintln(b.stderr, "bench: siamese: writing the shared initial weights and batches (bench siamese-inputs)")
	prep := exec.CommandContext(ctx, b.self, "siamese-inputs", "-dir", ref)
	prep.Env = b.jobEnv(1)
	if out, err := prep.CombinedOutput(); err != nil {
		return notMeasured(fmt.Sprintf("bench siamese-inputs failed: %v: %s", err, tail(string(out), 300)), siameseItems, targets)
	}
	var rows []row
	for _, th := range b.cfg.threads {
		var goS, pyS []sample
		for i := range b.cfg.reps {
			run := filepath.Join(b.tmp, fmt.Sprintf("siamese-run-%d-%d", th, i))
			g, err := runChild(ctx, []string{bin, "--epochs", "1", "--layers", "1", "--scale", "one", "--pooling", "last", "--tsne", "0",
				"--threads", fmt.Sprint(th), "--out", run}, b.jobEnv(th))
			if err != nil && !strings.Contains(err.Error(), "no BENCH line") {
				return append(rows, notMeasured("Go siamese: "+err.Error(), siameseItems, targets)...)
			}
			rec, err := firstEpoch(run)
			if err != nil {
				return append(rows, notMeasured("Go siamese: "+err.Error(), siameseItems, targets)...)
			}
			g.Metrics = map[string]float64{"epoch_s": rec["train_seconds"], "steps": rec["steps"], "loss_mean": rec["train_loss"]}
			os.RemoveAll(run)
			p, err := runChild(ctx, []string{b.cfg.python, "scripts/bench_siamese.py", ref, "--threads", fmt.Sprint(th)}, b.jobEnv(th))
			if err != nil {
				return append(rows, notMeasured("Python siamese: "+err.Error(), siameseItems, targets)...)
			}
			goS, pyS = append(goS, g), append(pyS, p)
			fmt.Fprintf(b.stderr, "bench: siamese threads=%d rep %d/%d: go %s | python %s\n", th, i+1, b.cfg.reps, brief(g), brief(p))
		}
		rows = append(rows, b.epochRows(fmt.Sprintf("siamese/threads=%d", th), th, siameseItems, targets, goS, pyS)...)
	}
	return rows
}

var smsItems = []string{
	"(a) SMS LSTM training epoch (train split, batch 32, packed)", "(e) peak RSS, SMS training process",
	"(c) single-message predict latency, warm, p50", "(c) single-message predict latency, warm, p99",
	"(e) peak RSS, SMS predict process",
}

// smsTrainFlags are the training flags of item (a): the SMS study's model with an LSTM cell,
// everything else at train/sms's defaults.
var smsTrainFlags = []string{"--cell", "lstm", "--device", "cpu"}

// sms measures items (a) and (c).
//
// (a) Go: the real command, `sms --epochs 1 --cell lstm --threads N` (its train_seconds: the
// training steps of epoch 1, without validation). Python: `sms_ref.py bench DIR` on what
// `bench sms-inputs` (this binary) writes from the first Go run's folder: the same initial
// weights and the same epoch-1 batches, trained with the same per-step work (cross entropy,
// Adam, correct count, sums kept on the device). The mean training losses of the two sides are
// recorded as a check.
//
// (c) The first Go run's model folder: `bench sms-latency` (load once, then tokenize → ids →
// tensor → forward under NoGrad → softmax → host, timed per message) against `sms_ref.py
// latency` (the same weights, exported with `bench sms-export`, fed the same token ids; forward
// + softmax + .item() under torch.no_grad()).
func (b *bench) sms(ctx context.Context) []row {
	targets := []string{"≤ 0.8", "≤ 0.7", "≤ 0.5", "≤ 0.5", "≤ 0.7"}
	for _, f := range []string{"scripts/sms_ref.py", "train/sms"} {
		if _, err := os.Stat(f); err != nil {
			return notMeasured(f+" does not exist", smsItems, targets)
		}
	}
	bin, err := b.buildCommand(ctx, "train/sms")
	if err != nil {
		return notMeasured(err.Error(), smsItems, targets)
	}
	in := filepath.Join(b.tmp, "sms-inputs")
	var rows []row
	model := "" // the first Go run folder: the model of item (c)
	for _, th := range b.cfg.threads {
		var goS, pyS []sample
		for i := range b.cfg.reps {
			run := filepath.Join(b.tmp, fmt.Sprintf("sms-run-%d-%d", th, i))
			argv := append([]string{bin, "--epochs", "1", "--threads", fmt.Sprint(th), "--out", run}, smsTrainFlags...)
			g, err := runChild(ctx, argv, b.jobEnv(th))
			if err != nil && !strings.Contains(err.Error(), "no BENCH line") {
				return notMeasured("Go sms: "+err.Error(), smsItems, targets)
			}
			rec, err := firstEpoch(run)
			if err != nil {
				return notMeasured("Go sms: "+err.Error(), smsItems, targets)
			}
			g.Metrics = map[string]float64{"epoch_s": rec["train_seconds"], "steps": rec["steps"], "loss_mean": rec["train_loss"]}
			if model == "" {
				model = run
				if err := b.smsInputs(ctx, "sms", run, in, b.jobEnv(1)); err != nil {
					return notMeasured(err.Error(), smsItems, targets)
				}
			} else {
				os.RemoveAll(run)
			}
			p, err := runChild(ctx, []string{b.cfg.python, "scripts/sms_ref.py", "bench", in, "--threads", fmt.Sprint(th)}, b.jobEnv(th))
			if err != nil {
				return notMeasured("Python sms: "+err.Error(), smsItems, targets)
			}
			goS, pyS = append(goS, g), append(pyS, p)
			fmt.Fprintf(b.stderr, "bench: sms epoch threads=%d rep %d/%d: go %s | python %s\n", th, i+1, b.cfg.reps, brief(g), brief(p))
		}
		rows = append(rows, b.epochRows(fmt.Sprintf("sms-epoch/threads=%d", th), th, smsItems, targets, goS, pyS)...)
	}

	lat := filepath.Join(b.tmp, "sms-latency")
	exp := exec.CommandContext(ctx, b.self, "sms-export", "-model", model, "-dir", lat)
	exp.Env = b.jobEnv(1)
	if out, err := exp.CombinedOutput(); err != nil {
		return append(rows, notMeasured(fmt.Sprintf("bench sms-export failed: %v: %s", err, tail(string(out), 300)), smsItems[2:], targets[2:])...)
	}
	for _, th := range b.cfg.threads {
		var goS, pyS []sample
		for i := range b.cfg.reps {
			g, err := runChild(ctx, []string{b.self, "sms-latency", "-model", model, "-threads", fmt.Sprint(th)}, b.jobEnv(th))
			if err != nil {
				return append(rows, notMeasured("Go sms latency: "+err.Error(), smsItems[2:], targets[2:])...)
			}
			p, err := runChild(ctx, []string{b.cfg.python, "scripts/sms_ref.py", "latency", lat, "--threads", fmt.Sprint(th)}, b.jobEnv(th))
			if err != nil {
				return append(rows, notMeasured("Python sms latency: "+err.Error(), smsItems[2:], targets[2:])...)
			}
			if d := p.Metrics["p_spam_diff"]; d > 1e-5 {
				return append(rows, notMeasured(fmt.Sprintf("Go and PyTorch disagree on P(spam) by %g", d), smsItems[2:], targets[2:])...)
			}
			goS, pyS = append(goS, g), append(pyS, p)
			fmt.Fprintf(b.stderr, "bench: sms predict threads=%d rep %d/%d: go %s | python %s\n", th, i+1, b.cfg.reps, brief(g), brief(p))
		}
		key := fmt.Sprintf("sms-predict/threads=%d", th)
		b.rep.Samples["go/"+key], b.rep.Samples["python/"+key] = goS, pyS
		p50 := row{Item: smsItems[2], Unit: "µs", Threads: th, Go: metric(goS, "p50_us"), Python: metric(pyS, "p50_us"), Target: targets[2]}
		p99 := row{Item: smsItems[3], Unit: "µs", Threads: th, Go: metric(goS, "p99_us"), Python: metric(pyS, "p99_us"), Target: targets[3]}
		m := row{Item: smsItems[4], Unit: "MiB", Threads: th, Go: rss(goS), Python: rss(pyS), Target: targets[4]}
		p50.finish()
		p99.finish()
		m.finish()
		rows = append(rows, p50, p99, m)
	}
	return rows
}
