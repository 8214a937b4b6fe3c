package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// post sends body to h's path and returns the status and decoded JSON body.
func post(t *testing.T, h http.Handler, path, body string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("POST %s %q: response is not JSON: %v: %q", path, body, err, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return rec.Code, m
}

// echoServer serves POST /v1/predict and /v1/similarity with decoders only (no model).
func echoServer(lim Limits) *Server {
	o := DefaultOptions()
	o.Limits = lim
	s := NewServer("test", o, map[string]any{"model": "none"})
	s.HandleJSON("/v1/predict", func(w http.ResponseWriter, r *http.Request) (any, error) {
		msgs, err := DecodeMessages(w, r, s.Limits())
		return map[string]any{"messages": msgs}, err
	})
	s.HandleJSON("/v1/similarity", func(w http.ResponseWriter, r *http.Request) (any, error) {
		pairs, err := DecodePairs(w, r, s.Limits())
		return map[string]any{"pairs": pairs}, err
	})
	return s
}

func TestDecode(t *testing.T) {
	lim := Limits{MaxBodyBytes: 200, MaxItems: 3, MaxTextBytes: 10}
	h := echoServer(lim).Handler()
	tests := []struct {
		name, path, body string
		code             int
		errHas, limit    string
	}{
		{"one message", "/v1/predict", `{"messages": ["hello"]}`, 200, "", ""},
		{"three messages", "/v1/predict", `{"messages": ["a", "b", "é ü"]}`, 200, "", ""},
		{"tab and newline are fine", "/v1/predict", `{"messages": ["a\tb\nc"]}`, 200, "", ""},
		{"malformed", "/v1/predict", `{"messages": ["a"`, 400, "malformed JSON", ""},
		{"not JSON", "/v1/predict", `messages=hello`, 400, "malformed JSON", ""},
		{"empty body", "/v1/predict", ``, 400, "empty request body", ""},
		{"trailing data", "/v1/predict", `{"messages": ["a"]} {}`, 400, "data after the object", ""},
		{"unknown field", "/v1/predict", `{"message": ["a"]}`, 400, `unknown field "message"`, ""},
		{"missing messages", "/v1/predict", `{}`, 400, `missing "messages"`, ""},
		{"messages not a list", "/v1/predict", `{"messages": "hello"}`, 400, "messages: got a JSON string", ""},
		{"number message", "/v1/predict", `{"messages": [3]}`, 400, "got a JSON number", ""},
		{"null message", "/v1/predict", `{"messages": ["a", null]}`, 400, "message 2 is null", ""},
		{"no messages", "/v1/predict", `{"messages": []}`, 400, "no messages", ""},
		{"empty message", "/v1/predict", `{"messages": ["a", ""]}`, 400, "message 2 is empty", ""},
		{"blank message", "/v1/predict", `{"messages": [" \t\n"]}`, 400, "message 1 is empty", ""},
		{"too many", "/v1/predict", `{"messages": ["a", "b", "c", "d"]}`, 413, "4 messages in one request, over the limit of 3", "--max-messages"},
		{"too long", "/v1/predict", `{"messages": ["0123456789x"]}`, 413, "message 1 is 11 bytes long, over the limit of 10", "--max-message-bytes"},
		{"body too large", "/v1/predict", `{"messages": ["` + strings.Repeat("a", 300) + `"]}`, 413, "larger than 200 bytes", "--max-body-bytes"},
		{"not UTF-8", "/v1/predict", "{\"messages\": [\"caf\xe9\"]}", 400, "not valid UTF-8 (at byte 18)", ""},
		{"pairs", "/v1/similarity", `{"pairs": [["a man", "a dog"]]}`, 200, "", ""},
		{"pair of three", "/v1/similarity", `{"pairs": [["a", "b", "c"]]}`, 400, "pair 1: want two sentences", ""},
		{"pair of one", "/v1/similarity", `{"pairs": [["a", "b"], ["a"]]}`, 400, "pair 2: want two sentences", ""},
		{"pair with null", "/v1/similarity", `{"pairs": [["a", null]]}`, 400, "pair 1: want two sentences", ""},
		{"empty sentence", "/v1/similarity", `{"pairs": [["a", " "]]}`, 400, "sentence 2 of pair 1 is empty", ""},
		{"long sentence", "/v1/similarity", `{"pairs": [["a", "0123456789x"]]}`, 413, "sentence 2 of pair 1 is 11 bytes", "--max-message-bytes"},
		{"too many pairs", "/v1/similarity", `{"pairs": [["a","b"],["a","b"],["a","b"],["a","b"]]}`, 413, "4 pairs", "--max-messages"},
		{"missing pairs", "/v1/similarity", `{"messages": []}`, 400, `unknown field "messages"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, m := post(t, h, tc.path, tc.body)
			if code != tc.code {
				t.Errorf("status %d, want %d (%v)", code, tc.code, m)
			}
			if tc.code == 200 {
				if _, ok := m["error"]; ok {
					t.Errorf("200 with an error: %v", m)
				}
				return
			}
			msg, _ := m["error"].(string)
			if !strings.Contains(msg, tc.errHas) {
				t.Errorf("error %q lacks %q", msg, tc.errHas)
			}
			if got, _ := m["limit"].(string); got != tc.limit {
				t.Errorf("limit %q, want %q", got, tc.limit)
			}
			if tc.limit != "" && !strings.Contains(msg, tc.limit) {
				t.Errorf("error %q does not name the flag %s", msg, tc.limit)
			}
		})
	}
	// The decoded messages come back unchanged, control characters included.
	_, m := post(t, h, "/v1/predict", `{"messages": ["a\tb\nc", "\u001b[31m"]}`)
	if got := fmt.Sprint(m["messages"]); got != "[a\tb\nc \x1b[31m]" {
		t.Errorf("messages %q", got)
	}
}

func TestRoutes(t *testing.T) {
	s := echoServer(DefaultLimits())
	h := s.Handler()
	tests := []struct {
		method, path string
		code         int
		has          string
	}{
		{"GET", "/healthz", 200, `"status":"ok"`},
		{"GET", "/nope", 404, `no route GET \"/nope\"`},
		{"GET", "/v1/predict", 405, "GET /v1/predict: want POST"},
		{"POST", "/healthz", 405, "want GET"},
		{"GET", "/metrics", 200, `test_http_requests_total{route="/v1/predict",code="405"} 1`},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.has) {
			t.Errorf("%s %s: %d %q, want %d and %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.code, tc.has)
		}
	}
	if got := s.Metrics().Requests("/healthz", 200); got != 1 {
		t.Errorf("healthz 200 count %d, want 1", got)
	}
}

func TestMetricsText(t *testing.T) {
	m := NewMetrics("x")
	for i := range 100 {
		m.RequestStarted()
		m.RequestDone("/v1/predict", 200, time.Duration(i+1)*time.Millisecond)
	}
	m.BatchDone(1, time.Millisecond, nil)
	m.BatchDone(3, time.Millisecond, nil)
	m.BatchDone(300, time.Millisecond, errors.New("x"))
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`x_http_requests_total{route="/v1/predict",code="200"} 100`,
		`x_http_request_duration_seconds{route="/v1/predict",quantile="0.5"} 0.05`,
		`x_http_request_duration_seconds{route="/v1/predict",quantile="0.99"} 0.099`,
		`x_http_request_duration_seconds_count{route="/v1/predict"} 100`,
		"x_http_requests_in_flight 0",
		`x_batch_size_bucket{le="1"} 1`,
		`x_batch_size_bucket{le="4"} 2`,
		`x_batch_size_bucket{le="256"} 2`,
		`x_batch_size_bucket{le="+Inf"} 3`,
		"x_batch_size_sum 304",
		"x_batch_size_count 3",
		"x_items_total 304",
		"x_batch_errors_total 1",
		"# TYPE x_batch_size histogram",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
	// Every line is a comment or "name{labels} value".
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if !strings.HasPrefix(line, "# ") && len(strings.Fields(line)) != 2 {
			t.Errorf("bad line %q", line)
		}
	}
}

// doubler is a model: it doubles its inputs and records each batch's size.
type doubler struct {
	mu    sync.Mutex
	sizes []int
	fail  func(in []int) error // optional
}

func (d *doubler) run(in []int) ([]int, error) {
	d.mu.Lock()
	d.sizes = append(d.sizes, len(in))
	d.mu.Unlock()
	if d.fail != nil {
		if err := d.fail(in); err != nil {
			return nil, err
		}
	}
	out := make([]int, len(in))
	for i, v := range in {
		out[i] = 2 * v
	}
	return out, nil
}

func TestBatcher(t *testing.T) {
	torchtest.CheckLive(t)
	tests := []struct {
		name     string
		maxBatch int
		maxWait  time.Duration
		clients  int
		perReq   int
	}{
		{"one client", 8, 0, 1, 1},
		{"many small", 8, time.Millisecond, 16, 1},
		{"requests split over passes", 4, 0, 5, 10},
		{"no waiting", 64, 0, 32, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &doubler{}
			m := NewMetrics("t")
			b := NewBatcher(d.run, tc.maxBatch, tc.maxWait, m)
			done := make(chan struct{})
			go func() { b.Run(); close(done) }()
			var wg sync.WaitGroup
			errs := make(chan error, tc.clients)
			for c := range tc.clients {
				wg.Go(func() {
					for r := range 20 {
						in := make([]int, tc.perReq)
						for i := range in {
							in[i] = c*10000 + r*100 + i
						}
						out, err := b.Do(context.Background(), in)
						if err != nil {
							errs <- err
							return
						}
						for i := range in {
							if out[i] != 2*in[i] {
								errs <- fmt.Errorf("client %d request %d: out[%d] = %d, want %d", c, r, i, out[i], 2*in[i])
								return
							}
						}
					}
				})
			}
			wg.Wait()
			b.Close()
			<-done
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			total := 0
			for _, n := range d.sizes {
				if n < 1 || n > tc.maxBatch {
					t.Errorf("batch of %d, max %d", n, tc.maxBatch)
				}
				total += n
			}
			if want := tc.clients * 20 * tc.perReq; total != want {
				t.Errorf("%d inputs run, want %d", total, want)
			}
			if passes, items := m.Batches(); int(passes) != len(d.sizes) || int(items) != total {
				t.Errorf("metrics: %d passes %d items, want %d and %d", passes, items, len(d.sizes), total)
			}
			if _, err := b.Do(context.Background(), []int{1}); !errors.Is(err, ErrClosed) {
				t.Errorf("Do after Close: %v, want ErrClosed", err)
			}
		})
	}
}

func TestBatcherFailures(t *testing.T) {
	torchtest.CheckLive(t)
	tests := []struct {
		name string
		fail func(in []int) error
		want string
	}{
		{"error", func(in []int) error {
			if slices.Contains(in, 7) {
				return errors.New("seven")
			}
			return nil
		}, "seven"},
		{"panic", func(in []int) error {
			if slices.Contains(in, 7) {
				panic("boom")
			}
			return nil
		}, "model failed: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &doubler{fail: tc.fail}
			b := NewBatcher(d.run, 4, 0, nil)
			done := make(chan struct{})
			go func() { b.Run(); close(done) }()
			if _, err := b.Do(context.Background(), []int{1, 2, 3, 4, 5, 6, 7, 8}); err == nil || err.Error() != tc.want {
				t.Errorf("Do: %v, want %q", err, tc.want)
			}
			// The loop survives: later requests are answered.
			if out, err := b.Do(context.Background(), []int{1, 2}); err != nil || !slices.Equal(out, []int{2, 4}) {
				t.Errorf("after the failure: %v, %v", out, err)
			}
			// A cancelled request is not run.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := b.Do(ctx, []int{7}); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled Do: %v", err)
			}
			b.Close()
			<-done
		})
	}
}

// gate is a model that blocks each batch until released.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func (g *gate) run(in []string) ([]string, error) {
	g.entered <- struct{}{}
	<-g.release
	return upper(in)
}

// startServer runs a server whose model is run, with o (its address replaced by a free
// loopback port), on a goroutine, and returns its address and Serve's result.
func startServer(t *testing.T, ctx context.Context, o Options, run func([]string) ([]string, error)) (string, <-chan error) {
	t.Helper()
	ready := make(chan net.Addr, 1)
	o.Addr, o.Ready = "127.0.0.1:0", func(a net.Addr) { ready <- a }
	s := NewServer("t", o, nil)
	b := NewBatcher(run, o.MaxBatch, 0, s.Metrics())
	s.HandleJSON("/v1/predict", func(w http.ResponseWriter, r *http.Request) (any, error) {
		msgs, err := DecodeMessages(w, r, s.Limits())
		if err != nil {
			return nil, err
		}
		out, err := b.Do(r.Context(), msgs)
		return map[string]any{"upper": out}, err
	})
	res := make(chan error, 1)
	go func() { res <- s.Serve(ctx, b) }()
	select {
	case a := <-ready:
		return a.String(), res
	case err := <-res:
		t.Fatalf("Serve: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("server not ready after a minute")
	}
	return "", nil
}

// TestDrain stops the server (cancelled context, then SIGTERM) while a request is inside the
// model: the request is answered, then Serve returns nil.
func TestDrain(t *testing.T) {
	torchtest.CheckLive(t)
	tests := []struct {
		name string
		stop func(cancel context.CancelFunc)
	}{
		{"context cancelled", func(cancel context.CancelFunc) { cancel() }},
		{"SIGTERM", func(context.CancelFunc) { syscall.Kill(syscall.Getpid(), syscall.SIGTERM) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var log bytes.Buffer
			o := DefaultOptions()
			o.Log = &syncWriter{w: &log}
			addr, res := startServer(t, ctx, o, g.run)
			type answer struct {
				code int
				body string
				err  error
			}
			got := make(chan answer, 1)
			go func() {
				resp, err := http.Post("http://"+addr+"/v1/predict", "application/json", strings.NewReader(`{"messages": ["in flight"]}`))
				if err != nil {
					got <- answer{err: err}
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				got <- answer{code: resp.StatusCode, body: string(b)}
			}()
			<-g.entered // the request is inside the model
			tc.stop(cancel)
			// The server stops listening, then the request is let through.
			waitRefused(t, addr)
			close(g.release)
			a := <-got
			if a.err != nil || a.code != 200 || !strings.Contains(a.body, "IN FLIGHT") {
				t.Errorf("in-flight request: %d %q %v", a.code, a.body, a.err)
			}
			select {
			case err := <-res:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("Serve did not return a minute after the drain")
			}
			if !strings.Contains(log.String(), "stopped: 1 messages in 1 forward passes") {
				t.Errorf("log:\n%s", log.String())
			}
		})
	}
}

// waitRefused waits (up to a minute) until addr refuses connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
	}
	t.Fatal("the server still accepts connections a minute after being stopped")
}

func TestServeBadAddr(t *testing.T) {
	o := DefaultOptions()
	o.Addr = "127.0.0.1:-1"
	s := NewServer("t", o, nil)
	b := NewBatcher((&doubler{}).run, 1, 0, nil)
	if err := s.Serve(context.Background(), b); err == nil || !strings.HasPrefix(err.Error(), "--addr: ") {
		t.Errorf("Serve on a bad address: %v", err)
	}
}

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		addr, want, err string
	}{
		{":9000", "127.0.0.1:9000", ""},
		{"0.0.0.0:80", "0.0.0.0:80", ""},
		{"[::1]:0", "[::1]:0", ""},
		{"localhost", "", "want host:port"},
	}
	for _, tc := range tests {
		o := DefaultOptions()
		o.Addr = tc.addr
		err := o.Check()
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Check(%q): %v, want %q", tc.addr, err, tc.err)
		}
		if err == nil && o.Addr != tc.want {
			t.Errorf("Check(%q): addr %q, want %q", tc.addr, o.Addr, tc.want)
		}
	}
	o := DefaultOptions()
	o.MaxBatch = 0
	if err := o.Check(); err == nil || !strings.Contains(err.Error(), "--max-batch") {
		t.Errorf("max-batch 0: %v", err)
	}
}

// syncWriter serialises writes (the server logs from its own goroutine).
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
