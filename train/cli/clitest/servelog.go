package clitest

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/train/cli"
)

// ServingRE matches the line a serving command logs once it listens, "serving on http://ADDR".
var ServingRE = regexp.MustCompile(`serving on (http://\S+)`)

// ServeLog is a goroutine-safe writer for a serving command's log: URL receives the address of
// the first "serving on http://ADDR" line written, once.
type ServeLog struct {
	URL  chan string
	mu   sync.Mutex
	buf  bytes.Buffer
	sent bool
}

// NewServeLog returns an empty log whose URL channel holds one value.
func NewServeLog() *ServeLog { return &ServeLog{URL: make(chan string, 1)} }

// Write appends p to the log and sends the serving address the first time it appears.
func (w *ServeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.sent {
		if m := ServingRE.FindStringSubmatch(w.buf.String()); m != nil {
			w.sent = true
			w.URL <- m[1]
		}
	}
	return len(p), nil
}

// String returns everything written so far.
func (w *ServeLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// StartServe runs a serving command on a goroutine of its own — run with args, its log in a
// ServeLog, its exit status computed as command name's — and waits up to wait for it to log
// the address it listens on. It returns that URL, the log and a channel that receives the
// command's exit status once it ends (cancel ctx to stop it); the test fails if the command
// exits first or stays silent.
func StartServe(t *testing.T, ctx context.Context, name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error, wait time.Duration, args ...string) (string, *ServeLog, <-chan int) {
	t.Helper()
	log := NewServeLog()
	code := make(chan int, 1)
	go func() {
		err := run(ctx, args, io.Discard, log)
		code <- cli.ExitCode(name, err, log)
	}()
	select {
	case url := <-log.URL:
		return url, log, code
	case c := <-code:
		t.Fatalf("%s exited with %d before listening: %s", name, c, log.String())
	case <-time.After(wait):
		t.Fatalf("%s not listening after %v: %s", name, wait, log.String())
	}
	return "", nil, nil
}
