package serve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// upper is a model that upper-cases messages.
func upper(in []string) ([]string, error) {
	out := make([]string, len(in))
	for i, m := range in {
		out[i] = strings.ToUpper(m)
	}
	return out, nil
}

// slowBody opens a connection to addr and sends the headers of a POST with a 100-byte body
// and only its first byte, then nothing.
func slowBody(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	return c
}

// readResponse reads one HTTP response from c (at most a minute).
func readResponse(t *testing.T, c net.Conn) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSlowBody: a body that arrives slower than --read-timeout is answered 408 naming the
// flag, and the connection is closed.
func TestSlowBody(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := DefaultOptions()
	o.ReadTimeout = 300 * time.Millisecond
	addr, res := startServer(t, ctx, o, upper)
	c := slowBody(t, addr)
	defer c.Close()
	code, body := readResponse(t, c)
	if code != http.StatusRequestTimeout || !strings.Contains(body, "--read-timeout") {
		t.Errorf("slow body: %d %s, want 408 naming --read-timeout", code, body)
	}
	cancel()
	if err := <-res; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestDrainSlowBody: SIGTERM (here: the context) while a client is still sending its body
// answers it 503 at once, and Serve returns nil well before --drain-timeout would have
// expired waiting for --read-timeout.
func TestDrainSlowBody(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := DefaultOptions()
	o.ReadTimeout, o.RequestTimeout, o.DrainTimeout = 10*time.Minute, 10*time.Minute, 5*time.Second
	addr, res := startServer(t, ctx, o, upper)
	c := slowBody(t, addr)
	defer c.Close()
	// The request is being read once a second request on another connection is answered
	// (the server accepts in order; a small pause lets the handler start reading).
	resp, err := http.Post("http://"+addr+"/v1/predict", "application/json", strings.NewReader(`{"messages": ["x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(100 * time.Millisecond)
	cancel()
	code, body := readResponse(t, c)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("slow body at drain: %d %s, want 503", code, body)
	}
	if err := <-res; err != nil {
		t.Errorf("Serve after draining a slow body: %v, want nil", err)
	}
}

// TestDecodeKeys: keys match exactly (encoding/json would take "MESSAGES"), a repeated key is
// refused (encoding/json would keep the last), and a UTF-8 byte order mark is accepted.
func TestDecodeKeys(t *testing.T) {
	h := echoServer(DefaultLimits()).Handler()
	for _, tc := range []struct {
		path, body string
		code       int
		errHas     string
	}{
		{"/v1/predict", `{"MESSAGES": ["a"]}`, 400, `unknown field "MESSAGES" (keys are case-sensitive)`},
		{"/v1/predict", `{"Messages": ["a"]}`, 400, `unknown field "Messages"`},
		{"/v1/predict", `{"messages": ["a"], "messages": ["b"]}`, 400, `duplicate key "messages"`},
		{"/v1/similarity", `{"pairs": [["a", "b"]], "pairs": [["c", "d"]]}`, 400, `duplicate key "pairs"`},
		{"/v1/similarity", `{"PAIRS": [["a", "b"]]}`, 400, `unknown field "PAIRS"`},
		{"/v1/predict", "\xef\xbb\xbf{\"messages\": [\"a\"]}", 200, ""},
		{"/v1/predict", "\xef\xbb\xbf", 400, "empty request body"},
	} {
		code, m := post(t, h, tc.path, tc.body)
		msg, _ := m["error"].(string)
		if code != tc.code || !strings.Contains(msg, tc.errHas) {
			t.Errorf("%s %q: %d %q, want %d %q", tc.path, tc.body, code, msg, tc.code, tc.errHas)
		}
	}
}

// TestNonLoopbackWarning: an --addr other machines can reach is served with a warning.
func TestNonLoopbackWarning(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{{"127.0.0.1:0", false}, {"localhost:0", false}, {"0.0.0.0:0", true}} {
		ctx, cancel := context.WithCancel(context.Background())
		var log bytes.Buffer
		o := DefaultOptions()
		o.Addr = tc.addr
		o.Log = &syncWriter{w: &log}
		o.Ready = func(net.Addr) { cancel() }
		s := NewServer("t", o, nil)
		b := NewBatcher((&doubler{}).run, 1, 0, nil)
		if err := s.Serve(ctx, b); err != nil {
			t.Fatalf("%s: %v", tc.addr, err)
		}
		if got := strings.Contains(log.String(), "warning: --addr "+tc.addr+" is reachable from other machines"); got != tc.warn {
			t.Errorf("%s: warning %v, want %v; log:\n%s", tc.addr, got, tc.warn, log.String())
		}
	}
}

// TestLimitListener: at most n connections are accepted at once; closing one frees its slot,
// and Close ends an Accept waiting for a slot.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitListener(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	first := []net.Conn{<-accepted, <-accepted}
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted with a limit of 2")
	case <-time.After(50 * time.Millisecond):
	}
	first[0].Close()
	first[0].Close() // idempotent: frees one slot only
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(time.Minute):
		t.Fatal("no connection accepted a minute after one closed")
	}
	first[1].Close()
	ln.Close()
	for range accepted {
	}
}

// serveHelperEnv makes the test binary, run by TestDescriptorLimit, a server process with a
// small descriptor limit instead of running tests.
const serveHelperEnv = "SEQTORCH_SERVE_HELPER"

// TestMain runs the helper server when asked, and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(serveHelperEnv) != "" {
		os.Exit(helperServe())
	}
	os.Exit(m.Run())
}

// helperServe serves with RLIMIT_NOFILE lowered to 64 and a 300 ms --read-timeout, printing
// its address on standard output, until SIGTERM.
func helperServe() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	l.Cur = 64
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	o := DefaultOptions()
	o.Addr = "127.0.0.1:0"
	o.ReadTimeout = 300 * time.Millisecond
	o.Log = os.Stderr
	o.Ready = func(a net.Addr) { fmt.Println(a.String()) }
	s := NewServer("t", o, nil)
	b := NewBatcher(func(in []string) ([]string, error) { return in, nil }, o.MaxBatch, 0, s.Metrics())
	s.HandleJSON("/v1/predict", func(w http.ResponseWriter, r *http.Request) (any, error) {
		msgs, err := DecodeMessages(w, r, s.Limits())
		if err != nil {
			return nil, err
		}
		return b.Do(r.Context(), msgs)
	})
	if err := s.Serve(context.Background(), b); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	return 0
}

// TestDescriptorLimit: a server process that may open 64 files, under 150 connections that
// send their body one byte and stop, keeps answering new clients (the slow ones get 408 after
// --read-timeout; connections beyond --max-conns, lowered to the limit, wait to be accepted)
// without "too many open files", and exits 0 on SIGTERM with slow clients connected.
func TestDescriptorLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveHelperEnv+"=1")
	var stderr syncWriter
	var errBuf bytes.Buffer
	stderr.w = &errBuf
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	addrc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addrc <- strings.TrimSpace(line)
		io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(time.Minute):
		t.Fatalf("the server process did not start; stderr:\n%s", errBuf.String())
	}
	if addr == "" {
		t.Fatalf("the server process did not start; stderr:\n%s", errBuf.String())
	}
	var slow []net.Conn
	for range 150 {
		slow = append(slow, slowBody(t, addr))
	}
	defer func() {
		for _, c := range slow {
			c.Close()
		}
	}()
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Post("http://"+addr+"/v1/predict", "application/json", strings.NewReader(`{"messages": ["still here"]}`))
	if err != nil {
		t.Fatalf("a new client behind 150 slow ones: %v; server stderr:\n%s", err, errBuf.String())
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "still here") {
		t.Errorf("a new client behind 150 slow ones: %d %s", resp.StatusCode, b)
	}
	for range 10 {
		slow = append(slow, slowBody(t, addr))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("after SIGTERM: %v, want exit status 0", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the server process still runs a minute after SIGTERM")
	}
	log := stderr.String()
	if strings.Contains(log, "too many open files") || !strings.Contains(log, "--max-conns 1024 lowered to 32") {
		t.Errorf("server stderr:\n%s", log)
	}
}

// String returns what was written (under the lock).
func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.w)
}
