package clitest

import (
	"bytes"
	"regexp"
	"sync"
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
