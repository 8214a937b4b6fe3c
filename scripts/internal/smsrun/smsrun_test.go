package smsrun

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// The tests read run folders that the real command writes: `go run ./train/sms`, built once.
var sms struct {
	once sync.Once
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sms.bin != "" {
		os.RemoveAll(filepath.Dir(sms.bin))
	}
	os.Exit(code)
}

// smsCommand returns the train/sms binary, skipping the test where no Go toolchain is (a test
// binary carried to the GPU machine).
func smsCommand(tb testing.TB) string {
	tb.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		tb.Skip("no go command to build train/sms with")
	}
	sms.once.Do(func() {
		dir, err := os.MkdirTemp("", "smsrun-test")
		if err != nil {
			sms.err = err
			return
		}
		sms.bin = filepath.Join(dir, "sms")
		out, err := exec.Command("go", "build", "-o", sms.bin, "github.com/seqtorch/seqtorch/train/sms").CombinedOutput()
		if err != nil {
			sms.err = &buildError{err, string(out)}
		}
	})
	if sms.err != nil {
		tb.Fatal(sms.err)
	}
	return sms.bin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build ./train/sms: " + e.err.Error() + "\n" + e.out }

// trainTiny trains a one-epoch LSTM on train/sms's fixture (flags added after the defaults)
// and returns its run folder.
func trainTiny(tb testing.TB, extra ...string) string {
	tb.Helper()
	bin := smsCommand(tb)
	fixture, err := filepath.Abs(filepath.Join("..", "..", "..", "train", "sms", "testdata", "sms_tiny.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(tb.TempDir(), "run")
	args := append([]string{"--data", fixture, "--out", out, "--device", "cpu", "--cell", "lstm", "--embed", "8", "--hidden", "8",
		"--dense", "4", "--batch", "16", "--epochs", "1", "--min-count", "1", "--lr", "0.01"}, extra...)
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		tb.Fatalf("sms %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

func openTiny(tb testing.TB, extra ...string) *Run {
	tb.Helper()
	r, err := Open(trainTiny(tb, extra...))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestPredictorMatchesPredict checks that the single-message predictor (unpacked, one row)
// gives `sms predict`'s probabilities (the batched evaluation), for messages of different
// lengths, with and without --max-len and placeholders.
func TestPredictorMatchesPredict(t *testing.T) {
	torchtest.CheckLive(t)
	msgs := []string{BenchMessage, "ok see you later", "hi", "FREE entry!! txt WIN to 80086 now to claim your prize of £1000 cash"}
	for _, extra := range [][]string{nil, {"--max-len", "5", "--placeholders=false"}} {
		r := openTiny(t, extra...)
		cmd := exec.Command(smsCommand(t), "predict", "--model", r.Dir, "--device", "cpu", "--json")
		cmd.Stdin = strings.NewReader(strings.Join(msgs, "\n") + "\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sms predict: %v", err)
		}
		var want []float64
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var p struct {
				PSpam float64 `json:"p_spam"`
			}
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			want = append(want, p.PSpam)
		}
		if len(want) != len(msgs) {
			t.Fatalf("sms predict gave %d answers for %d messages", len(want), len(msgs))
		}
		runtime.LockOSThread()
		m, err := r.LoadModel()
		if err != nil {
			t.Fatal(err)
		}
		p := r.NewPredictor(m)
		for i, msg := range msgs {
			got, err := p.SpamProbability(msg)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-want[i]) > 1e-6 {
				t.Errorf("%v, message %d: predictor %v, sms predict %v", extra, i, got, want[i])
			}
			if n := r.Config.Options.MaxLen; n > 0 && len(p.IDs()) > n {
				t.Errorf("%v, message %d: %d ids, --max-len %d", extra, i, len(p.IDs()), n)
			}
		}
		m.Close()
		runtime.UnlockOSThread()
	}
}

// TestBenchModes runs WriteInputs, Export and Latency on a run folder.
func TestBenchModes(t *testing.T) {
	torchtest.CheckLive(t)
	r := openTiny(t)
	dir := t.TempDir()
	sp, err := WriteInputs(r, dir)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk InputsSpec
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.Steps != sp.Steps || sp.Steps < 1 || sp.Model.Cell != "lstm" || sp.Model.Vocab != int64(r.Vocab.Len()) || sp.Batch != 16 {
		t.Errorf("spec.json = %+v, WriteInputs returned %+v", onDisk, sp)
	}
	// The batches are those the run trained on: as many steps as its first epoch.
	m, err := os.ReadFile(filepath.Join(r.Dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Steps int `json:"steps"`
	}
	if err := json.Unmarshal(bytes.SplitN(m, []byte("\n"), 2)[0], &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Steps != sp.Steps {
		t.Errorf("inputs hold %d batches, the run's first epoch %d steps", sp.Steps, rec.Steps)
	}
	names, ts, err := torch.LoadDict(filepath.Join(dir, "batches.pt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		x.Close()
	}
	if len(names) != 3*sp.Steps {
		t.Errorf("batches.pt holds %d tensors, want %d", len(names), 3*sp.Steps)
	}
	if _, err := os.Stat(filepath.Join(dir, "init.pt")); err != nil {
		t.Error(err)
	}

	ls, err := Export(r, dir, BenchMessage)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.IDs) == 0 || !(ls.PSpam >= 0 && ls.PSpam <= 1) {
		t.Errorf("latency.json = %+v", ls)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.pt")); err != nil {
		t.Error(err)
	}

	lat, err := Latency(r, LatencyOptions{N: 20, Warmup: 2, Message: BenchMessage})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p50_us", "p99_us", "mean_us", "tokenize_p50_us", "tokens", "p_spam"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency metrics lack %s: %v", k, lat)
		}
	}
	if lat["p_spam"] != ls.PSpam || lat["tokens"] != float64(len(ls.IDs)) {
		t.Errorf("latency p_spam %v over %v tokens, export %v over %d", lat["p_spam"], lat["tokens"], ls.PSpam, len(ls.IDs))
	}
	if _, err := Latency(r, LatencyOptions{N: 0}); err == nil {
		t.Error("Latency with N 0: no error")
	}
}

// TestRefusals: inputs the PyTorch side cannot mirror, and folders that are not SMS runs.
func TestRefusals(t *testing.T) {
	torchtest.CheckLive(t)
	r := openTiny(t, "--optimizer", "sgd")
	if _, err := WriteInputs(r, t.TempDir()); err == nil || !strings.Contains(err.Error(), "--optimizer adam") {
		t.Errorf("WriteInputs of an SGD run: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("Open of an empty folder: no error")
	}
	caps := &Config{Options: Options{Caps: true}}
	if _, err := caps.Tokenizer(); err == nil {
		t.Error("Tokenizer of a --caps run: no error")
	}
}

// BenchmarkPredict is the warm single-message predict path (tokenize → ids → tensor → forward
// without gradients → softmax → host) of a one-layer LSTM; allocations per prediction are
// reported.
func BenchmarkPredict(b *testing.B) {
	r := openTiny(b)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, err := r.LoadModel()
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	p := r.NewPredictor(m)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.SpamProbability(BenchMessage); err != nil {
			b.Fatal(err)
		}
	}
}
