package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/cli/clitest"
	"github.com/seqtorch/seqtorch/train/loop"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// tinyArgs trains on testdata's 40-pair SICK extract with 8-dimensional vectors.
func tinyArgs(out string, extra ...string) []string {
	return append([]string{"--sick", "testdata/sick_tiny.txt", "--vectors", "testdata/vectors_tiny.txt",
		"--hidden", "4", "--batch", "8", "--epochs", "2", "--tsne", "0", "--device", "cpu", "--out", out}, extra...)
}

func runCmd(args ...string) (stdout, stderr string, err error) {
	return runCtx(context.Background(), args...)
}

func runCtx(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var so, se bytes.Buffer
	err = run(ctx, args, &so, &se)
	return so.String(), se.String(), err
}

// interrupted is a context that Ctrl-C has already cancelled: a run stops before its first
// step, having written its configuration and a checkpoint.
func interrupted() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestTrainAndSimilarity(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	so, se, err := runCmd(tinyArgs(dir, "--json", "-", "--tsne", "0.5")...)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, se)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(so), &sum); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, so)
	}
	for _, k := range []string{"loss", "test_pearson", "test_spearman", "test_mse", "test_accuracy", "params_trainable",
		"params_total", "train_pairs", "seconds_per_epoch", "device"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("--json lacks %q", k)
		}
	}
	if sum["train_pairs"].(float64) != 24 {
		t.Errorf("train_pairs = %v, want 24", sum["train_pairs"])
	}
	for _, f := range []string{"metrics.jsonl", "summary.json", "curves.png", "params.txt", modelFile, vocabFile, configFile, "tsne.png", "tsne.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	if !strings.Contains(se, "trainable params") {
		t.Errorf("no parameter table on stderr with --json:\n%s", se)
	}

	so, _, err = runCmd("similarity", "--model", dir, "A man is playing a guitar", "A man is playing a flute")
	if err != nil {
		t.Fatalf("similarity: %v", err)
	}
	if !strings.HasPrefix(so, "relatedness ") {
		t.Errorf("similarity printed %q", so)
	}
	// A finished run resumed for more epochs and interrupted at once still scores as before:
	// its config.json keeps the calibration of the model it holds.
	if _, _, err := runCtx(interrupted(), "--resume", dir, "--epochs", "3"); !errors.Is(err, loop.ErrInterrupted) {
		t.Fatalf("resume: %v", err)
	}
	if again, _, err := runCmd("similarity", "--model", dir, "A man is playing a guitar", "A man is playing a flute"); err != nil || again != so {
		t.Errorf("similarity after an interrupted resume: %q, %v; want %q", again, err, so)
	}

	// Bad input to similarity: one clear error each.
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"empty sentence", []string{"similarity", "--model", dir, "  ", "A man"}, "empty sentence"},
		{"no known word", []string{"similarity", "--model", dir, "qwxz zzyq", "A man"}, "no word of"},
		{"one sentence", []string{"similarity", "--model", dir, "A man"}, "want two sentences"},
		{"vectors dimension", []string{"similarity", "--model", dir, "--vectors", "testdata/vectors_dim4.txt", "A man", "A dog"}, "4-dimensional"},
		{"not a model", []string{"similarity", "--model", t.TempDir(), "A man", "A dog"}, "not a trained model folder"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := runCmd(c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, c.want)
			}
		})
	}
}

// TestBadInput checks exit statuses and the messages, each one line, against
// testdata/errors.golden.
func TestBadInput(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if _, se, err := runCtx(interrupted(), tinyArgs(existing)...); !errors.Is(err, loop.ErrInterrupted) {
		t.Fatalf("interrupted run: %v\n%s", err, se)
	}
	sms := filepath.Join(dir, "sms-run")
	if err := os.MkdirAll(sms, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sms, "config.json"), []byte(`{"kind": "smsrnn", "model": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"unknown loss", tinyArgs(out, "--loss", "hinge"), 2},
		{"unknown optimizer", tinyArgs(out, "--optimizer", "sgd"), 2},
		{"unknown augment", tinyArgs(out, "--augment", "backtranslate"), 2},
		{"bad hidden", tinyArgs(out, "--hidden", "4,x"), 2},
		{"bad threshold", tinyArgs(out, "--threshold", "7"), 2},
		{"bad embedding dropout", tinyArgs(out, "--embed-dropout", "1"), 2},
		{"bad tai hidden", tinyArgs(out, "--loss", "tai", "--tai-hidden", "0"), 2},
		{"negative lr", tinyArgs(out, "--lr", "-1"), 2},
		{"unknown flag", []string{"--colour"}, 2},
		{"bad flag value", []string{"--epochs", "ten"}, 2},
		{"stray argument", []string{"fit"}, 2},
		{"bad device", tinyArgs(out, "--device", "tpu"), 1},
		{"no vectors", append(tinyArgs(out), "--vectors", "testdata/vectors_nomatch.txt"), 1},
		{"missing vectors", append(tinyArgs(out), "--vectors", "testdata/none.txt"), 1},
		{"out of an existing run", tinyArgs(existing), 2},
		{"missing resume folder", []string{"--resume", filepath.Join(dir, "nope")}, 1},
		{"resume a folder without a run", []string{"--resume", dir}, 1},
		{"resume another model's run", []string{"--resume", sms}, 1},
		{"resume with another lr", []string{"--resume", existing, "--epochs", "3", "--lr", "0.01"}, 2},
		{"resume with another loss", []string{"--resume", existing, "--loss", "tai"}, 2},
		{"resume with other vectors", []string{"--resume", existing, "--vectors", "testdata/vectors_dim4.txt"}, 2},
		{"resume into another folder", []string{"--resume", existing, "--out", out}, 2},
		{"similarity of one sentence", []string{"similarity", "--model", existing, "A man"}, 2},
		{"similarity of an unfinished run", []string{"similarity", "--model", existing, "A man", "A dog"}, 1},
		{"report bad seeds", []string{"report", "--seeds", "0"}, 2},
	}
	var golden strings.Builder
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, err := runCmd(c.args...)
			golden.WriteString(clitest.ErrorLine(t, "siamese", c.name, err, c.code, stderr, dir))
		})
	}
	clitest.NotCreated(t, filepath.Join(dir, "nope"), out)
	clitest.Golden(t, filepath.Join("testdata", "errors.golden"), golden.String(), *update)
}

func TestLossesTrain(t *testing.T) {
	torchtest.CheckLive(t)
	cases := []struct {
		name, loss string
		extra      []string
	}{
		{"contrastive", "contrastive", nil},
		{"triplet", "triplet", nil},
		{"tai", "tai", []string{"--tai-hidden", "5"}},
		{"tai-entailment", "tai", []string{"--tai-hidden", "5", "--entailment", "0.5"}},
		{"malstm", "malstm", []string{"--embed-dropout", "0.2", "--feature-dropout", "0.2", "--optimizer", "adadelta", "--clip", "1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, se, err := runCmd(tinyArgs(dir, append([]string{"--loss", c.loss, "--epochs", "1"}, c.extra...)...)...); err != nil {
				t.Fatalf("%v\n%s", err, se)
			}
			so, _, err := runCmd("similarity", "--model", dir, "A man is playing a guitar", "A man is playing a flute")
			if err != nil || !strings.HasPrefix(so, "relatedness ") {
				t.Errorf("similarity: %q, %v", so, err)
			}
		})
	}
}

// TestEnsemble: similarity with several --model folders prints the mean of the models'
// relatedness; models that do not share the threshold are refused in one line.
func TestEnsemble(t *testing.T) {
	torchtest.CheckLive(t)
	var dirs []string
	for _, extra := range [][]string{{"--seed", "1"}, {"--seed", "2"}, {"--seed", "3", "--threshold", "3"}} {
		dir := t.TempDir()
		if _, se, err := runCmd(tinyArgs(dir, append([]string{"--loss", "tai", "--tai-hidden", "5", "--epochs", "1"}, extra...)...)...); err != nil {
			t.Fatalf("%v\n%s", err, se)
		}
		dirs = append(dirs, dir)
	}
	score := func(model string) float64 {
		t.Helper()
		so, _, err := runCmd("similarity", "--model", model, "A man is playing a guitar", "A man is playing a flute")
		if err != nil {
			t.Fatalf("similarity --model %s: %v", model, err)
		}
		var rel float64
		if _, err := fmt.Sscanf(so, "relatedness %f", &rel); err != nil {
			t.Fatalf("similarity printed %q", so)
		}
		return rel
	}
	a, b := score(dirs[0]), score(dirs[1])
	if a == b {
		t.Fatalf("two seeds give the same relatedness %v: the test cannot tell a mean", a)
	}
	if got := score(dirs[0] + "," + dirs[1]); math.Abs(got-(a+b)/2) > 0.006 { // printed with 2 decimals
		t.Errorf("ensemble relatedness %v, want the mean of %v and %v", got, a, b)
	}
	// evaluate scores TRIAL and TEST with the ensemble, as training scored them with one model.
	so, _, err := runCmd("evaluate", "--model", dirs[0]+","+dirs[1], "--sick", "testdata/sick_tiny.txt", "--device", "cpu", "--json", "-")
	if err != nil {
		t.Fatalf("evaluate: %v", err)
	}
	var es ensembleScores
	if err := json.Unmarshal([]byte(so), &es); err != nil || es.Models != 2 || es.TestPairs == 0 || es.MSPerKPair <= 0 || math.IsNaN(es.Test.MSE) {
		t.Errorf("evaluate --json printed %q (%v)", so, err)
	}
	so, _, err = runCmd("evaluate", "--model", dirs[0], "--sick", "testdata/sick_tiny.txt", "--device", "cpu", "--json", "-")
	var one ensembleScores
	if err != nil || json.Unmarshal([]byte(so), &one) != nil {
		t.Fatalf("evaluate one model: %v %q", err, so)
	}
	var sum summary
	raw, err := os.ReadFile(filepath.Join(dirs[0], "summary.json"))
	if err != nil || json.Unmarshal(raw, &sum) != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if math.Abs(one.Test.MSE-sum.TestMSE) > 1e-9 || math.Abs(one.Trial.MSE-sum.TrialMSE) > 1e-9 {
		t.Errorf("evaluate of one model: TEST MSE %v, TRIAL %v; its training measured %v, %v", one.Test.MSE, one.Trial.MSE, sum.TestMSE, sum.TrialMSE)
	}
	_, _, err = runCmd("similarity", "--model", dirs[0]+","+dirs[2], "A man", "A dog")
	if err == nil || !strings.Contains(err.Error(), "must share it") || strings.Contains(err.Error(), "\n") {
		t.Errorf("ensemble with another threshold: %v", err)
	}
}

// TestResume interrupts a run and resumes it: the run keeps its own settings (the learning
// rate and its decay, the dropout), ends with the uninterrupted run's model, and refuses
// vectors whose dimension changed since.
func TestResume(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	settings := []string{"--lr", "0.003", "--lr-decay", "0.5", "--embed-dropout", "0.1"}
	full := filepath.Join(dir, "full")
	if _, se, err := runCmd(tinyArgs(full, settings...)...); err != nil {
		t.Fatalf("%v\n%s", err, se)
	}
	// Vectors in a file of their own, so that the test can change them under the run.
	vectors := filepath.Join(dir, "vectors.txt")
	copyTestFile(t, vectors, "testdata/vectors_tiny.txt")
	part := filepath.Join(dir, "part")
	args := append(tinyArgs(part, settings...), "--epochs", "1", "--vectors", vectors)
	_, _, err := runCtx(interrupted(), args...)
	want := "interrupted; checkpoint saved. Resume with: go run ./train/siamese --resume " + part
	if err == nil || err.Error() != want {
		t.Fatalf("interrupted run: %v, want %q", err, want)
	}

	copyTestFile(t, vectors, "testdata/vectors_dim4.txt")
	if _, _, err := runCmd("--resume", part); err == nil || !strings.Contains(err.Error(), "4-dimensional") {
		t.Errorf("resume after the vectors changed: %v", err)
	}
	copyTestFile(t, vectors, "testdata/vectors_tiny.txt")
	so, se, err := runCmd("--resume", part, "--epochs", "2", "--lr", "0.003", "--json", "-")
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, se)
	}
	var sum summary
	if err := json.Unmarshal([]byte(so), &sum); err != nil {
		t.Fatalf("--json - printed no summary: %v\n%s", err, so)
	}
	if sum.Epochs != 2 || sum.LR != 0.003 || sum.LRDecay != 0.5 || sum.EmbedDropout != 0.1 || !(sum.SecondsPerEpoch > 0) {
		t.Errorf("resumed summary: epochs %d lr %v lr_decay %v embed_dropout %v seconds_per_epoch %v",
			sum.Epochs, sum.LR, sum.LRDecay, sum.EmbedDropout, sum.SecondsPerEpoch)
	}
	a, errA := os.ReadFile(filepath.Join(full, modelFile))
	b, errB := os.ReadFile(filepath.Join(part, modelFile))
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("the resumed run's model differs from the uninterrupted run's (%v, %v)", errA, errB)
	}
}

func copyTestFile(t *testing.T, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPresetBest trains the best preset on the tiny data (its sizes and epochs overridden by
// the flags that follow it): the run is the preset's configuration.
func TestPresetBest(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	so, se, err := runCmd(append([]string{"--preset", "best"}, tinyArgs(dir, "--tai-hidden", "5", "--epochs", "1", "--json", "-")...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, se)
	}
	var sum summary
	if err := json.Unmarshal([]byte(so), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Loss != "tai" || sum.Entailment != 0.5 || sum.TaiHidden != 5 || sum.Epochs != 1 {
		t.Errorf("--preset best trained loss %q, entailment %v, tai hidden %d, %d epochs; want tai, 0.5, 5 (the flag), 1", sum.Loss, sum.Entailment, sum.TaiHidden, sum.Epochs)
	}
}
