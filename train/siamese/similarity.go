package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
)

// runSimilarity is `siamese similarity --model DIR "s1" "s2"`: the predicted relatedness (1–5)
// of two sentences and the similar/dissimilar decision.
func runSimilarity(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("siamese similarity", `usage: go run ./train/siamese similarity --model DIR "sentence 1" "sentence 2"`, stderr)
	dir := fs.String("model", "runs/siamese", "run folder of a trained model")
	vectors := fs.String("vectors", "", "check that this vectors file matches the model's dimension")
	device := fs.String("device", "auto", "device: auto, cpu, cuda or cuda:N")
	if err := cli.ParseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return cli.Usagef("similarity: want two sentences, got %d", fs.NArg())
	}
	rel, similar, err := similarity(*dir, *vectors, *device, fs.Arg(0), fs.Arg(1))
	if err != nil {
		return err
	}
	word := "dissimilar"
	if similar {
		word = "similar"
	}
	fmt.Fprintf(stdout, "relatedness %.2f (1-5): %s\n", rel, word)
	return nil
}

// similarity loads the model in dir and scores one pair.
func similarity(dir, vectors, device, s1, s2 string) (rel float64, similar bool, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mc, err := readConfig(filepath.Join(dir, configFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, false, fmt.Errorf("%s is not a trained model folder (no %s)", dir, configFile)
		}
		return 0, false, err
	}
	if _, err := os.Stat(filepath.Join(dir, modelFile)); err != nil {
		return 0, false, fmt.Errorf("%s holds no trained model (no %s): finish its training with %s --resume %s", dir, modelFile, invocation, cli.ShellQuote(dir))
	}
	if vectors != "" {
		if err := checkVectorDim(vectors, mc.EmbedDim); err != nil {
			return 0, false, err
		}
	}
	dev, err := torch.ParseDevice(device)
	if err != nil {
		return 0, false, cli.FlagError("device", err)
	}
	vocab, err := data.LoadVocab(filepath.Join(dir, vocabFile))
	if err != nil {
		return 0, false, err
	}
	if vocab.Len() != mc.VocabSize {
		return 0, false, fmt.Errorf("%s has %d tokens, but %s says %d", vocabFile, vocab.Len(), configFile, mc.VocabSize)
	}
	tok := tokenizer()
	var ids [2][]int64
	for i, s := range []string{s1, s2} {
		if ids[i], err = encodeSentence(s, tok, vocab); err != nil {
			return 0, false, fmt.Errorf("sentence %d: %w", i+1, err)
		}
	}
	cfg, err := mc.siamese()
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", configFile, err)
	}
	m, err := siamese.New(cfg, make([]float32, cfg.VocabSize*cfg.EmbedDim))
	if err != nil {
		return 0, false, err
	}
	defer m.Close()
	if err := loadParams(m, filepath.Join(dir, modelFile)); err != nil {
		return 0, false, err
	}
	if err := toDevice(m, dev); err != nil {
		return 0, false, err
	}
	loss, err := siamese.ParseLoss(mc.Loss)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", configFile, err)
	}
	head := siamese.Head{Loss: loss, Margin: mc.Margin, Threshold: mc.Threshold, Module: m.Similarity}
	head.Alpha, head.Factor = m.ScoreScale()
	ex := []data.PairExample{{A: ids[0], B: ids[1], Score: 1}}
	sims, _, err := predict(m, head, ex, 1)
	if err != nil {
		return 0, false, err
	}
	rel = calibration{A: mc.CalibA, B: mc.CalibB}.apply(sims[0])
	return rel, rel >= mc.Threshold, nil
}
