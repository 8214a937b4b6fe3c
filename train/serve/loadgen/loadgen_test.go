package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fake answers /v1/predict: spam for messages containing "win", P(spam) = len/1000.
func fake() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Messages []string }
		if r.URL.Path != "/v1/predict" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"error": "bad"}`, http.StatusBadRequest)
			return
		}
		var out []Answer
		for _, m := range req.Messages {
			a := Answer{Label: "ham", PSpam: float64(len(m)) / 1000}
			if strings.Contains(m, "win") {
				a.Label = "spam"
			}
			out = append(out, a)
		}
		json.NewEncoder(w).Encode(map[string]any{"predictions": out})
	}))
}

func TestRun(t *testing.T) {
	srv := fake()
	defer srv.Close()
	msgs := []string{"win a prize", "hello", "see you", "win win"}
	tests := []struct {
		conc, per, requests int
	}{
		{1, 1, 10}, {8, 1, 100}, {4, 3, 50}, {64, 2, 200},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("c%d-per%d", tc.conc, tc.per), func(t *testing.T) {
			r, err := Run(context.Background(), Options{URL: srv.URL, Messages: msgs, PerRequest: tc.per,
				Concurrency: tc.conc, Requests: tc.requests, Duration: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests != tc.requests || r.Messages != tc.requests*tc.per || r.Errors != 0 || r.Inconsistent != 0 {
				t.Errorf("result %+v", r)
			}
			for i, a := range r.Answers {
				if want := strings.Contains(msgs[i], "win"); (a.Label == "spam") != want || a.PSpam != float64(len(msgs[i]))/1000 {
					t.Errorf("answer for %q: %+v", msgs[i], a)
				}
			}
			if !(r.P50 > 0 && r.P99 >= r.P50 && r.Throughput > 0) {
				t.Errorf("p50 %v p99 %v throughput %v", r.P50, r.P99, r.Throughput)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	srv := fake()
	defer srv.Close()
	r, err := Run(context.Background(), Options{URL: srv.URL + "/nope", Messages: []string{"a"}, Requests: 3, Duration: time.Minute})
	if err != nil || r.Errors != 3 || r.Requests != 0 || !strings.Contains(r.FirstError, "status 400") {
		t.Errorf("%+v %v", r, err)
	}
	for _, u := range []string{"http://example.com", "http://10.0.0.1:80", "https://127.0.0.1:1", "http://[::2]:80"} {
		if _, err := Run(context.Background(), Options{URL: u, Messages: []string{"a"}, Requests: 1, Duration: time.Second}); err == nil {
			t.Errorf("%s: no error", u)
		}
	}
	for _, u := range []string{"http://localhost:1", "http://127.0.0.2:1", "http://[::1]:1"} {
		if err := CheckLoopback(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5}
	for q, want := range map[float64]float64{0: 1, 0.5: 3, 0.99: 4.96, 1: 5} {
		if got := Quantile(xs, q); got < want-1e-12 || got > want+1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
}

// Eight clients send 40 one-message requests to a server on the loopback interface.
func ExampleRun() {
	srv := fake() // a /v1/predict server on 127.0.0.1
	defer srv.Close()
	r, err := Run(context.Background(), Options{URL: srv.URL, Messages: []string{"win now", "hi mum"},
		Concurrency: 8, Requests: 40, Duration: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Requests, "requests,", r.Messages, "messages,", r.Errors, "errors")
	fmt.Println(r.Answers)
	// Output:
	// 40 requests, 40 messages, 0 errors
	// [{spam 0.007} {ham 0.006}]
}
