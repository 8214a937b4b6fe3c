package main

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
)

// parityBatches makes n reproducible random batches of sentence pairs over a vocabulary of v.
func parityBatches(n, size, v int) []data.PairBatch {
	r := rand.New(rand.NewPCG(3, 4))
	var ex []data.PairExample
	for range n * size {
		seq := func() []int64 {
			s := make([]int64, 2+r.IntN(10))
			for i := range s {
				s[i] = int64(1 + r.IntN(v-1))
			}
			return s
		}
		ex = append(ex, data.PairExample{A: seq(), B: seq(), Score: 1 + 4*r.Float64()})
	}
	var out []data.PairBatch
	for b := range data.PairBatches(ex, data.BatchOptions{Size: size, Shuffle: true, Seed: 5}, 1) {
		out = append(out, b)
	}
	return out
}

// TestParityPyTorch trains the model for 20 steps in Go and with scripts/siamese_ref.py in
// PyTorch (same libtorch) from the same weights on the same batches, and compares every
// step's loss. It is skipped when Python cannot import torch.
func TestParityPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python")
	}
	if !havePyTorch(pythonCmd()) {
		t.Skipf("%s cannot import torch", pythonCmd())
	}
	checkLive(t)
	const tol = 1e-4
	cases := []struct {
		name string
		rc   refConfig
	}{
		{"malstm-bilstm-adam-clip", refConfig{Hidden: []int{8}, Bidirectional: true, Pooling: "last", Loss: "malstm", Optimizer: "adam", LR: 1e-2, Clip: 1}},
		{"malstm-stacked-sizes-mean-adadelta", refConfig{Hidden: []int{8, 6}, Bidirectional: true, Pooling: "mean", Loss: "malstm", Optimizer: "adadelta", LR: 1}},
		{"contrastive-2layers-max", refConfig{Hidden: []int{8, 8}, Pooling: "max", Loss: "contrastive", Margin: 1, Threshold: 3, Optimizer: "adam", LR: 1e-2}},
		{"triplet-hardest-meanmax", refConfig{Hidden: []int{8}, Bidirectional: true, Pooling: "meanmax", Loss: "triplet", Margin: 0.5, Threshold: 3, Optimizer: "adam", LR: 1e-2}},
	}
	batches := parityBatches(20, 8, 30)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.rc.Threads, c.rc.Repeat = 1, 1
			pool, err := siamese.ParsePooling(c.rc.Pooling)
			if err != nil {
				t.Fatal(err)
			}
			cfg := siamese.Config{VocabSize: 30, EmbedDim: 12, Hidden: c.rc.Hidden, Bidirectional: c.rc.Bidirectional, Pooling: pool}
			emb := make([]float32, 30*12)
			r := rand.New(rand.NewPCG(1, 1))
			for i := 12; i < len(emb); i++ {
				emb[i] = float32(r.NormFloat64() * 0.5)
			}
			torch.ManualSeed(11)
			m, err := siamese.New(cfg, emb)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			dir := t.TempDir()
			if err := writeRef(dir, c.rc, m, batches); err != nil {
				t.Fatal(err)
			}
			g, err := goTrain(m, c.rc, batches)
			if err != nil {
				t.Fatal(err)
			}
			p, err := runPython(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Losses) != 20 {
				t.Fatalf("Go made %d steps, want 20", len(g.Losses))
			}
			d := maxAbsDiff(g.Losses, p.Losses)
			t.Logf("max |loss diff| over 20 steps: %.3g (first loss %.6f, last %.6f)", d, g.Losses[0], g.Losses[19])
			if d > tol {
				t.Errorf("losses differ by %.3g > %g:\nGo      %v\nPyTorch %v", d, tol, g.Losses, p.Losses)
			}
		})
	}
}
