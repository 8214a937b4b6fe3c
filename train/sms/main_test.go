package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch/torchtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// tiny are the flags of a fast run on the synthetic fixture.
func tiny(out string, extra ...string) []string {
	return append([]string{"--data", "testdata/sms_tiny.txt", "--out", out, "--device", "cpu",
		"--embed", "8", "--hidden", "8", "--dense", "4", "--batch", "16", "--epochs", "2",
		"--min-count", "1", "--lr", "0.01"}, extra...)
}

// runCmd runs the command and returns its exit status and output.
func runCmd(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	err := run(ctx, args, &o, &e)
	code = exitCode(err, &e)
	return code, o.String(), e.String()
}

func TestTrainWritesRunFolder(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	js := filepath.Join(dir, "summary-copy.json")
	code, stdout, stderr := runCmd(context.Background(), tiny(out, "--json", js, "--cell", "gru", "--bidirectional", "--dropout", "0.2")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"embedding.weight", "rnn.weight_ih_l0_reverse", "total params", "epoch 2/2", "test (best validation epoch"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"metrics.jsonl", "summary.json", "curves.png", "model.safetensors", "vocab.txt", "config.json", "params.txt", "checkpoint/state.json"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s missing or empty: %v", name, err)
		}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cell", "params", "test_accuracy", "test_f1_spam", "test_mcc", "epochs", "seconds_per_epoch", "device"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("--json file lacks key %q", k)
		}
	}
	if sum["cell"] != "gru" || sum["epochs"] != 2.0 || sum["device"] != "cpu" {
		t.Errorf("summary: cell %v epochs %v device %v", sum["cell"], sum["epochs"], sum["device"])
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(out, "metrics.jsonl"))), "\n")
	if len(lines) != 2 {
		t.Errorf("metrics.jsonl has %d lines, want 2", len(lines))
	}

	// predict reads everything it needs from the folder.
	code, stdout, stderr = runCmd(context.Background(), "predict", "--model", out, "--device", "cpu",
		"URGENT! You have WON a £1000 prize, call 09061701461", "see you at dinner mum")
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	got := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(got) != 3 || got[0] != "label\tp_spam\tmessage" || !strings.HasSuffix(got[2], "\tsee you at dinner mum") {
		t.Errorf("predict output:\n%s", stdout)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBadInput checks exit statuses and the one-line messages against testdata/errors.golden.
func TestBadInput(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	other := filepath.Join(dir, "siamese-run")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "config.json"), []byte(`{"kind": "siamese"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"unknown cell", tiny(out, "--cell", "transformer"), 2},
		{"zero hidden", tiny(out, "--hidden", "0"), 2},
		{"negative embed", tiny(out, "--embed", "-3"), 2},
		{"zero dense", tiny(out, "--dense", "0"), 2},
		{"zero layers", tiny(out, "--layers", "0"), 2},
		{"zero epochs", tiny(out, "--epochs", "0"), 2},
		{"zero batch", tiny(out, "--batch", "0"), 2},
		{"bad dropout", tiny(out, "--dropout", "1.5"), 2},
		{"bad optimizer", tiny(out, "--optimizer", "lion"), 2},
		{"bad monitor", tiny(out, "--monitor", "val_auc"), 2},
		{"freeze without vectors", tiny(out, "--freeze-embeddings"), 2},
		{"unknown flag", []string{"--colour"}, 2},
		{"stray argument", []string{"fit"}, 2},
		{"bad device", tiny(out, "--device", "tpu"), 1},
		{"missing data", tiny(out, "--data", filepath.Join(dir, "nope.txt")), 1},
		{"missing resume folder", []string{"--resume", filepath.Join(dir, "nope")}, 1},
		{"predict without model", []string{"predict", "hello"}, 2},
		{"predict missing model folder", []string{"predict", "--model", filepath.Join(dir, "nope"), "hello"}, 1},
		{"predict other model type", []string{"predict", "--model", other, "hello"}, 1},
		{"predict empty message", []string{"predict", "--model", other, "  "}, 2},
		{"report bad seeds", []string{"report", "--out", out, "--seeds", "0"}, 2},
	}
	var golden strings.Builder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(context.Background(), tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (%s)", code, tc.code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "sms: ") {
				t.Errorf("last line %q does not start with \"sms: \"", last)
			}
			last = strings.ReplaceAll(last, dir, "DIR")
			fmt.Fprintf(&golden, "%s: exit %d: %s\n", tc.name, code, last)
		})
	}
	path := filepath.Join("testdata", "errors.golden")
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := readFile(t, path); golden.String() != want {
		t.Errorf("messages differ from %s (go test -update to accept):\n%s", path, golden.String())
	}
}

func TestInterruptAndResume(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if code, _, stderr := runCmd(context.Background(), tiny(full, "--dropout", "0.3")...); code != 0 {
		t.Fatalf("full run: %s", stderr)
	}
	part := filepath.Join(dir, "part")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C before the first step
	code, _, stderr := runCmd(ctx, tiny(part, "--dropout", "0.3")...)
	if code != 130 || !strings.Contains(stderr, "--resume "+part) {
		t.Fatalf("interrupted run: exit %d, stderr %s", code, stderr)
	}
	code, stdout, stderr := runCmd(context.Background(), "--resume", part)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "resuming from") {
		t.Errorf("resume output lacks the resume note:\n%s", stdout)
	}
	a, b := readFile(t, filepath.Join(full, "model.safetensors")), readFile(t, filepath.Join(part, "model.safetensors"))
	if a != b {
		t.Error("the resumed run's model differs from the uninterrupted run's")
	}
}

func TestReportFast(t *testing.T) {
	torchtest.CheckLive(t)
	out := t.TempDir()
	code, stdout, stderr := runCmd(context.Background(), "report", "--out", out, "--data", "testdata/sms_tiny.txt",
		"--device", "cpu", "--epochs", "1", "--seeds", "2", "--fast", "--vectors", "none")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	report := readFile(t, filepath.Join(out, "REPORT.md"))
	for _, want := range []string{"## A1", "## A2", "## A3", "## A4", "## A5", "| rnn.weight_hh_l0 | [80 80] | 6,400 | [120 120] | 14,400 | yes |", "± "} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
	for _, name := range []string{"a3_curves.png", "a5_convergence.png", "runs/rnn-s1/summary.json", "runs/bigru-f-double-s2/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing %s", name)
		}
	}
}
