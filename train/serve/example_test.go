package serve_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/seqtorch/seqtorch/train/serve"
)

// A batcher runs a model (here: string lengths) on one goroutine over the inputs of many
// concurrent callers.
func ExampleBatcher() {
	lengths := func(in []string) ([]int, error) { // called on the model goroutine only
		out := make([]int, len(in))
		for i, s := range in {
			out[i] = len(s)
		}
		return out, nil
	}
	b := serve.NewBatcher(lengths, 64, 0, nil)
	done := make(chan struct{})
	go func() { b.Run(); close(done) }() // a command calls Run on the goroutine that loaded the model

	var wg sync.WaitGroup
	results := make([][]int, 3)
	for i, req := range [][]string{{"a"}, {"bb", "ccc"}, {"dddd"}} {
		wg.Go(func() { results[i], _ = b.Do(context.Background(), req) })
	}
	wg.Wait()
	b.Close()
	<-done
	fmt.Println(results)
	// Output: [[1] [2 3] [4]]
}

// A server with one JSON route over a batcher; /healthz and /metrics come with it.
func ExampleServer() {
	o := serve.DefaultOptions()
	s := serve.NewServer("demo", o, map[string]any{"model": "upper"})
	b := serve.NewBatcher(func(in []string) ([]string, error) {
		out := make([]string, len(in))
		for i, m := range in {
			out[i] = strings.ToUpper(m)
		}
		return out, nil
	}, o.MaxBatch, o.MaxWait, s.Metrics())
	s.HandleJSON("/v1/predict", func(w http.ResponseWriter, r *http.Request) (any, error) {
		msgs, err := serve.DecodeMessages(w, r, s.Limits())
		if err != nil {
			return nil, err // 400 or 413 with a JSON error
		}
		out, err := b.Do(r.Context(), msgs)
		return map[string]any{"upper": out}, err
	})
	go b.Run() // s.Serve(ctx, b) does this, listening on o.Addr
	defer b.Close()

	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, body := range []string{`{"messages": ["hello", "world"]}`, `{"messages": ["hello"`, `{"messages": [""]}`} {
		resp, err := http.Post(ts.URL+"/v1/predict", "application/json", strings.NewReader(body))
		if err != nil {
			fmt.Println(err)
			return
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(out))
	}
	// Output:
	// 200 {"upper":["HELLO","WORLD"]}
	// 400 {"error":"malformed JSON: the body ends early; want {\"messages\": [\"text\", ...]}"}
	// 400 {"error":"message 1 is empty"}
}
