package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/cli/clitest"
)

// startServe runs `siamese serve` on a free loopback port; it returns the URL and the exit
// status channel.
func startServe(t *testing.T, ctx context.Context, model string) (string, <-chan int) {
	t.Helper()
	url, _, code := clitest.StartServe(t, ctx, "siamese", run, 2*time.Minute,
		"serve", "--model", model, "--device", "cpu", "--addr", "127.0.0.1:0")
	return url, code
}

func postPairs(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/v1/similarity", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestServe: concurrent clients get `similarity`'s answers; bad pairs are 400s; Ctrl-C exits 0.
func TestServe(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	if _, se, err := runCmd(tinyArgs(dir)...); err != nil {
		t.Fatalf("train: %v\n%s", err, se)
	}
	pairs := [][2]string{
		{"A man is playing a guitar", "A man is playing a flute"},
		{"A dog is running", "A man is playing a guitar"},
		{"A woman is slicing an onion", "A woman is cutting an onion"},
	}
	want := make([]string, len(pairs))
	for i, p := range pairs {
		so, _, err := runCmd("similarity", "--model", dir, "--device", "cpu", p[0], p[1])
		if err != nil {
			t.Fatalf("similarity: %v", err)
		}
		want[i] = strings.TrimSpace(so)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, code := startServe(t, ctx, dir)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for c := range 4 {
		wg.Go(func() {
			for r := range 10 {
				k := (c + r) % len(pairs)
				body, _ := json.Marshal(map[string]any{"pairs": [][2]string{pairs[k], pairs[(k+1)%len(pairs)]}})
				resp, err := http.Post(url+"/v1/similarity", "application/json", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				var got struct {
					Scores []pairScore
				}
				err = json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || len(got.Scores) != 2 {
					errs <- fmt.Errorf("status %d, %+v, %v", resp.StatusCode, got, err)
					return
				}
				for i, s := range got.Scores {
					word := "dissimilar"
					if s.Similar {
						word = "similar"
					}
					if line := fmt.Sprintf("relatedness %.2f (1-5): %s", s.Relatedness, word); line != want[(k+i)%len(pairs)] {
						errs <- fmt.Errorf("serve: %q, similarity: %q", line, want[(k+i)%len(pairs)])
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
	for _, tc := range []struct {
		body, has string
		code      int
	}{
		{`{"pairs": [["A man", "qwxz zzyq"]]}`, "pair 1, sentence 2: no word of", 400},
		{`{"pairs": [["A man"]]}`, "pair 1: want two sentences", 400},
		{`{"pairs": [["A man", "A dog"]`, "malformed JSON", 400},
		{`{"messages": ["A man"]}`, `unknown field \"messages\"; want`, 400},
	} {
		if status, b := postPairs(t, url, tc.body); status != tc.code || !strings.Contains(string(b), tc.has) {
			t.Errorf("%s: %d %s, want %d and %q", tc.body, status, b, tc.code, tc.has)
		}
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d after Ctrl-C", c)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("serve still running 2 minutes after Ctrl-C")
	}
}

// TestNaNModel: a model giving NaN is an error naming its file, in similarity and serve.
func TestNaNModel(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	if _, se, err := runCmd(tinyArgs(dir)...); err != nil {
		t.Fatalf("train: %v\n%s", err, se)
	}
	weights := filepath.Join(dir, modelFile)
	poisonAll(t, weights)
	// A model trained into NaN: its summary records its own checksum.
	var sum map[string]any
	sb, err := os.ReadFile(filepath.Join(dir, cli.SummaryFile))
	if err != nil || json.Unmarshal(sb, &sum) != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if sum[cli.WeightsSHA256Key], err = cli.FileSHA256(weights); err != nil {
		t.Fatal(err)
	}
	sb, _ = json.Marshal(sum)
	if err := os.WriteFile(filepath.Join(dir, cli.SummaryFile), sb, 0o644); err != nil {
		t.Fatal(err)
	}
	// A flipped byte without that is refused, naming the file.
	good, _ := os.ReadFile(weights)
	os.WriteFile(weights, append(good[:len(good)-1:len(good)-1], good[len(good)-1]^1), 0o644)
	if _, _, err := runCmd("similarity", "--model", dir, "--device", "cpu", "A", "B"); err == nil || !strings.HasPrefix(err.Error(), weights+": SHA-256 ") {
		t.Errorf("similarity with a flipped byte: %v", err)
	}
	os.WriteFile(weights, good, 0o644)
	_, _, err = runCmd("similarity", "--model", dir, "--device", "cpu", "A man is playing", "A dog")
	if err == nil || !strings.Contains(err.Error(), "model "+weights+" gives similarity NaN") {
		t.Errorf("similarity: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, code := startServe(t, ctx, dir)
	if status, b := postPairs(t, url, `{"pairs": [["A man is playing", "A dog"]]}`); status != 500 || !strings.Contains(string(b), weights) {
		t.Errorf("serve: %d %s", status, b)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d", c)
	}
}

// poisonAll writes NaN into every float32 tensor of a safetensors file.
func poisonAll(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(binary.LittleEndian.Uint64(b[:8]))
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	for name, raw := range header {
		var info struct {
			DType   string   `json:"dtype"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if name == "__metadata__" || json.Unmarshal(raw, &info) != nil || info.DType != "F32" {
			continue
		}
		for off := 8 + n + info.Offsets[0]; off < 8+n+info.Offsets[1]; off += 4 {
			binary.LittleEndian.PutUint32(b[off:], math.Float32bits(float32(math.NaN())))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
