// Package serve is the HTTP serving shell shared by `sms serve` and `siamese serve`: one model,
// many concurrent requests.
//
// A command loads its model, wraps its forward pass in a [Batcher], registers JSON routes on a
// [Server] whose handlers call [Batcher.Do], and calls [Server.Serve], which runs the batcher's
// loop on the calling goroutine and net/http on others until the context is cancelled (Ctrl-C)
// or the process gets SIGTERM; it then stops accepting connections, waits for the requests in
// flight to be answered (at most Options.DrainTimeout) and returns nil.
//
// # Concurrency
//
// HTTP handlers never call libtorch. They decode and check the request ([DecodeMessages],
// [DecodePairs]: limits on the body, the number of messages and their length, UTF-8, JSON
// syntax; every failure a 400 or 413 with a JSON error, see [Error]) and hand the inputs to
// the batcher. Exactly one goroutine, the model goroutine running [Batcher.Run], calls the
// model: it is locked to its OS thread and runs under torch.NoGrad (libtorch's grad mode is
// per thread), collects up to Options.MaxBatch inputs from all waiting requests — waiting at
// most Options.MaxWait for a batch to fill — runs one forward pass and answers each request.
// This makes serving safe whatever package torch's rules for goroutines are: the tensors, the
// scopes the model opens and the grad mode all live on that one thread. A panic in the model
// fails the requests of that batch (500), never the process.
//
// # Routes
//
// Every server answers GET /healthz ({"status": "ok", ...} plus the command's details) and
// GET /metrics (Prometheus text format, see [Metrics]); the command adds its POST routes with
// [Server.HandleJSON]. Unknown paths are a JSON 404, wrong methods a JSON 405.
//
// # The commands' servers
//
//	go run ./train/sms serve --model runs/sms                 # POST /v1/predict on 127.0.0.1:8080
//	go run ./train/siamese serve --model runs/siamese --addr 127.0.0.1:8081
//
//	curl -s localhost:8080/v1/predict -d '{"messages": ["WINNER!! Call 09061701461 to claim your prize", "see you at dinner"]}'
//	# → {"predictions":[{"label":"spam","p_spam":…},{"label":"ham","p_spam":…}]}
//	curl -s localhost:8081/v1/similarity -d '{"pairs": [["A man is playing a guitar", "A man plays a guitar"]]}'
//	# → {"scores":[{"relatedness":…,"similar":true}]}
//	curl -s localhost:8080/healthz                           # {"status":"ok","model":...}
//	curl -s localhost:8080/metrics                           # Prometheus text format
//
// Both take --model as one run folder or several separated by commas (an ensemble; for sms,
// also an ensemble's folder). A classifier trained in Python is served the same way from its
// TorchScript file (torch.jit.script(model).save("m.pt"), with forward(ids: Tensor[B,T] int64,
// lengths: Tensor[B] int64) -> logits [B,C]) and a vocabulary file (one token a line, id =
// line number), with the same flags, limits, /metrics (prefix seqtorch_jit_) and drain:
//
//	go run ./train/jitserve --model m.pt --vocab vocab.txt --labels ham,spam [--tokenizer sms|sick|char] [--unk '<unk>'] [--pad-id 0]
//	# → {"predictions":[{"label":"spam","p_ham":…,"p_spam":…}, …]}
//
// Package torch/jit loads such modules in Go programs (jit.Load(path, dev), Forward,
// Method(name), fine-tuning through nn.Trainable(m) and the optimizers, Save).
//
// Each forward pass takes up to --max-batch messages (default 64) from every request waiting,
// or waits up to --max-wait ms for more (default 0: whatever queued while the previous pass
// ran). Limits (flags): --max-body-bytes (1 MiB), --max-messages per request (256; a pair
// counts as one), --max-message-bytes (4096). A request over one is answered 413 with
// {"error": "...", "limit": "--max-messages"}; malformed JSON, unknown fields, empty or
// non-UTF-8 messages, and for similarity a sentence without a known word, are 400 with a JSON
// error saying what is wrong; a model failure is a 500 (a model whose output is NaN names its
// file). --addr takes host:port (:8080 and the default bind 127.0.0.1 only; port 0 picks a
// free one). Ctrl-C or SIGTERM stops accepting connections, answers the requests in flight (at
// most --drain-timeout, 10 s) and exits 0. [Options.Flags] lists the timeouts and the
// connection limit.
//
// /metrics (prefix seqtorch_sms_ or seqtorch_siamese_): http_requests_total{route,code},
// http_request_duration_seconds{route} (quantiles 0.5/0.9/0.99 over the last 4096 requests,
// sum, count), http_requests_in_flight, batch_size (histogram of messages per forward pass),
// batch_duration_seconds, items_total, batch_errors_total.
//
// Throughput and latency of `sms serve` and jitserve against a PyTorch server, measured with
// this package's load generator (train/serve/loadgen), are in the documentation of
// scripts/bench ("Serving"; `go run ./scripts/bench -only serving`).
package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
)

// Options configure a server; [Options.Flags] registers them as command-line flags.
type Options struct {
	// Addr is the address to listen on, host:port (--addr). The host defaults to 127.0.0.1:
	// a model server is not exposed beyond this machine unless asked.
	Addr string
	// MaxBatch bounds the inputs of one forward pass (--max-batch).
	MaxBatch int
	// MaxWait bounds how long the first input of a batch waits for others (--max-wait, in
	// milliseconds on the command line); 0 runs a batch as soon as the model is free.
	MaxWait time.Duration
	// Limits bound each request.
	Limits Limits
	// DrainTimeout bounds the wait for requests in flight at shutdown (--drain-timeout).
	DrainTimeout time.Duration
	// ReadTimeout bounds the reading of a request, headers and body (--read-timeout): a
	// client that sends its body slower is answered 408 and its connection closed.
	ReadTimeout time.Duration
	// RequestTimeout bounds a whole request, from its headers to the end of the response
	// (--request-timeout): the model's answer included (503 when it is later) and the
	// writing of the response (the connection is closed when the client reads slower).
	RequestTimeout time.Duration
	// MaxConns bounds the connections open at once (--max-conns); further clients wait in
	// the listen queue until one closes. Serve lowers it to what the process's descriptor
	// limit (ulimit -n) allows, saying so in Log.
	MaxConns int
	// Log receives one line when the server listens and one when it stops, and warnings
	// (an address reachable from other machines) (nil: discarded).
	Log io.Writer
	// Ready, if set, is called with the listening address once connections are accepted
	// (tests use it with port 0).
	Ready func(addr net.Addr)
}

// DefaultOptions returns the commands' defaults: 127.0.0.1:8080, batches of up to 64 inputs,
// no waiting (a batch holds what queued while the previous forward pass ran: under a closed
// loop of 64 clients this fills batches as well as waiting 2 ms did, and one client alone is
// not delayed), [DefaultLimits], 10 s to drain, 30 s to read a request, 60 s for a whole
// request, 1024 connections at once.
func DefaultOptions() Options {
	return Options{Addr: "127.0.0.1:8080", MaxBatch: 64, MaxWait: 0, Limits: DefaultLimits(),
		DrainTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, RequestTimeout: time.Minute, MaxConns: 1024}
}

// Flags registers o's fields as flags on fs, with o's current values as defaults: --addr,
// --max-batch, --max-wait (ms), --max-body-bytes, --max-messages, --max-message-bytes,
// --drain-timeout, --read-timeout, --request-timeout and --max-conns. Call [Options.Check]
// after parsing.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Addr, "addr", o.Addr, "listen address, host:port (port 0: any free port); a bare :port listens on 127.0.0.1 only")
	fs.IntVar(&o.MaxBatch, "max-batch", o.MaxBatch, "most messages per forward pass")
	fs.Func("max-wait", fmt.Sprintf("milliseconds a batch waits to fill (0: run as soon as the model is free) (default %g)", float64(o.MaxWait)/1e6), func(s string) error {
		var ms float64
		if _, err := fmt.Sscanf(s, "%g", &ms); err != nil {
			return fmt.Errorf("want milliseconds, got %q", s)
		}
		if ms < 0 || ms > 10000 {
			return fmt.Errorf("want 0 to 10000 milliseconds, got %g", ms)
		}
		o.MaxWait = time.Duration(ms * float64(time.Millisecond))
		return nil
	})
	fs.Int64Var(&o.Limits.MaxBodyBytes, "max-body-bytes", o.Limits.MaxBodyBytes, "largest request body, bytes (413 above)")
	fs.IntVar(&o.Limits.MaxItems, "max-messages", o.Limits.MaxItems, "most messages (or pairs) per request (413 above)")
	fs.IntVar(&o.Limits.MaxTextBytes, "max-message-bytes", o.Limits.MaxTextBytes, "longest message or sentence, bytes of UTF-8 (413 above)")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", o.DrainTimeout, "how long Ctrl-C or SIGTERM waits for requests in flight")
	fs.DurationVar(&o.ReadTimeout, "read-timeout", o.ReadTimeout, "longest time to receive a request, headers and body (408 after)")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", o.RequestTimeout, "longest time for a whole request, reading, model and response (503 when the model answers later)")
	fs.IntVar(&o.MaxConns, "max-conns", o.MaxConns, "most client connections open at once (others wait to be accepted); lowered to what ulimit -n allows")
}

// Check validates the options and fills an address without a host with 127.0.0.1. Its
// errors name the flag.
func (o *Options) Check() error {
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want host:port, e.g. 127.0.0.1:8080", o.Addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	o.Addr = net.JoinHostPort(host, port)
	switch {
	case o.MaxBatch < 1:
		return fmt.Errorf("--max-batch must be positive, got %d", o.MaxBatch)
	case o.Limits.MaxBodyBytes < 1:
		return fmt.Errorf("--max-body-bytes must be positive, got %d", o.Limits.MaxBodyBytes)
	case o.Limits.MaxItems < 1:
		return fmt.Errorf("--max-messages must be positive, got %d", o.Limits.MaxItems)
	case o.Limits.MaxTextBytes < 1:
		return fmt.Errorf("--max-message-bytes must be positive, got %d", o.Limits.MaxTextBytes)
	case o.DrainTimeout <= 0:
		return fmt.Errorf("--drain-timeout must be positive, got %v", o.DrainTimeout)
	case o.ReadTimeout <= 0:
		return fmt.Errorf("--read-timeout must be positive, got %v", o.ReadTimeout)
	case o.RequestTimeout < o.ReadTimeout:
		return fmt.Errorf("--request-timeout %v must be at least --read-timeout %v (it bounds the whole request)", o.RequestTimeout, o.ReadTimeout)
	case o.MaxConns < 1:
		return fmt.Errorf("--max-conns must be positive, got %d", o.MaxConns)
	}
	return nil
}

// Server is an HTTP server for one model: JSON routes, /healthz and /metrics.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	metrics *Metrics
	health  map[string]any
	reads   bodyReads // request bodies being read, cut short by a drain
}

// NewServer returns a server with opts (already checked) whose metrics are named namespace_*
// and whose /healthz adds health's entries (the model's folder, say) to {"status": "ok"}.
func NewServer(namespace string, opts Options, health map[string]any) *Server {
	s := &Server{opts: opts, mux: http.NewServeMux(), metrics: NewMetrics(namespace), health: map[string]any{}}
	for k, v := range health {
		s.health[k] = v
	}
	s.health["status"] = "ok"
	s.mux.Handle("/healthz", s.instrument("/healthz", http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, s.health)
	}))
	s.mux.Handle("/metrics", s.instrument("/metrics", http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.metrics.WriteTo(w)
	}))
	s.mux.Handle("/", s.instrument("other", "", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, Errorf(http.StatusNotFound, "no route %s %q", r.Method, r.URL.Path))
	}))
	return s
}

// Metrics returns the server's metrics (for a [Batcher]).
func (s *Server) Metrics() *Metrics { return s.metrics }

// Limits returns the server's request limits.
func (s *Server) Limits() Limits { return s.opts.Limits }

// Handler returns the server's routes as an http.Handler (tests use it with httptest).
func (s *Server) Handler() http.Handler { return s.mux }

// HandleJSON registers a POST route: h decodes the request (w is given for
// http.MaxBytesReader) and returns the response value, written as JSON with status 200, or an
// error, written by [WriteError]. r's context ends after Options.RequestTimeout; a body
// still arriving when the server drains is cut short (503).
func (s *Server) HandleJSON(path string, h func(w http.ResponseWriter, r *http.Request) (any, error)) {
	s.mux.Handle(path, s.instrument(path, http.MethodPost, func(w http.ResponseWriter, r *http.Request) {
		if s.opts.RequestTimeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		body := s.reads.track(r.Body, http.NewResponseController(w), s.opts.ReadTimeout)
		defer s.reads.done(body)
		r.Body = body
		v, err := h(w, r)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				err = Errorf(http.StatusServiceUnavailable, "request cancelled: %v", err)
			}
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, v)
	}))
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the ResponseWriter it wraps (for http.ResponseController).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument counts and times a route, refuses other methods than method (unless ""), and
// turns a panic in a handler into a 500.
func (s *Server) instrument(route, method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		s.metrics.RequestStarted()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				if sw.code == 0 {
					WriteError(sw, fmt.Errorf("internal error: %v", p))
				}
				if s.opts.Log != nil {
					fmt.Fprintf(s.opts.Log, "serve: panic in %s: %v\n", route, p)
				}
			}
			s.metrics.RequestDone(route, sw.code, time.Since(t0))
		}()
		if method != "" && r.Method != method {
			sw.Header().Set("Allow", method)
			WriteError(sw, Errorf(http.StatusMethodNotAllowed, "%s %s: want %s", r.Method, route, method))
			return
		}
		h(sw, r)
	})
}

// Loop is the model goroutine's side of a server: a [Batcher].
type Loop interface {
	Run()   // runs the model loop until Close and the queue is answered
	Close() // stops accepting work
}

// Serve listens on Options.Addr and serves until ctx is cancelled or the process receives
// SIGTERM, then drains: the listener closes, requests whose body is still arriving are
// answered 503, requests in flight are answered (at most Options.DrainTimeout), the loop is
// closed. Every request is bounded by Options.ReadTimeout and Options.RequestTimeout, and at
// most Options.MaxConns connections are open at once. The loop runs on the calling goroutine (the one
// that loaded the model; [Batcher.Run] locks it to its thread). It returns nil after a clean
// drain, and an error if the address cannot be listened on or the drain timed out.
func (s *Server) Serve(ctx context.Context, loop Loop) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	logf := func(format string, args ...any) {
		if s.opts.Log != nil {
			fmt.Fprintf(s.opts.Log, format, args...)
		}
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		loop.Close()
		return fmt.Errorf("--addr: %w", err)
	}
	if host, _, _ := net.SplitHostPort(s.opts.Addr); !isLoopback(host) {
		logf("warning: --addr %s is reachable from other machines; the server has no authentication\n", s.opts.Addr)
	}
	maxConns := s.opts.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultOptions().MaxConns
	}
	if files := openFileLimit(); files > 0 && maxConns > files-fdReserve {
		maxConns = max(1, files-fdReserve)
		logf("--max-conns %d lowered to %d: the process may open %d files (ulimit -n), %d kept for its own use\n",
			s.opts.MaxConns, maxConns, files, fdReserve)
	}
	ln = limitListener(ln, maxConns)
	readTimeout, requestTimeout := s.opts.ReadTimeout, s.opts.RequestTimeout
	if readTimeout <= 0 {
		readTimeout = DefaultOptions().ReadTimeout
	}
	if requestTimeout < readTimeout {
		requestTimeout = readTimeout
	}
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: min(10*time.Second, readTimeout), ReadTimeout: readTimeout,
		WriteTimeout: requestTimeout + time.Second, IdleTimeout: 2 * time.Minute}
	var (
		wg       sync.WaitGroup
		serveErr error
		drainErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer loop.Close() // after the HTTP side is done: the loop answers what is queued
		errc := make(chan error, 1)
		go func() { errc <- hs.Serve(ln) }()
		logf("serving on http://%s (limits: %d-byte bodies, %d messages per request, %d bytes per message; batches of up to %d, waiting up to %v); Ctrl-C or SIGTERM drains and stops\n",
			ln.Addr(), s.opts.Limits.MaxBodyBytes, s.opts.Limits.MaxItems, s.opts.Limits.MaxTextBytes, s.opts.MaxBatch, s.opts.MaxWait)
		if s.opts.Ready != nil {
			s.opts.Ready(ln.Addr())
		}
		select {
		case err := <-errc: // the listener failed
			serveErr = err
			return
		case <-ctx.Done():
		}
		logf("stopping: draining requests in flight (at most %v)\n", s.opts.DrainTimeout)
		dctx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
		defer cancel()
		shut := make(chan error, 1)
		go func() { shut <- hs.Shutdown(dctx) }()
		s.reads.drain() // after Shutdown has closed the listener: no new request starts reading
		if err := <-shut; err != nil {
			drainErr = fmt.Errorf("requests still in flight after --drain-timeout %v: %w", s.opts.DrainTimeout, err)
			hs.Close()
		}
		<-errc // http.ErrServerClosed
	}()
	loop.Run()
	wg.Wait()
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if drainErr != nil {
		return drainErr
	}
	passes, items := s.metrics.Batches()
	logf("stopped: %d messages in %d forward passes\n", items, passes)
	return nil
}

// CommandFlags parses a serve subcommand's arguments: the model flags (mf, registered with
// defaultModel; "" makes --model required) and the serving options. Errors are the command
// shell's usage errors (exit status 2), prefixed "serve: ".
func CommandFlags(fs *flag.FlagSet, args []string, mf *cli.ModelFlags, defaultModel string) (Options, error) {
	mf.Register(fs, defaultModel)
	o := DefaultOptions()
	o.Flags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return o, err
	}
	if err := mf.Check("serve"); err != nil {
		return o, err
	}
	if err := o.Check(); err != nil {
		return o, cli.Usagef("serve: %v", err)
	}
	return o, nil
}

// PinModelThread locks the calling goroutine to its OS thread (libtorch's grad mode and
// seqtorch's scopes are per thread) and sets libtorch's intra-op thread count; the caller loads
// the model next and stays the model goroutine. Call the returned function when done.
func PinModelThread(threads int) (unpin func(), err error) {
	runtime.LockOSThread()
	if err := torch.SetNumThreads(threads); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return runtime.UnlockOSThread, nil
}
