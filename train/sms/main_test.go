package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/cli/clitest"
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
	code = cli.ExitCode("sms", err, &e)
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

// TestBadInput checks exit statuses and the messages, each one line on stderr, against
// testdata/errors.golden.
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
	// An SMS run that Ctrl-C stopped before its first step: config.json and a checkpoint.
	existing := filepath.Join(dir, "existing")
	interrupted, cancel := context.WithCancel(context.Background())
	cancel()
	if code, _, stderr := runCmd(interrupted, tiny(existing)...); code != 130 {
		t.Fatalf("interrupted run: exit %d: %s", code, stderr)
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
		{"unknown tokens", tiny(out, "--tokens", "bytes"), 2},
		{"chars with vectors", tiny(out, "--tokens", "chars", "--vectors", "default"), 2},
		{"unknown preset", tiny(out, "--preset", "fastest"), 2},
		{"ensemble member refuses a flag", tiny(out, "--preset", "best", "--caps"), 2},
		{"evaluate without model", []string{"evaluate"}, 2},
		{"evaluate empty model in list", []string{"evaluate", "--model", other + ","}, 2},
		{"evaluate other model type", []string{"evaluate", "--model", other}, 1},
		{"evaluate model named twice", []string{"evaluate", "--model", other + "," + other + "/"}, 2},
		{"unknown flag", []string{"--colour"}, 2},
		{"bad flag value", []string{"--epochs", "ten"}, 2},
		{"stray argument", []string{"fit"}, 2},
		{"bad device", tiny(out, "--device", "tpu"), 1},
		{"missing data", tiny(out, "--data", filepath.Join(dir, "nope.txt")), 1},
		{"out of an existing run", tiny(existing), 2},
		{"missing resume folder", []string{"--resume", filepath.Join(dir, "nope")}, 1},
		{"resume a folder without a run", []string{"--resume", dir}, 1},
		{"resume another model's run", []string{"--resume", other}, 1},
		{"resume with another lr", []string{"--resume", existing, "--epochs", "3", "--lr", "0.1"}, 2},
		{"resume with another cell", []string{"--resume", existing, "--cell", "lstm"}, 2},
		{"resume into another folder", []string{"--resume", existing, "--out", out}, 2},
		{"resume with force", []string{"--resume", existing, "--force"}, 2},
		{"predict without model", []string{"predict", "hello"}, 2},
		{"predict missing model folder", []string{"predict", "--model", filepath.Join(dir, "nope"), "hello"}, 1},
		{"predict other model type", []string{"predict", "--model", other, "hello"}, 1},
		{"predict empty message", []string{"predict", "--model", other, "  "}, 2},
		{"serve without model", []string{"serve"}, 2},
		{"serve bad address", []string{"serve", "--model", other, "--addr", "8080"}, 2},
		{"serve zero batch", []string{"serve", "--model", other, "--max-batch", "0"}, 2},
		{"serve bad wait", []string{"serve", "--model", other, "--max-wait", "-1"}, 2},
		{"serve stray argument", []string{"serve", "--model", other, "now"}, 2},
		{"serve other model type", []string{"serve", "--model", other}, 1},
		{"report bad seeds", []string{"report", "--out", out, "--seeds", "0"}, 2},
		{"report stray argument", []string{"report", "now"}, 2},
	}
	var golden strings.Builder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tc.args, io.Discard, &stderr)
			golden.WriteString(clitest.ErrorLine(t, "sms", tc.name, err, tc.code, stderr.String(), dir))
		})
	}
	clitest.NotCreated(t, filepath.Join(dir, "nope"), out)
	clitest.Golden(t, filepath.Join("testdata", "errors.golden"), golden.String(), *update)
}

// TestForce checks that --force replaces the run an --out folder holds, and only its files.
func TestForce(t *testing.T) {
	torchtest.CheckLive(t)
	out := filepath.Join(t.TempDir(), "run")
	interrupted, cancel := context.WithCancel(context.Background())
	cancel()
	if code, _, stderr := runCmd(interrupted, tiny(out)...); code != 130 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	for name, content := range map[string]string{"summary.json": "{}", "notes.txt": "mine", ".curves.png.tmp-1": ""} {
		if err := os.WriteFile(filepath.Join(out, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, _, stderr := runCmd(interrupted, tiny(out, "--force", "--cell", "gru")...)
	if code != 130 {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	var c struct {
		Model struct{ Cell string } `json:"model"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, "config.json"))), &c); err != nil || c.Model.Cell != "gru" {
		t.Errorf("config.json after --force: cell %q, %v", c.Model.Cell, err)
	}
	for name, want := range map[string]bool{"summary.json": false, ".curves.png.tmp-1": false, "notes.txt": true} {
		if _, err := os.Stat(filepath.Join(out, name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
}

// folderContents returns the files under dir (their content by relative path), skipping the
// lock file.
func folderContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == cli.LockFile {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b, err := os.ReadFile(path)
		m[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestForceFailedRunKeepsOld: a --force run that fails before its first checkpoint (a missing
// --data file, an unreadable one) leaves the run it was to replace as it was.
func TestForceFailedRunKeepsOld(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	interrupted, cancel := context.WithCancel(context.Background())
	cancel()
	if code, _, stderr := runCmd(interrupted, tiny(out)...); code != 130 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	before := folderContents(t, out)
	if len(before) < 3 {
		t.Fatalf("the first run wrote only %v", before)
	}
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("ham\tcaf\xe9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, data := range []string{filepath.Join(dir, "missing.txt"), bad} {
		code, _, stderr := runCmd(context.Background(), append(tiny(out, "--force"), "--data", data)...)
		if code == 0 || code == 130 {
			t.Fatalf("--force --data %s: exit %d: %s", data, code, stderr)
		}
		after := folderContents(t, out)
		if len(after) != len(before) {
			t.Errorf("--force --data %s: the folder holds %d files, had %d", data, len(after), len(before))
		}
		for name, b := range before {
			if after[name] != b {
				t.Errorf("--force --data %s: %s changed or is gone", data, name)
			}
		}
	}
}

// TestOutLocked: a run on a folder another run is writing is refused, naming the process.
func TestOutLocked(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	unlock, err := cli.LockOut(out, "--out")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	code, _, stderr := runCmd(context.Background(), tiny(out)...)
	want := fmt.Sprintf("--out %s is being written by another run (process %d)", out, os.Getpid())
	if code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, want)
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
	code, _, stderr := runCmd(ctx, tiny(part, "--dropout", "0.3", "--epochs", "1")...)
	want := "sms: interrupted; checkpoint saved. Resume with: go run ./train/sms --resume " + part + "\n"
	if code != 130 || !strings.HasSuffix(stderr, want) {
		t.Fatalf("interrupted run: exit %d, stderr %q, want it to end with %q", code, stderr, want)
	}
	// The run's own configuration comes back (dropout 0.3, lr 0.01, the tiny sizes...): only
	// the epochs change, and repeating a saved value is no contradiction.
	code, stdout, stderr := runCmd(context.Background(), "--resume", part, "--epochs", "2", "--dropout", "0.3", "--json", "-")
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "resuming from") || !strings.Contains(stderr, "epoch 2/2") {
		t.Errorf("with --json -, the progress and the log go to stderr:\n%s", stderr)
	}
	var sum Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json - printed no JSON summary: %v\n%s", err, stdout)
	}
	if sum.Epochs != 2 || sum.Model.Dropout != 0.3 || !(sum.SecondsPerEpoch > 0) {
		t.Errorf("summary: epochs %d, dropout %v, seconds per epoch %v", sum.Epochs, sum.Model.Dropout, sum.SecondsPerEpoch)
	}
	if got := readFile(t, filepath.Join(part, "summary.json")); got != stdout {
		t.Errorf("--json - printed something else than summary.json:\n%s\n%s", stdout, got)
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
		"--device", "cpu", "--epochs", "2", "--seeds", "2", "--fast", "--vectors", "none")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	report := readFile(t, filepath.Join(out, "REPORT.md"))
	for _, want := range []string{"## A1", "## A2", "## A3", "## A4", "## A5", "## A7", "| GRU (1 layer) | warmup-cosine | ", "| rnn.weight_hh_l0 | [80 80] | 6,400 | [120 120] | 14,400 | yes |", "± "} {
		if !strings.Contains(report, want) {
			t.Errorf("REPORT.md lacks %q", want)
		}
	}
	for _, name := range []string{"a3_curves.png", "a5_convergence.png", "runs/rnn-s1/summary.json", "runs/bigru-f-double-s2/model.safetensors", "runs/gru-warmup-cosine-s2/checkpoint/scheduler.pt"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing %s", name)
		}
	}
}

// TestPresetWords trains --preset words on the fixture, its sizes and vectors overridden by
// the flags that follow it: the run keeps the rest of the preset.
func TestPresetWords(t *testing.T) {
	torchtest.CheckLive(t)
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"--preset", "words"}, tiny(out, "--vectors", "", "--json", "-", "--epochs", "1")...)
	code, stdout, stderr := runCmd(context.Background(), args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var sum Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if m := sum.Model; m.Cell != "lstm" || m.Pooling != "max" || m.Dropout != 0.3 || m.Embed != 8 || sum.Epochs != 1 {
		t.Errorf("--preset words trained %+v for %d epochs; want the preset's lstm, max pooling, dropout 0.3 with the flags' embed 8 and 1 epoch", m, sum.Epochs)
	}
}

// TestPresetBestEnsemble trains the ensemble preset on the fixture: three member runs inside
// --out, ensemble.json and the ensemble's summary, which evaluate reproduces; predict and
// evaluate take the ensemble folder or the members' list.
func TestPresetBestEnsemble(t *testing.T) {
	torchtest.CheckLive(t)
	out := filepath.Join(t.TempDir(), "ens")
	args := append([]string{"--preset", "best"}, tiny(out, "--vectors", "", "--json", "-", "--epochs", "1")...)
	code, stdout, stderr := runCmd(context.Background(), args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var sum EnsembleSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	if !slices.Equal(sum.Members, []string{"words", "raw", "chars"}) || len(sum.MemberTestAcc) != 3 || sum.TestSize == 0 || sum.TestAccuracy <= 0 || sum.TestAccuracy > 1 {
		t.Fatalf("ensemble summary %+v", sum)
	}
	for _, m := range []string{"words", "raw", "chars"} {
		c, err := readConfig(filepath.Join(out, m))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"chars": "chars"}[m]; (want == "chars") != (c.Options.Tokens == "chars") || c.Options.Epochs != 1 {
			t.Errorf("member %s: tokens %q, %d epochs", m, c.Options.Tokens, c.Options.Epochs)
		}
		if m == "raw" && c.Options.Placeholders {
			t.Errorf("member raw keeps placeholders")
		}
	}
	if _, err := os.Stat(filepath.Join(out, cli.EnsembleFile)); err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{out, strings.Join([]string{filepath.Join(out, "words"), filepath.Join(out, "raw"), filepath.Join(out, "chars")}, ",")} {
		code, stdout, stderr = runCmd(context.Background(), "evaluate", "--model", model, "--device", "cpu", "--json", "-")
		if code != 0 {
			t.Fatalf("evaluate: exit %d: %s", code, stderr)
		}
		var ev EnsembleSummary
		if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.TestAccuracy != sum.TestAccuracy || ev.ValLoss != sum.ValLoss || len(ev.Members) != 3 {
			t.Errorf("evaluate --model %s: %+v, training's summary %+v", model, ev, sum)
		}
		code, stdout, stderr = runCmd(context.Background(), "predict", "--model", model, "--device", "cpu", "see you at dinner mum")
		if code != 0 || !strings.HasSuffix(strings.TrimSpace(stdout), "\tsee you at dinner mum") {
			t.Errorf("predict: exit %d: %s%s", code, stdout, stderr)
		}
	}
	// The folder now holds an ensemble: a second run needs --force.
	if code, _, stderr = runCmd(context.Background(), args...); code != 2 || !strings.Contains(stderr, "already holds an ensemble") {
		t.Errorf("second run: exit %d: %s", code, stderr)
	}
}

// TestPresetBestContinues: an ensemble whose first member was trained alone (as after a
// Ctrl-C and a --resume) is continued by rerunning the ensemble: that member is resumed with
// every flag checked against its run, the others train; a member run with other flags is
// refused, naming the flag.
func TestPresetBestContinues(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "ens")
	flags := func(extra ...string) []string {
		return tiny(out, append([]string{"--vectors", "", "--epochs", "1"}, extra...)...)
	}
	words := append([]string{"--preset", "words"}, tiny(filepath.Join(out, "words"), "--vectors", "", "--epochs", "1")...)
	if code, _, stderr := runCmd(context.Background(), words...); code != 0 {
		t.Fatalf("words: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCmd(context.Background(), append([]string{"--preset", "best"}, flags()...)...)
	if code != 0 || !strings.Contains(stdout, "member 1 of 3, continuing the run in "+filepath.Join(out, "words")) || !strings.Contains(stdout, "member 3 of 3, --preset chars") {
		t.Fatalf("continuing: exit %d\n%s\n%s", code, stdout, stderr)
	}
	other := filepath.Join(dir, "other")
	words = append([]string{"--preset", "words"}, tiny(filepath.Join(other, "words"), "--vectors", "", "--epochs", "1", "--lr", "0.02")...)
	if code, _, stderr := runCmd(context.Background(), words...); code != 0 {
		t.Fatalf("words: exit %d: %s", code, stderr)
	}
	code, _, stderr = runCmd(context.Background(), append([]string{"--preset", "best"}, tiny(other, "--vectors", "", "--epochs", "1")...)...)
	if code != 2 || !strings.Contains(stderr, "member words: --lr 0.01 contradicts") {
		t.Errorf("other flags: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(other, "raw")); err == nil {
		t.Errorf("member raw trained although words was refused")
	}
}
