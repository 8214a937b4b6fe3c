package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/cli/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m, "sms", run) }

// TestDataParallel trains on two local processes (--nproc 2), then trains one epoch and
// resumes for the second: rank 0 writes a run folder with world_size 2, and the resumed run
// ends with the uninterrupted run's model, bit for bit (Gloo's sum of two is exact in any
// order, and the batches and seeds are the run's own).
func TestDataParallel(t *testing.T) {
	torchtest.CheckLive(t)
	clitest.AsCommand(t, "sms")
	dir := t.TempDir()
	full, part := filepath.Join(dir, "full"), filepath.Join(dir, "part")
	js := filepath.Join(dir, "full.json")
	if code, stdout, stderr := runCmd(context.Background(), tiny(full, "--nproc", "2", "--cell", "lstm", "--dropout", "0.3", "--json", js)...); code != 0 {
		t.Fatalf("--nproc 2: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var sum Summary
	if err := json.Unmarshal([]byte(readFile(t, js)), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.WorldSize != 2 || sum.Epochs != 2 {
		t.Errorf("summary: world_size %d, epochs %d; want 2 and 2", sum.WorldSize, sum.Epochs)
	}
	if code, _, stderr := runCmd(context.Background(), tiny(part, "--nproc", "2", "--cell", "lstm", "--dropout", "0.3", "--epochs", "1")...); code != 0 {
		t.Fatalf("one epoch: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCmd(context.Background(), "--resume", part, "--epochs", "2"); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	if readFile(t, filepath.Join(full, "model.safetensors")) != readFile(t, filepath.Join(part, "model.safetensors")) {
		t.Error("the resumed data-parallel run's model differs from the uninterrupted one's")
	}
	// --batch is the global batch: it must split evenly.
	code, _, stderr := runCmd(context.Background(), tiny(filepath.Join(dir, "odd"), "--nproc", "3")...)
	if code == 0 {
		t.Errorf("--batch 16 with --nproc 3: exit 0, want a usage error; stderr:\n%s", stderr)
	}
}

// TestDistTimeoutAlone: --dist-timeout bounds the rendezvous of a rank started by hand (or by
// torchrun), not only under --nproc: a lone rank 1 fails after 2 s saying rank 0's store did
// not answer, and a lone rank 0 names the rank that never joined (each within a minute; they
// waited 5 minutes before).
func TestDistTimeoutAlone(t *testing.T) {
	torchtest.CheckLive(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	for _, tc := range []struct{ rank, want string }{
		{"1", "rank 1 of 2: rank 0's store did not answer within 2s"},
		{"0", "rank 0 of 2: rank 1 did not join within 2s"},
	} {
		t.Run("rank"+tc.rank, func(t *testing.T) {
			t.Setenv("RANK", tc.rank)
			t.Setenv("WORLD_SIZE", "2")
			t.Setenv("MASTER_ADDR", "127.0.0.1")
			t.Setenv("MASTER_PORT", port)
			t.Setenv("SEQTORCH_STORE_FILE", "")
			t.Setenv("SEQTORCH_DIST_TIMEOUT", "")
			type result struct {
				code   int
				stderr string
			}
			done := make(chan result, 1)
			go func() {
				code, _, stderr := runCmd(context.Background(), tiny(filepath.Join(t.TempDir(), "run"), "--dist-timeout", "2s")...)
				done <- result{code, stderr}
			}()
			select {
			case r := <-done:
				if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
					t.Errorf("exit %d, stderr %q; want an error with %q", r.code, r.stderr, tc.want)
				}
			case <-time.After(time.Minute):
				t.Fatal("a lone rank with --dist-timeout 2s still waits after a minute")
			}
		})
	}
}
