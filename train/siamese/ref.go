package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/models/siamese/parityref"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// runBench is `siamese bench`: one SICK training epoch (the default model) in Go and in
// PyTorch on the same libtorch and batches, alternating, threads 1.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("siamese bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 3, "alternating Go/PyTorch rounds")
	hidden := fs.Int("hidden", 50, "LSTM hidden size")
	batch := fs.Int("batch", 64, "batch size")
	tmp := fs.String("dir", "", "work folder (default: a temporary one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	python := parityref.Python()
	if !parityref.HavePyTorch(python) {
		return fmt.Errorf("bench: %s cannot import torch (apt-get install python3-torch or set SEQTORCH_PYTHON)", python)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := torch.SetNumThreads(1); err != nil {
		return err
	}
	c, err := loadDefaultCorpus()
	if err != nil {
		return err
	}
	ex := c.encode(c.train)
	var batches []data.PairBatch
	for b := range data.PairBatches(ex, data.BatchOptions{Size: *batch, Shuffle: true, Seed: 1}, 1) {
		batches = append(batches, b)
	}
	dir := *tmp
	if dir == "" {
		if dir, err = os.MkdirTemp("", "siamese-bench"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	rc := parityref.Config{Hidden: []int{*hidden}, Bidirectional: true, Pooling: "last", Loss: "malstm", Threshold: 3.5,
		Margin: 1, Optimizer: "adam", LR: 1e-3, Threads: 1, Repeat: 1}
	cfg := siamese.Config{VocabSize: c.vocab.Len(), EmbedDim: c.vectors.Dim, Hidden: rc.Hidden, Bidirectional: true}
	torch.ManualSeed(1)
	m, err := siamese.New(cfg, c.embedding)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := parityref.Write(dir, rc, m, batches); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "one epoch: %d pairs, %d batches of %d, BiLSTM %d, Adam, threads 1 (libtorch %s, %s)\n",
		len(ex), len(batches), *batch, *hidden, torch.Version(), torch.BLAS())
	var goSum, pySum float64
	for i := range *rounds {
		if err := nn.LoadTorch(filepath.Join(dir, "init.pt"), m); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		g, err := parityref.Train(m, rc, batches)
		if err != nil {
			return err
		}
		p, err := parityref.RunPython(ctx, python, dir)
		if err != nil {
			return err
		}
		goSum += g.Seconds[0]
		pySum += p.Seconds[0]
		fmt.Fprintf(stdout, "round %d: Go %.3fs  PyTorch %.3fs  ratio %.3f  (max loss diff %.2g)\n",
			i+1, g.Seconds[0], p.Seconds[0], g.Seconds[0]/p.Seconds[0], parityref.MaxAbsDiff(g.Losses, p.Losses))
	}
	n := float64(*rounds)
	fmt.Fprintf(stdout, "mean: Go %.3fs/epoch  PyTorch %.3fs/epoch  Go/PyTorch %.3f\n", goSum/n, pySum/n, goSum/pySum)
	return nil
}

// loadDefaultCorpus loads SICK and the default vectors from the data catalog, without
// augmentation.
func loadDefaultCorpus() (*corpus, error) {
	sickFile, err := sickPath("")
	if err != nil {
		return nil, err
	}
	vecFile, err := vectorsPath("")
	if err != nil {
		return nil, err
	}
	return loadCorpus(sickFile, vecFile, augmentSpec{Kind: "none"}, 1)
}
