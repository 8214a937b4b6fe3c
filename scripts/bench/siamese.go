package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/scripts/internal/modelparity"
	"github.com/seqtorch/seqtorch/torch"
)

// runSiameseInputs is `bench siamese-inputs -dir DIR`: it writes the PyTorch side of the
// Siamese item (scripts/bench_siamese.py, and scripts/gpu-check.sh on a GPU machine) its
// exchange folder (modelparity.WriteSiamese: config.json, init.pt, batches.json): one epoch of
// SICK's TRAIN pairs in shuffled batches, over the vocabulary and frozen GloVe table that
// train/siamese builds with its defaults (no augmentation, seed 1), and the model the Go side
// of the item trains (`siamese --layers 1 --scale one --pooling last`: one BiLSTM layer,
// MaLSTM loss, Adam) initialised with seed 1.
func runSiameseInputs(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench siamese-inputs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "folder to write (created if missing)")
	hidden := fs.Int64("hidden", 50, "LSTM hidden size")
	batch := fs.Int("batch", 64, "batch size")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		return errors.New("usage: bench siamese-inputs -dir DIR [-hidden N] [-batch N]")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pairs, vocab, vectors, err := loadSICK()
	if err != nil {
		return err
	}
	table, _ := vectors.Embedding(vocab, data.EmbeddingOptions{Seed: 1})
	ex := data.EncodePairs(pairs, data.SICKTokenizer{Lower: true}, vocab)
	var batches []data.PairBatch
	for b := range data.PairBatches(ex, data.BatchOptions{Size: *batch, Shuffle: true, Seed: 1}, 1) {
		batches = append(batches, b)
	}
	rc := modelparity.SiameseConfig{Hidden: []int64{*hidden}, Bidirectional: true, Pooling: "last", Loss: "malstm", Scale: "one",
		Threshold: 3.5, Margin: 1, Optimizer: "adam", LR: 1e-3, Threads: 1, Repeat: 1}
	cfg, err := rc.ModelConfig(vocab.Len(), vectors.Dim)
	if err != nil {
		return err
	}
	torch.ManualSeed(1)
	m, err := siamese.New(cfg, table)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := modelparity.WriteSiamese(*dir, rc, m, batches); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d pairs in %d batches of %d, vocabulary %d, BiLSTM %d\n", *dir, len(ex), len(batches), *batch, vocab.Len(), *hidden)
	return nil
}

// loadSICK reads SICK's TRAIN pairs and builds what train/siamese builds by default: the
// vocabulary of every SICK sentence (lowercased treebank tokens) and its word vectors.
func loadSICK() ([]data.Pair, *data.Vocab, *data.Vectors, error) {
	sick, err := data.Ensure("sick")
	if err != nil {
		return nil, nil, nil, err
	}
	glove, err := data.Ensure("glove-sick")
	if err != nil {
		return nil, nil, nil, err
	}
	all, err := data.LoadSICK(filepath.Join(sick, "SICK.txt"))
	if err != nil {
		return nil, nil, nil, err
	}
	train, trial, test := data.SplitSICK(all)
	tok := data.SICKTokenizer{Lower: true}
	var docs [][]string
	for _, set := range [][]data.Pair{train, trial, test} {
		for _, p := range set {
			docs = append(docs, tok.Tokenize(p.A), tok.Tokenize(p.B))
		}
	}
	vocab := data.BuildVocab(docs, data.VocabOptions{})
	vectors, err := data.LoadWord2Vec(filepath.Join(glove, "glove.840B.300d.sick-treelstm.w2v.txt"), data.VectorOptions{Keep: data.KeepSet(vocab.Tokens())})
	if err != nil {
		return nil, nil, nil, err
	}
	return train, vocab, vectors, nil
}
