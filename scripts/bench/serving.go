package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/seqtorch/seqtorch/scripts/internal/smsrun"
	"github.com/seqtorch/seqtorch/train/serve/loadgen"
)

// servingLevels are the load generator's concurrencies, and the requests sent at each (every
// level is also bounded by servingLevelTime).
var servingLevels = []struct{ conc, requests int }{{1, 400}, {8, 1600}, {64, 3200}}

const servingLevelTime = 20 * time.Second

// servingItems are the rows of item (f), in servingLevels order, then the correctness row:
// `sms serve`'s, or with jit jitserve's (the same model as TorchScript; its Go column is
// jitserve, its Python column the same Python server, and the issue sets no speed target).
func servingItems(jit bool) (items, units, keys, targets []string) {
	what, server, proc := "serving SMS over HTTP", "serving", "serving process"
	if jit {
		what, server, proc = "serving SMS over HTTP, jitserve (TorchScript)", "serving, jitserve", "jitserve process"
	}
	for _, l := range servingLevels {
		c := l.conc
		t3, t5 := "", ""
		if c == 64 && !jit {
			t3, t5 = "≥ 3", "≤ 0.5"
		}
		items = append(items,
			fmt.Sprintf("(f) %s, concurrency %d: throughput", what, c),
			fmt.Sprintf("(f) %s, concurrency %d: p50 latency", what, c),
			fmt.Sprintf("(f) %s, concurrency %d: p99 latency", what, c))
		units = append(units, "messages/s", "ms", "ms")
		keys = append(keys, fmt.Sprintf("c%d_mps", c), fmt.Sprintf("c%d_p50_ms", c), fmt.Sprintf("c%d_p99_ms", c))
		targets = append(targets, t3, "", t5)
	}
	items = append(items, "(f) "+server+": answers whose label differs from `sms predict`", "(e) peak RSS, "+proc)
	units = append(units, "messages", "MiB")
	keys = append(keys, "mismatches", "")
	targets = append(targets, "0", "")
	return
}

// servingRows are the rows of one server at one thread count, against the Python server.
func servingRows(jit bool, th int, goS, pyS []sample) []row {
	items, units, keys, targets := servingItems(jit)
	var rows []row
	for k, item := range items {
		r := row{Item: item, Unit: units[k], Threads: th, Target: targets[k]}
		if keys[k] == "" {
			r.Go, r.Python = rss(goS), rss(pyS)
		} else {
			r.Go, r.Python = metric(goS, keys[k]), metric(pyS, keys[k])
		}
		r.finish()
		rows = append(rows, r)
	}
	return rows
}

// serving measures item (f): `sms serve` (micro-batching, one model goroutine) against
// scripts/sms_serve_ref.py (the same weights in PyTorch behind the standard library's
// ThreadingHTTPServer, one thread per request), both driven by the Go load generator
// (train/serve/loadgen: closed loop, one-message requests, loopback) at each concurrency of
// servingLevels with the real SMS test split's messages, Go and Python alternating. The model
// is train/sms's with an LSTM cell trained for 2 epochs; every answer is compared with `sms
// predict --json` on the same messages (the mismatches row), and the server must exit 0 on
// SIGTERM. Beside them, on the same terms (same messages, loads, threads and checks, in the
// same alternation), train/jitserve serves the same model scripted by PyTorch:
// scripts/sms_jit_export.py builds it from the exported weights with torch.jit.script and
// writes the vocabulary file jitserve reads. When that step fails, only jitserve's rows say
// why.
func (b *bench) serving(ctx context.Context) []row {
	items, _, _, targets := servingItems(false)
	jitItems, _, _, jitTargets := servingItems(true)
	fail := func(reason string) []row {
		return append(notMeasured(reason, items, targets), notMeasured(reason, jitItems, jitTargets)...)
	}
	for _, f := range []string{"scripts/sms_serve_ref.py", "scripts/sms_ref.py", "train/sms"} {
		if _, err := os.Stat(f); err != nil {
			return fail(f + " does not exist")
		}
	}
	bin, err := b.buildCommand(ctx, "train/sms")
	if err != nil {
		return fail(err.Error())
	}
	run := filepath.Join(b.tmp, "serve-run")
	exp := filepath.Join(b.tmp, "serve-export")
	fmt.Fprintln(b.stderr, "bench: serving: training the model (sms --cell lstm --epochs 2) and exporting it for PyTorch")
	for _, argv := range [][]string{
		{bin, "--cell", "lstm", "--epochs", "2", "--device", "cpu", "--threads", "1", "--out", run},
		{b.self, "sms-export", "-model", run, "-dir", exp},
	} {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = b.jobEnv(1)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fail(fmt.Sprintf("%s: %v: %s", strings.Join(argv[1:], " "), err, tail(string(out), 300)))
		}
	}
	jitArgv, jitErr := b.jitServer(ctx, run, exp)
	if jitErr != nil {
		fmt.Fprintf(b.stderr, "bench: serving: jitserve not measured: %v\n", jitErr)
	}
	msgs, err := testMessages(run)
	if err != nil {
		return fail(err.Error())
	}
	want, err := predictLabels(ctx, bin, run, msgs, b.jobEnv(1))
	if err != nil {
		return fail(err.Error())
	}
	var rows []row
	jitRows := map[int][]row{} // by thread count, placed after `sms serve`'s rows at that count
	for _, th := range b.cfg.threads {
		goArgv := []string{bin, "serve", "--model", run, "--device", "cpu", "--threads", fmt.Sprint(th), "--addr", "127.0.0.1:0"}
		pyArgv := []string{b.cfg.python, "scripts/sms_serve_ref.py", run, filepath.Join(exp, "model.pt"), "--threads", fmt.Sprint(th)}
		var goS, pyS, jitS []sample
		for i := range b.cfg.reps {
			g, err := b.serveSide(ctx, goArgv, th, msgs, want)
			if err != nil {
				return append(rows, fail("Go sms serve: "+err.Error())...)
			}
			p, err := b.serveSide(ctx, pyArgv, th, msgs, want)
			if err != nil {
				return append(rows, fail("Python sms_serve_ref.py: "+err.Error())...)
			}
			goS, pyS = append(goS, g), append(pyS, p)
			jitBrief := "not measured"
			if jitErr == nil {
				j, err := b.serveSide(ctx, append(slices.Clip(jitArgv), "--threads", fmt.Sprint(th)), th, msgs, want)
				if err != nil {
					jitErr = fmt.Errorf("Go jitserve: %w", err)
				} else {
					jitS = append(jitS, j)
					jitBrief = brief(j)
				}
			}
			fmt.Fprintf(b.stderr, "bench: serving threads=%d rep %d/%d: go %s | python %s | jitserve %s\n", th, i+1, b.cfg.reps, brief(g), brief(p), jitBrief)
		}
		key := fmt.Sprintf("serving/threads=%d", th)
		b.rep.Samples["go/"+key], b.rep.Samples["python/"+key] = goS, pyS
		rows = append(rows, servingRows(false, th, goS, pyS)...)
		if jitErr == nil {
			b.rep.Samples["jitserve/"+key] = jitS
			jitRows[th] = servingRows(true, th, jitS, pyS)
			var ratios []string
			for _, l := range servingLevels {
				k := fmt.Sprintf("c%d_mps", l.conc)
				ratios = append(ratios, fmt.Sprintf("%.2f at concurrency %d", median(metric(jitS, k))/median(metric(goS, k)), l.conc))
			}
			b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("serving, threads=%d: jitserve's throughput over `sms serve`'s (medians, same model as TorchScript): %s.",
				th, strings.Join(ratios, ", ")))
		}
	}
	if jitErr != nil {
		return append(rows, notMeasured(jitErr.Error(), jitItems, jitTargets)...)
	}
	var out []row
	for i, r := range rows {
		out = append(out, r)
		if i == len(rows)-1 || rows[i+1].Threads != r.Threads {
			out = append(out, jitRows[r.Threads]...)
		}
	}
	return out
}

// jitServer builds train/jitserve and the TorchScript form of the run's model
// (scripts/sms_jit_export.py on the weights `bench sms-export` wrote into exp) and returns the
// server's command line, less --threads.
func (b *bench) jitServer(ctx context.Context, run, exp string) ([]string, error) {
	for _, f := range []string{"scripts/sms_jit_export.py", "train/jitserve"} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%s does not exist", f)
		}
	}
	bin, err := b.buildCommand(ctx, "train/jitserve")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.tmp, "serve-jit")
	cmd := exec.CommandContext(ctx, b.cfg.python, "scripts/sms_jit_export.py", run, filepath.Join(exp, "model.pt"), dir)
	cmd.Env = b.jobEnv(1)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("scripts/sms_jit_export.py: %v: %s", err, tail(string(out), 300))
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "JIT ") {
			fmt.Fprintf(b.stderr, "bench: serving: TorchScript model for jitserve: %s\n", strings.TrimPrefix(line, "JIT "))
		}
	}
	c, err := smsrun.ReadConfig(run) // jitserve applies the run's --max-len as `sms serve` does
	if err != nil {
		return nil, err
	}
	return []string{bin, "--model", filepath.Join(dir, "model_script.pt"), "--vocab", filepath.Join(dir, "vocab.txt"),
		"--labels", "ham,spam", "--tokenizer", "sms", "--max-len", fmt.Sprint(c.Options.MaxLen), "--device", "cpu", "--addr", "127.0.0.1:0"}, nil
}

// testMessages returns the test part of the run's data split (the split `sms` itself makes).
func testMessages(run string) ([]string, error) {
	c, err := smsrun.ReadConfig(run)
	if err != nil {
		return nil, err
	}
	split, err := c.Split()
	if err != nil {
		return nil, err
	}
	var msgs []string
	for _, m := range split.Test {
		if strings.ContainsAny(m.Text, "\n\r") { // (predict reads lines)
			continue
		}
		msgs = append(msgs, m.Text)
	}
	return msgs, nil
}

// predictLabels runs `sms predict --json` on msgs (standard input, one per line) and returns
// the labels.
func predictLabels(ctx context.Context, bin, run string, msgs []string, env []string) ([]string, error) {
	cmd := exec.CommandContext(ctx, bin, "predict", "--model", run, "--device", "cpu", "--json")
	cmd.Env = env
	cmd.Stdin = strings.NewReader(strings.Join(msgs, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("sms predict: %v", err)
	}
	var labels []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p struct{ Label string }
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("sms predict --json: %v", err)
		}
		labels = append(labels, p.Label)
	}
	if len(labels) != len(msgs) {
		return nil, fmt.Errorf("sms predict --json: %d answers for %d messages", len(labels), len(msgs))
	}
	return labels, nil
}

var servingLine = regexp.MustCompile(`serving on (http://\S+)`)

// serveSide starts a server (argv), waits for its "serving on URL" line, warms it up, runs the
// load levels, compares the answers with want, stops it with SIGTERM and checks that it exits
// 0. Its sample has c<N>_mps, c<N>_p50_ms, c<N>_p99_ms per level, mismatches, inconsistent
// and errors, and the process's peak RSS.
func (b *bench) serveSide(ctx context.Context, argv []string, threads int, msgs, want []string) (sample, error) {
	var s sample
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = childEnv(threads)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return s, err
	}
	if err := cmd.Start(); err != nil {
		return s, err
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	urls := make(chan string, 1)
	var logTail strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if logTail.Len() < 4000 {
				logTail.WriteString(sc.Text() + "\n")
			}
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				sent = true
				urls <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-urls:
	case <-logDone:
		cmd.Wait()
		return s, fmt.Errorf("exited before listening: %s", tail(logTail.String(), 500))
	case <-time.After(2 * time.Minute):
		return s, fmt.Errorf("not listening after 2 minutes")
	}
	if _, err := loadgen.Run(ctx, loadgen.Options{URL: url, Messages: msgs, Concurrency: 8, Requests: 400, Duration: servingLevelTime}); err != nil {
		return s, fmt.Errorf("warm-up: %w", err)
	}
	s.Metrics = map[string]float64{}
	answers := make([]loadgen.Answer, len(msgs))
	for _, l := range servingLevels {
		r, err := loadgen.Run(ctx, loadgen.Options{URL: url, Messages: msgs, Concurrency: l.conc, Requests: l.requests, Duration: servingLevelTime})
		if err != nil {
			return s, err
		}
		if r.Errors > 0 {
			return s, fmt.Errorf("concurrency %d: %d requests failed, first: %s", l.conc, r.Errors, r.FirstError)
		}
		s.Metrics[fmt.Sprintf("c%d_mps", l.conc)] = r.Throughput
		s.Metrics[fmt.Sprintf("c%d_p50_ms", l.conc)] = r.P50
		s.Metrics[fmt.Sprintf("c%d_p99_ms", l.conc)] = r.P99
		s.Metrics["inconsistent"] += float64(r.Inconsistent)
		for i, a := range r.Answers {
			if a.Label != "" {
				answers[i] = a
			}
		}
	}
	mismatches, missing := 0, 0
	for i, a := range answers {
		switch {
		case a.Label == "":
			missing++
		case a.Label != want[i]:
			mismatches++
		}
	}
	s.Metrics["mismatches"] = float64(mismatches)
	s.Metrics["unanswered"] = float64(missing)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return s, err
	}
	<-logDone
	err = cmd.Wait()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.MaxRSSMiB = float64(ru.Maxrss) / 1024
	}
	if err != nil {
		return s, fmt.Errorf("after SIGTERM: %v (want exit status 0): %s", err, tail(logTail.String(), 300))
	}
	return s, nil
}
