package loop_test

import (
	"context"
	"fmt"
	"os"

	"github.com/seqtorch/seqtorch/train/loop"
)

// Example trains a tiny classifier for three epochs. The job supplies its batches (a pure
// function of the epoch), one training step, a validation pass and how to persist its model
// and optimizer; the loop does the rest: seeding, scopes, metrics.jsonl, the best model and
// checkpoints in the run folder.
func Example() {
	dir, err := os.MkdirTemp("", "loop-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	job := newToy(1)
	defer job.close()
	cfg := job.config(dir, 3)
	cfg.Monitor, cfg.Maximize = "val_accuracy", true

	res, err := loop.Run(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.History {
		fmt.Printf("epoch %d: %d steps, val_accuracy %.2f\n", r.Epoch, r.Steps, r.Val["val_accuracy"])
	}
	_, err = os.Stat(res.BestPath)
	fmt.Println("best epoch", res.BestEpoch, "saved:", err == nil)
	// Output:
	// epoch 1: 8 steps, val_accuracy 0.91
	// epoch 2: 8 steps, val_accuracy 0.88
	// epoch 3: 8 steps, val_accuracy 0.94
	// best epoch 3 saved: true
}
