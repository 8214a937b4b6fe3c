package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/cli/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m, "siamese", run) }

// TestDataParallel trains on two local processes: rank 0 alone writes the run folder and the
// summary, which records world_size 2.
func TestDataParallel(t *testing.T) {
	torchtest.CheckLive(t)
	clitest.AsCommand(t, "siamese")
	dir := filepath.Join(t.TempDir(), "run")
	so, se, err := runCmd(tinyArgs(dir, "--nproc", "2", "--json", "-")...)
	if err != nil {
		t.Fatalf("--nproc 2: %v\n%s", err, se)
	}
	var sum summary
	if err := json.Unmarshal([]byte(so), &sum); err != nil {
		t.Fatalf("--json - printed no summary: %v\n%s", err, so)
	}
	if sum.WorldSize != 2 || sum.Epochs != 2 {
		t.Errorf("summary: world_size %d, epochs %d; want 2 and 2", sum.WorldSize, sum.Epochs)
	}
	for _, name := range []string{"model.safetensors", "config.json", "metrics.jsonl", cli.SummaryFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("rank 0 did not write %s: %v", name, err)
		}
	}
}
