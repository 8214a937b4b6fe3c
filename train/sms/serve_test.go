package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/cli/clitest"
)

// fixtureMessages returns the messages of testdata/sms_tiny.txt plus some awkward ones.
func fixtureMessages(t *testing.T) []string {
	t.Helper()
	sms, err := data.LoadSMS("testdata/sms_tiny.txt")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, m := range sms {
		msgs = append(msgs, m.Text)
	}
	return append(msgs, "tab\there", "new\nline\tspam\t1.0000\tforged", "\x1b[2Jclear", "£1000 PRIZE!!! call 09061701461", "ok")
}

// predictJSON runs `sms predict --json` on msgs (as arguments) and returns its predictions.
func predictJSON(t *testing.T, model string, msgs []string) []prediction {
	t.Helper()
	code, stdout, stderr := runCmd(context.Background(), append([]string{"predict", "--model", model, "--device", "cpu", "--json"}, msgs...)...)
	if code != 0 {
		t.Fatalf("predict --json: exit %d: %s", code, stderr)
	}
	var out []prediction
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var p prediction
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("predict --json line %q: %v", sc.Text(), err)
		}
		out = append(out, p)
	}
	if len(out) != len(msgs) {
		t.Fatalf("predict --json: %d lines for %d messages:\n%s", len(out), len(msgs), stdout)
	}
	for i, p := range out {
		if p.Message != msgs[i] {
			t.Errorf("predict --json line %d: message %q, want %q", i+1, p.Message, msgs[i])
		}
	}
	return out
}

func startServe(t *testing.T, ctx context.Context, model string, extra ...string) (string, *clitest.ServeLog, <-chan int) {
	t.Helper()
	return clitest.StartServe(t, ctx, "sms", run, 2*time.Minute,
		append([]string{"serve", "--model", model, "--device", "cpu", "--addr", "127.0.0.1:0"}, extra...)...)
}

// postJSON posts body and returns the status and the body.
func postJSON(url, body string) (int, []byte, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// TestServeConcurrent is the check: 8 concurrent clients × 50 requests get the labels
// (and, to float rounding, the probabilities) of `sms predict`; malformed JSON is a 400; a
// cancelled context (Ctrl-C) drains and exits 0.
func TestServeConcurrent(t *testing.T) {
	torchtest.CheckLive(t)
	model := trainTiny(t)
	msgs := fixtureMessages(t)
	want := predictJSON(t, model, msgs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, log, code := startServe(t, ctx, model, "--max-batch", "16", "--max-wait", "1")

	const clients, requests = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			for r := range requests {
				// Requests of 1 to 3 messages, different for every client and request.
				k := 1 + (c+r)%3
				idx := make([]int, k)
				batch := make([]string, k)
				for i := range k {
					idx[i] = (c*requests + r*3 + i) % len(msgs)
					batch[i] = msgs[idx[i]]
				}
				body, _ := json.Marshal(map[string]any{"messages": batch})
				status, resp, err := postJSON(url+"/v1/predict", string(body))
				if err != nil || status != 200 {
					errs <- fmt.Errorf("client %d request %d: %d %s %v", c, r, status, resp, err)
					return
				}
				var got struct{ Predictions []prediction }
				if err := json.Unmarshal(resp, &got); err != nil || len(got.Predictions) != k {
					errs <- fmt.Errorf("client %d request %d: %s (%v)", c, r, resp, err)
					return
				}
				for i, p := range got.Predictions {
					w := want[idx[i]]
					if p.Label != w.Label || math.Abs(p.PSpam-w.PSpam) > 1e-5 {
						errs <- fmt.Errorf("message %q: serve %s %.7f, predict %s %.7f", msgs[idx[i]], p.Label, p.PSpam, w.Label, w.PSpam)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	bad := []struct{ name, body, has string }{
		{"malformed", `{"messages": ["a"`, "malformed JSON"},
		{"not an object", `["a"]`, "got a JSON array"},
		{"empty message", `{"messages": [""]}`, "message 1 is empty"},
		{"not UTF-8", "{\"messages\": [\"\xff\"]}", "not valid UTF-8"},
	}
	for _, b := range bad {
		status, resp, err := postJSON(url+"/v1/predict", b.body)
		var e struct{ Error string }
		if err != nil || status != 400 || json.Unmarshal(resp, &e) != nil || !strings.Contains(e.Error, b.has) {
			t.Errorf("%s: %d %s %v, want 400 with %q", b.name, status, resp, err, b.has)
		}
	}
	status, resp, err := postJSON(url+"/v1/predict", `{"messages": ["`+strings.Repeat("x", 5000)+`"]}`)
	if err != nil || status != 413 || !strings.Contains(string(resp), `"limit":"--max-message-bytes"`) {
		t.Errorf("long message: %d %s %v", status, resp, err)
	}
	mresp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, w := range []string{
		fmt.Sprintf(`seqtorch_sms_http_requests_total{route="/v1/predict",code="200"} %d`, clients*requests),
		`seqtorch_sms_http_requests_total{route="/v1/predict",code="400"} 4`,
		`seqtorch_sms_http_requests_total{route="/v1/predict",code="413"} 1`,
		"seqtorch_sms_items_total ",
	} {
		if !strings.Contains(string(metrics), w) {
			t.Errorf("metrics lack %q", w)
		}
	}

	cancel() // Ctrl-C
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("serve exited %d after Ctrl-C: %s", c, log.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("serve still running 2 minutes after Ctrl-C")
	}
	if !strings.Contains(log.String(), "stopped: ") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestServeSIGTERM runs the real command (cli.Main) in a child process, sends it SIGTERM after
// one request and expects exit status 0.
func TestServeSIGTERM(t *testing.T) {
	if dir := os.Getenv("SMS_SERVE_CHILD"); dir != "" {
		os.Args = []string{"sms", "serve", "--model", dir, "--device", "cpu", "--addr", "127.0.0.1:0"}
		cli.Main("sms", run)
		return
	}
	model := trainTiny(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeSIGTERM$")
	cmd.Env = append(os.Environ(), "SMS_SERVE_CHILD="+model)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	urls := make(chan string, 1)
	var logMu sync.Mutex
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := clitest.ServingRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		done <- cmd.Wait()
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("child exited before listening: %v\n%s", err, log.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("child not listening after 2 minutes")
	}
	if status, resp, err := postJSON(url+"/v1/predict", `{"messages": ["hello there"]}`); err != nil || status != 200 {
		t.Fatalf("request: %d %s %v", status, resp, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		logMu.Lock()
		defer logMu.Unlock()
		if err != nil {
			t.Errorf("after SIGTERM: %v (want exit 0)\n%s", err, log.String())
		}
		if !strings.Contains(log.String(), "stopped: 1 messages in 1 forward passes") {
			t.Errorf("log:\n%s", log.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("child still running 2 minutes after SIGTERM")
	}
}

// TestPredictOutputSafe: messages with tabs, newlines and escape sequences cannot forge rows
// or reach the terminal raw; --json gives them back exactly.
func TestPredictOutputSafe(t *testing.T) {
	torchtest.CheckLive(t)
	model := trainTiny(t)
	msgs := []string{"plain", "tab\there", "new\nline\tspam\t1.0000\tforged", "\x1b[2J\x07bell", "back\\slash", "rtl\u202eevil", "bad\xffutf8"}
	code, stdout, stderr := runCmd(context.Background(), append([]string{"predict", "--model", model, "--device", "cpu"}, msgs...)...)
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(msgs)+1 {
		t.Fatalf("%d lines for %d messages:\n%s", len(lines), len(msgs), stdout)
	}
	for i, line := range lines[1:] {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Errorf("line %q has %d fields", line, len(f))
			continue
		}
		if f[2] != cli.Escape(msgs[i]) {
			t.Errorf("message field %q, want %q", f[2], cli.Escape(msgs[i]))
		}
		if strings.ContainsAny(line, "\x1b\x07\r\u202e") {
			t.Errorf("raw control character in %q", line)
		}
	}
	got := predictJSON(t, model, msgs[:len(msgs)-1]) // (JSON cannot carry invalid UTF-8)
	for i, p := range got {
		if p.Label != "ham" && p.Label != "spam" || !(p.PSpam >= 0 && p.PSpam <= 1) {
			t.Errorf("message %d: %+v", i, p)
		}
	}
}

// poison writes NaN into tensor name of a safetensors file.
func poison(t *testing.T, path, name string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b[:8])
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	var info struct {
		DType   string   `json:"dtype"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(header[name], &info); err != nil || info.DType != "F32" {
		t.Fatalf("%s in %s: %s %v", name, path, header[name], err)
	}
	for off := 8 + int64(n) + info.Offsets[0]; off < 8+int64(n)+info.Offsets[1]; off += 4 {
		binary.LittleEndian.PutUint32(b[off:], math.Float32bits(float32(math.NaN())))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// resum records the SHA-256 of the model folder's weights, as they are now, in its
// summary.json.
func resum(t *testing.T, model string) {
	t.Helper()
	var sum map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(model, summaryName))), &sum); err != nil {
		t.Fatal(err)
	}
	h, err := cli.FileSHA256(filepath.Join(model, weightsName))
	if err != nil {
		t.Fatal(err)
	}
	sum[cli.WeightsSHA256Key] = h
	b, _ := json.Marshal(sum)
	if err := os.WriteFile(filepath.Join(model, summaryName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptModelFolder: a flipped byte in the weights is one line naming the file (the
// summary's SHA-256 does not match), and config.json's weights may not lead outside the
// folder.
func TestCorruptModelFolder(t *testing.T) {
	torchtest.CheckLive(t)
	model := trainTiny(t)
	weights := filepath.Join(model, weightsName)
	b, err := os.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	good := slices.Clone(b)
	b[len(b)-3] ^= 0x10 // a bit of the last tensor's data: loads fine without a checksum
	if err := os.WriteFile(weights, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(context.Background(), "predict", "--model", model, "--device", "cpu", "hello")
	if code != 1 || !strings.HasPrefix(stderr, "sms: "+weights+": SHA-256 ") || !strings.Contains(stderr, "changed or is corrupt") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("flipped byte: exit %d, stderr %q", code, stderr)
	}
	if err := os.WriteFile(weights, good, 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(filepath.Dir(model), "elsewhere.safetensors")
	if err := os.WriteFile(outside, good, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(model, configName)
	var cfg map[string]any
	if err := json.Unmarshal([]byte(readFile(t, cfgPath)), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["weights"] = "../elsewhere.safetensors"
	cb, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, cb, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(context.Background(), "predict", "--model", model, "--device", "cpu", "hello")
	if code != 1 || !strings.Contains(stderr, cfgPath+": weights \"../elsewhere.safetensors\": want a file name inside the model folder") {
		t.Errorf("weights outside the folder: exit %d, stderr %q", code, stderr)
	}
}

// TestNaNModel: a model whose output is NaN is an error naming its file, in predict (exit 1)
// and in serve (500), never a label.
func TestNaNModel(t *testing.T) {
	torchtest.CheckLive(t)
	model := trainTiny(t)
	weights := filepath.Join(model, weightsName)
	poison(t, weights, "out.bias")
	resum(t, model) // a model trained into NaN: its checksum is its own
	code, stdout, stderr := runCmd(context.Background(), "predict", "--model", model, "--device", "cpu", "hello")
	if code != 1 || !strings.Contains(stderr, "model "+weights+" gives P(spam) = NaN") || stdout != "" {
		t.Errorf("predict: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, _, exit := startServe(t, ctx, model)
	status, resp, err := postJSON(url+"/v1/predict", `{"messages": ["hello"]}`)
	if err != nil || status != 500 || !strings.Contains(string(resp), weights) || strings.Contains(string(resp), "label") {
		t.Errorf("serve: %d %s %v", status, resp, err)
	}
	cancel()
	if c := <-exit; c != 0 {
		t.Errorf("serve exit %d", c)
	}
}

// TestServeEnsemble: serve --model A,B (a word model and a character model) answers each
// message with the mean of the members' P(spam), as predict on the same list does and as the
// mean of predict on each member gives.
func TestServeEnsemble(t *testing.T) {
	torchtest.CheckLive(t)
	words := trainTiny(t)
	chars := filepath.Join(t.TempDir(), "chars")
	if code, stdout, stderr := runCmd(context.Background(), tiny(chars, "--tokens", "chars", "--epochs", "1")...); code != 0 {
		t.Fatalf("training: exit %d\n%s\n%s", code, stdout, stderr)
	}
	msgs := fixtureMessages(t)[:12]
	model := words + "," + chars
	want := predictJSON(t, model, msgs)
	a, b := predictJSON(t, words, msgs), predictJSON(t, chars, msgs)
	for i := range msgs {
		if mean := (a[i].PSpam + b[i].PSpam) / 2; math.Abs(want[i].PSpam-mean) > 1e-9 {
			t.Errorf("message %q: ensemble %.7f, members' mean %.7f", msgs[i], want[i].PSpam, mean)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, log, code := startServe(t, ctx, model)
	body, _ := json.Marshal(map[string]any{"messages": msgs})
	status, resp, err := postJSON(url+"/v1/predict", string(body))
	if err != nil || status != 200 {
		t.Fatalf("serve: %d %s %v", status, resp, err)
	}
	var got struct{ Predictions []prediction }
	if err := json.Unmarshal(resp, &got); err != nil || len(got.Predictions) != len(msgs) {
		t.Fatalf("serve: %s (%v)", resp, err)
	}
	for i, p := range got.Predictions {
		if p.Label != want[i].Label || math.Abs(p.PSpam-want[i].PSpam) > 1e-5 {
			t.Errorf("message %q: serve %s %.7f, predict %s %.7f", msgs[i], p.Label, p.PSpam, want[i].Label, want[i].PSpam)
		}
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("serve exit %d: %s", c, log.String())
	}
}
