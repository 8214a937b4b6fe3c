package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// trainTiny trains a one-epoch LSTM on the fixture and returns its run folder.
func trainTiny(tb testing.TB) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "run")
	args := append(tiny(out, "--cell", "lstm"), "--epochs", "1")
	if code, stdout, stderr := runCmd(context.Background(), args...); code != 0 {
		tb.Fatalf("training: exit %d\n%s\n%s", code, stdout, stderr)
	}
	return out
}

// TestPredictorMatchesBatchedPredict checks that the single-message predictor (unpacked, one
// row) gives the batched evaluation's probabilities, for messages of different lengths.
func TestPredictorMatchesBatchedPredict(t *testing.T) {
	torchtest.CheckLive(t)
	run := trainTiny(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := loadClassifier(run, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	msgs := []string{BenchMessage, "ok see you later", "hi", "FREE entry!! txt WIN to 80086 now to claim your prize of £1000 cash"}
	want, err := c.spamProbability(msgs)
	if err != nil {
		t.Fatal(err)
	}
	p := newPredictor(c)
	for i, m := range msgs {
		got, err := p.spamProbability(m)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want[i]) > 1e-6 {
			t.Errorf("message %d: predictor %v, batched %v", i, got, want[i])
		}
	}
}

// TestBenchModes runs `sms bench inputs`, `export` and `latency` on the fixture.
func TestBenchModes(t *testing.T) {
	torchtest.CheckLive(t)
	run := trainTiny(t)
	dir := t.TempDir()
	ctx := context.Background()
	args := []string{"bench", "inputs", "--dir", dir, "--data", "testdata/sms_tiny.txt", "--cell", "lstm",
		"--embed", "8", "--hidden", "8", "--dense", "4", "--batch", "16", "--min-count", "1"}
	if code, stdout, stderr := runCmd(ctx, args...); code != 0 {
		t.Fatalf("bench inputs: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var sp benchSpec
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sp); err != nil {
		t.Fatal(err)
	}
	if sp.Steps < 1 || sp.Model.Cell != "lstm" || sp.Model.Vocab < 3 {
		t.Errorf("spec.json = %+v", sp)
	}
	names, ts, err := torch.LoadDict(filepath.Join(dir, "batches.pt"))
	if err != nil {
		t.Fatal(err)
	}
	closeAll(ts)
	if len(names) != 3*sp.Steps {
		t.Errorf("batches.pt holds %d tensors, want %d", len(names), 3*sp.Steps)
	}
	if _, err := os.Stat(filepath.Join(dir, "init.pt")); err != nil {
		t.Error(err)
	}

	if code, stdout, stderr := runCmd(ctx, "bench", "export", "--model", run, "--dir", dir); code != 0 {
		t.Fatalf("bench export: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var ls latencySpec
	if b, err = os.ReadFile(filepath.Join(dir, "latency.json")); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls.IDs) == 0 || !(ls.PSpam >= 0 && ls.PSpam <= 1) {
		t.Errorf("latency.json = %+v", ls)
	}

	code, stdout, stderr := runCmd(ctx, "bench", "latency", "--model", run, "--n", "20", "--warmup", "2")
	if code != 0 {
		t.Fatalf("bench latency: exit %d\n%s\n%s", code, stdout, stderr)
	}
	line, ok := strings.CutPrefix(strings.TrimSpace(stdout), "BENCH ")
	if !ok {
		t.Fatalf("bench latency printed %q, want a BENCH line", stdout)
	}
	var r struct {
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p50_us", "p99_us", "mean_us", "tokenize_p50_us", "tokens", "p_spam"} {
		if _, ok := r.Metrics[k]; !ok {
			t.Errorf("latency metrics lack %s: %v", k, r.Metrics)
		}
	}
	if r.Metrics["p_spam"] != ls.PSpam {
		t.Errorf("latency p_spam %v, export %v", r.Metrics["p_spam"], ls.PSpam)
	}

	for _, bad := range [][]string{{"bench"}, {"bench", "fly"}, {"bench", "latency"}, {"bench", "inputs", "--dir", dir, "--optimizer", "sgd"}} {
		if code, _, _ := runCmd(ctx, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// BenchmarkPredict is the warm single-message predict path (tokenize → ids → tensor → forward
// without gradients → softmax → host) of a one-layer LSTM; allocations per prediction are
// reported.
func BenchmarkPredict(b *testing.B) {
	run := trainTiny(b)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := loadClassifier(run, "cpu")
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	p := newPredictor(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.spamProbability(BenchMessage); err != nil {
			b.Fatal(err)
		}
	}
}
