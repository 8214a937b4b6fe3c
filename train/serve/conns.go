package serve

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// fdReserve is the number of file descriptors Serve keeps for the process itself (the
// listener, standard streams, files the model reads) when it lowers Options.MaxConns to the
// descriptor limit.
const fdReserve = 32

// limitedListener accepts at most n connections open at once: Accept waits for one to close
// (the further clients wait in the kernel's listen queue), as golang.org/x/net/netutil's
// LimitListener does.
type limitedListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func limitListener(l net.Listener, n int) net.Listener {
	return &limitedListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close closes the listener; an Accept waiting for a slot returns net.ErrClosed.
func (l *limitedListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitedConn frees its listener's slot when closed (once).
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// isLoopback reports whether host (a name or an IP address) is this machine's loopback.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bodyReads tracks the request bodies being read, so that a drain can cut short those of
// clients still sending (their read deadline is set to now; they are answered 503).
type bodyReads struct {
	mu       sync.Mutex
	open     map[*trackedBody]struct{}
	draining bool
}

// trackedBody is a request body whose read errors say what a client needs: 408 when the
// body did not arrive within the read timeout, 503 when the server drains.
type trackedBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	reads   *bodyReads
	ended   bool // read to the end or failed; guarded by reads.mu
	cut     bool // cut short by a drain; guarded by reads.mu
}

// track returns body wrapped for the server's bookkeeping; call done when the handler ends.
func (b *bodyReads) track(body io.ReadCloser, rc *http.ResponseController, timeout time.Duration) *trackedBody {
	t := &trackedBody{ReadCloser: body, rc: rc, timeout: timeout, reads: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open == nil {
		b.open = map[*trackedBody]struct{}{}
	}
	b.open[t] = struct{}{}
	if b.draining {
		t.cut = true
		rc.SetReadDeadline(time.Now())
	}
	return t
}

func (b *bodyReads) done(t *trackedBody) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.open, t)
}

// drain cuts short the bodies still arriving, and those of requests that start later.
func (b *bodyReads) drain() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.draining = true
	for t := range b.open {
		if !t.ended {
			t.cut = true
			t.rc.SetReadDeadline(time.Now())
		}
	}
}

func (t *trackedBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == nil {
		return n, nil
	}
	t.reads.mu.Lock()
	t.ended = true
	cut := t.cut
	t.reads.mu.Unlock()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if cut {
			return n, Errorf(http.StatusServiceUnavailable, "the server is shutting down; the request body was still arriving")
		}
		return n, Errorf(http.StatusRequestTimeout, "the request body did not arrive within %v (--read-timeout)", t.timeout)
	}
	return n, err
}
