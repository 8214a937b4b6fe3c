package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

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
