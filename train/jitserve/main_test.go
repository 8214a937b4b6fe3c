package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch/jit/jittest"
	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/cli/clitest"
	"github.com/seqtorch/seqtorch/train/serve/loadgen"
)

func TestMain(m *testing.M) {
	if args := os.Getenv("JITSERVE_HELPER_ARGS"); args != "" { // the SIGTERM test's server process
		os.Exit(cli.ExitCode("jitserve", run(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr), os.Stderr))
	}
	jittest.Main(m)
}

// pyClassifier is scripts/jit_ref.py's answer for the serving fixture.
type pyClassifier struct {
	Messages []string    `json:"messages"`
	Labels   []string    `json:"labels"`
	Probs    [][]float64 `json:"probs"`
}

func fixture(t *testing.T) (model, vocab string, want pyClassifier) {
	t.Helper()
	dir := jittest.Fixtures(t)
	var e struct {
		Classifier pyClassifier `json:"classifier"`
	}
	jittest.Expected(t, &e)
	return filepath.Join(dir, "classifier.pt"), filepath.Join(dir, "vocab.txt"), e.Classifier
}

type prediction map[string]any

func postJSON(url, body string) (int, []byte, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func predict(url string, msgs []string) ([]prediction, error) {
	body, _ := json.Marshal(map[string]any{"messages": msgs})
	code, b, err := postJSON(url+"/v1/predict", string(body))
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", code, b)
	}
	var out struct {
		Predictions []prediction `json:"predictions"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	if len(out.Predictions) != len(msgs) {
		return nil, fmt.Errorf("%d predictions for %d messages", len(out.Predictions), len(msgs))
	}
	return out.Predictions, nil
}

// check compares predictions with PyTorch's for messages want.Messages[idx...].
func check(p []prediction, want pyClassifier, idx []int) error {
	for k, i := range idx {
		if p[k]["label"] != want.Labels[i] {
			return fmt.Errorf("message %q: label %v, PyTorch %s", want.Messages[i], p[k]["label"], want.Labels[i])
		}
		for c, name := range []string{"p_ham", "p_spam"} {
			got, _ := p[k][name].(float64)
			if d := math.Abs(got - want.Probs[i][c]); d > 1e-6 {
				return fmt.Errorf("message %q: %s %g, PyTorch %g", want.Messages[i], name, got, want.Probs[i][c])
			}
		}
	}
	return nil
}

// TestServe: the served TorchScript classifier answers PyTorch's labels and probabilities for
// a fixed list of messages, in one request and from 8 concurrent clients (micro-batched with
// padding); malformed JSON is a 400; /metrics counts; a cancelled context drains and exits 0.
func TestServe(t *testing.T) {
	torchtest.CheckLive(t)
	model, vocab, want := fixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, log, code := clitest.StartServe(t, ctx, "jitserve", run, time.Minute,
		"--model", model, "--vocab", vocab, "--labels", "ham,spam", "--device", "cpu",
		"--addr", "127.0.0.1:0", "--max-wait", "2")
	all := make([]int, len(want.Messages))
	for i := range all {
		all[i] = i
	}
	p, err := predict(url, want.Messages)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(p, want, all); err != nil {
		t.Error(err)
	}

	const clients, rounds = 8, 6
	var wg sync.WaitGroup
	errs := make(chan error, clients*rounds)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				i := (c + r) % len(want.Messages)
				p, err := predict(url, []string{want.Messages[i]})
				if err == nil {
					err = check(p, want, []int{i})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	if status, b, err := postJSON(url+"/v1/predict", `{"messages": [`); err != nil || status != http.StatusBadRequest {
		t.Errorf("malformed JSON: %d %s %v, want 400", status, b, err)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	items := fmt.Sprintf("seqtorch_jit_items_total %d", len(want.Messages)+clients*rounds)
	if !strings.Contains(string(m), items) {
		t.Errorf("/metrics lacks %q:\n%s", items, m)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d after cancel: %s", c, log.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("no exit a minute after cancel")
	}
	if !strings.Contains(log.String(), "stopped:") {
		t.Errorf("log lacks the drain's last line:\n%s", log.String())
	}
}

// TestSIGTERM: a server process answers a request, then drains and exits 0 on SIGTERM.
func TestSIGTERM(t *testing.T) {
	model, vocab, want := fixture(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JITSERVE_HELPER_ARGS="+strings.Join([]string{"--model", model, "--vocab", vocab,
		"--labels", "ham,spam", "--device", "cpu", "--addr", "127.0.0.1:0"}, "\x1f"))
	log := clitest.NewServeLog()
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var url string
	select {
	case url = <-log.URL:
	case err := <-done:
		t.Fatalf("exited (%v) before listening: %s", err, log.String())
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("not listening after a minute: %s", log.String())
	}
	p, err := predict(url, want.Messages[:2])
	if err == nil {
		err = check(p, want, []int{0, 1})
	}
	if err != nil {
		t.Error(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v: %s", err, log.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("no exit a minute after SIGTERM: %s", log.String())
	}
	if !strings.Contains(log.String(), "stopped: 2 messages") {
		t.Errorf("log lacks the drain's last line:\n%s", log.String())
	}
}

// TestErrors: a state dict as --model, a missing --vocab, a vocabulary without --unk's token,
// --labels of the wrong count: exit status and one clear line each, before listening.
func TestErrors(t *testing.T) {
	torchtest.CheckLive(t)
	model, vocab, _ := fixture(t)
	dir := jittest.Fixtures(t)
	noUnk := filepath.Join(t.TempDir(), "vocab.txt")
	os.WriteFile(noUnk, []byte("<pad>\nfree\n"), 0o644)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--model", filepath.Join(dir, "state_dict.pt"), "--vocab", vocab}, 1, "is a torch.save file"},
		{[]string{"--model", model}, 2, "--vocab FILE is required"},
		{[]string{"--model", model, "--vocab", noUnk}, 1, `has no token "<unk>"`},
		{[]string{"--model", model, "--vocab", vocab, "--labels", "a,b,c"}, 1, "--labels: 3 names for the 2 classes"},
		{[]string{"--model", model, "--vocab", vocab, "--tokenizer", "bpe"}, 2, `--tokenizer "bpe"`},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		err := run(context.Background(), append(c.args, "--device", "cpu", "--addr", "127.0.0.1:0"), io.Discard, &stderr)
		got := cli.ExitCode("jitserve", err, &stderr)
		msg := strings.TrimSpace(stderr.String())
		if got != c.code || !strings.Contains(msg, c.msg) || strings.Contains(msg, "serving on") {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", c.args, got, msg, c.code, c.msg)
		}
	}
}

// TestLoad loads the server as `sms serve` is load-tested (train/serve/loadgen: closed-loop
// clients, bounded in requests and time): no errors, every answer the same for a message and
// equal to PyTorch's label; the throughput is logged.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	model, vocab, want := fixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, log, code := clitest.StartServe(t, ctx, "jitserve", run, time.Minute,
		"--model", model, "--vocab", vocab, "--labels", "ham,spam", "--device", "cpu",
		"--addr", "127.0.0.1:0")
	res, err := loadgen.Run(ctx, loadgen.Options{URL: url, Messages: want.Messages, Concurrency: 16, Requests: 800, Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("16 clients, 1 message a request: %d requests, %.0f messages/s, p50 %.2f ms, p99 %.2f ms",
		res.Requests, res.Throughput, res.P50, res.P99)
	if res.Errors != 0 || res.Inconsistent != 0 {
		t.Errorf("%d errors (first: %s), %d inconsistent answers", res.Errors, res.FirstError, res.Inconsistent)
	}
	for i, a := range res.Answers {
		if a.Label != "" && a.Label != want.Labels[i] {
			t.Errorf("message %q: %s, PyTorch %s", want.Messages[i], a.Label, want.Labels[i])
		}
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d: %s", c, log.String())
	}
}
