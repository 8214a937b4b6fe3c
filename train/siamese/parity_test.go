package main

import (
	"context"
	"testing"

	"github.com/seqtorch/seqtorch/models/siamese/parityref"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// TestParityPyTorch trains each parity case (models/siamese/parityref.Cases: every loss head)
// for 20 steps in Go and with scripts/siamese_ref.py in PyTorch (same libtorch) from the same
// weights on the same batches, and compares every step's loss. It is skipped when Python
// cannot import torch. The parity suite (go run ./scripts/parity) runs the same cases.
func TestParityPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python")
	}
	python := parityref.Python()
	if !parityref.HavePyTorch(python) {
		t.Skipf("%s cannot import torch", python)
	}
	torchtest.CheckLive(t)
	for _, c := range parityref.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			d, g, p, err := parityref.Run(context.Background(), python, t.TempDir(), c)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("max |loss diff| over %d steps: %.3g (first loss %.6f, last %.6f)", len(g), d, g[0], g[len(g)-1])
			if d > parityref.Tol {
				t.Errorf("losses differ by %.3g > %g:\nGo      %v\nPyTorch %v", d, parityref.Tol, g, p)
			}
		})
	}
}
