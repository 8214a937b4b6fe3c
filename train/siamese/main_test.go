package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// tinyArgs trains on testdata's 40-pair SICK extract with 8-dimensional vectors.
func tinyArgs(out string, extra ...string) []string {
	return append([]string{"--sick", "testdata/sick_tiny.txt", "--vectors", "testdata/vectors_tiny.txt",
		"--hidden", "4", "--batch", "8", "--epochs", "2", "--tsne", "0", "--out", out}, extra...)
}

func runCmd(args ...string) (stdout, stderr string, err error) {
	var so, se bytes.Buffer
	err = run(context.Background(), args, &so, &se)
	return so.String(), se.String(), err
}

func TestTrainAndSimilarity(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	so, se, err := runCmd(tinyArgs(dir, "--json", "--tsne", "0.5")...)
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

func TestBadTrainingInput(t *testing.T) {
	torchtest.CheckLive(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown loss", tinyArgs(t.TempDir(), "--loss", "hinge"), "unknown loss"},
		{"unknown optimizer", tinyArgs(t.TempDir(), "--optimizer", "sgd"), "unknown --optimizer"},
		{"unknown augment", tinyArgs(t.TempDir(), "--augment", "backtranslate"), "unknown --augment"},
		{"no vectors", append(tinyArgs(t.TempDir()), "--vectors", "testdata/vectors_nomatch.txt"), "has a vector"},
		{"missing vectors", append(tinyArgs(t.TempDir()), "--vectors", "testdata/none.txt"), "none.txt"},
		{"bad hidden", tinyArgs(t.TempDir(), "--hidden", "4,x"), "--hidden"},
		{"bad threshold", tinyArgs(t.TempDir(), "--threshold", "7"), "--threshold"},
		{"bad embedding dropout", tinyArgs(t.TempDir(), "--embed-dropout", "1"), "--embed-dropout"},
		{"bad tai hidden", tinyArgs(t.TempDir(), "--loss", "tai", "--tai-hidden", "0"), "--tai-hidden"},
		{"bad device", tinyArgs(t.TempDir(), "--device", "tpu"), "--device"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := runCmd(c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, c.want)
			}
		})
	}
}

func TestLossesTrain(t *testing.T) {
	torchtest.CheckLive(t)
	cases := []struct {
		loss  string
		extra []string
	}{
		{"contrastive", nil},
		{"triplet", nil},
		{"tai", []string{"--tai-hidden", "5"}},
		{"malstm", []string{"--embed-dropout", "0.2", "--feature-dropout", "0.2", "--optimizer", "adadelta", "--clip", "1"}},
	}
	for _, c := range cases {
		t.Run(c.loss, func(t *testing.T) {
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

func TestResumeVectorDimension(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	if _, se, err := runCmd(tinyArgs(dir, "--epochs", "1")...); err != nil {
		t.Fatalf("%v\n%s", err, se)
	}
	_, _, err := runCmd(append(tinyArgs(dir, "--epochs", "2", "--resume"), "--vectors", "testdata/vectors_dim4.txt")...)
	if err == nil || !strings.Contains(err.Error(), "4-dimensional") {
		t.Errorf("resume with other vectors: %v", err)
	}
	if _, se, err := runCmd(tinyArgs(dir, "--epochs", "2", "--resume")...); err != nil {
		t.Fatalf("resume: %v\n%s", err, se)
	}
}
