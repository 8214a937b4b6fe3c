// Package loadgen is a closed-loop load generator for a /v1/predict server (`sms serve`, or
// scripts/sms_serve_ref.py, its PyTorch baseline), used by `make bench`'s serving item and by
// tests. It only talks to the loopback interface, and every run is bounded both in requests
// and in time.
//
// Concurrency clients each send one request at a time — the next as soon as the answer has
// been read — over kept-alive connections, with the messages taken round-robin from
// Options.Messages. A run reports throughput (messages answered per second), request latency
// quantiles and each message's answer, so a caller can check them against `sms predict`.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe one run.
type Options struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080; its host must be a loopback
	// address or "localhost".
	URL string
	// Messages are sent round-robin.
	Messages []string
	// PerRequest is the number of messages in each request (default 1).
	PerRequest int
	// Concurrency is the number of clients (default 1).
	Concurrency int
	// Requests bounds the requests sent (required, > 0).
	Requests int
	// Duration bounds the time spent sending (required, > 0): no request starts after it.
	Duration time.Duration
}

// Answer is what the server said about one message.
type Answer struct {
	Label string  `json:"label"`
	PSpam float64 `json:"p_spam"`
}

// Result is a run's outcome. Latencies are in milliseconds, of whole requests (send to
// last byte of the answer).
type Result struct {
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"` // answered with 200
	Messages    int     `json:"messages"` // in those requests
	Errors      int     `json:"errors"`   // requests that failed or got another status
	FirstError  string  `json:"first_error,omitempty"`
	Seconds     float64 `json:"seconds"`
	Throughput  float64 `json:"messages_per_second"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	Mean        float64 `json:"mean_ms"`
	// Answers[i] is the first answer for Messages[i] (zero if never sent); Inconsistent counts
	// answers that differed from an earlier one for the same message (another label, or
	// P(spam) further than 1e-6).
	Answers      []Answer `json:"-"`
	Inconsistent int      `json:"inconsistent"`
}

// CheckLoopback refuses a URL whose host is not a loopback address or "localhost".
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" {
		return fmt.Errorf("loadgen: %s: want an http:// URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("loadgen: %s is not on the loopback interface (127.0.0.0/8, ::1, localhost)", raw)
}

// Run drives o.URL + "/v1/predict" as o says, until o.Requests requests are answered,
// o.Duration has passed, or ctx is done.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := CheckLoopback(o.URL); err != nil {
		return nil, err
	}
	if len(o.Messages) == 0 || o.Requests < 1 || o.Duration <= 0 {
		return nil, errors.New("loadgen: want messages, Requests > 0 and Duration > 0")
	}
	c := max(o.Concurrency, 1)
	per := max(o.PerRequest, 1)
	tr := &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c, MaxConnsPerHost: c, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	endpoint := o.URL + "/v1/predict"

	r := &Result{Concurrency: c, Answers: make([]Answer, len(o.Messages))}
	seen := make([]bool, len(o.Messages))
	var (
		mu        sync.Mutex
		latencies []float64
		next      atomic.Int64
		wg        sync.WaitGroup
	)
	deadline := time.Now().Add(o.Duration)
	t0 := time.Now()
	for range c {
		wg.Go(func() {
			idx := make([]int, per)
			batch := make([]string, per)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				n := int(next.Add(1)) - 1
				if n >= o.Requests {
					return
				}
				for k := range per {
					idx[k] = (n*per + k) % len(o.Messages)
					batch[k] = o.Messages[idx[k]]
				}
				body, _ := json.Marshal(map[string][]string{"messages": batch})
				start := time.Now()
				answers, err := post(ctx, client, endpoint, body, per)
				lat := float64(time.Since(start).Nanoseconds()) / 1e6
				mu.Lock()
				if err != nil {
					r.Errors++
					if r.FirstError == "" {
						r.FirstError = err.Error()
					}
				} else {
					r.Requests++
					r.Messages += per
					latencies = append(latencies, lat)
					for k, a := range answers {
						i := idx[k]
						if !seen[i] {
							seen[i], r.Answers[i] = true, a
						} else if a.Label != r.Answers[i].Label || math.Abs(a.PSpam-r.Answers[i].PSpam) > 1e-6 {
							r.Inconsistent++
						}
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.Seconds = time.Since(t0).Seconds()
	if r.Seconds > 0 {
		r.Throughput = float64(r.Messages) / r.Seconds
	}
	if len(latencies) > 0 {
		slices.Sort(latencies)
		r.P50, r.P99 = Quantile(latencies, 0.5), Quantile(latencies, 0.99)
		var s float64
		for _, l := range latencies {
			s += l
		}
		r.Mean = s / float64(len(latencies))
	}
	return r, ctx.Err()
}

// post sends one request and decodes its answers.
func post(ctx context.Context, client *http.Client, endpoint string, body []byte, want int) ([]Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var out struct {
		Predictions []Answer `json:"predictions"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("answer is not JSON: %v", err)
	}
	if len(out.Predictions) != want {
		return nil, fmt.Errorf("%d predictions for %d messages", len(out.Predictions), want)
	}
	return out.Predictions, nil
}

// Quantile returns the q-quantile of sorted values, interpolating linearly between closest
// ranks (NumPy's default).
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(pos)
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}
