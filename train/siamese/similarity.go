package main

import (
	"errors"
	"fmt"
	"io"
	"math"
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
	sc, err := loadScorer(dir, vectors, device)
	if err != nil {
		return 0, false, err
	}
	defer sc.close()
	ex, err := sc.encode(s1, s2)
	if err != nil {
		return 0, false, err
	}
	rels, err := sc.relatedness([]data.PairExample{ex})
	if err != nil {
		return 0, false, err
	}
	return rels[0], rels[0] >= sc.threshold, nil
}

// scorer is a trained model loaded from a run folder, ready to score pairs.
type scorer struct {
	m         *siamese.Model
	head      siamese.Head
	vocab     *data.Vocab
	tok       data.Tokenizer
	calib     calibration
	threshold float64 // relatedness from which a pair is "similar"
	weights   string  // the model file, for messages
}

// loadScorer loads the model, vocabulary and calibration of the run folder dir.
func loadScorer(dir, vectors, device string) (*scorer, error) {
	mc, err := readConfig(filepath.Join(dir, configFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a trained model folder (no %s)", dir, configFile)
		}
		return nil, err
	}
	weights := filepath.Join(dir, modelFile)
	if _, err := os.Stat(weights); err != nil {
		return nil, fmt.Errorf("%s holds no trained model (no %s): finish its training with %s --resume %s", dir, modelFile, invocation, cli.ShellQuote(dir))
	}
	if vectors != "" {
		if err := checkVectorDim(vectors, mc.EmbedDim); err != nil {
			return nil, err
		}
	}
	dev, err := torch.ParseDevice(device)
	if err != nil {
		return nil, cli.FlagError("device", err)
	}
	vocab, err := data.LoadVocab(filepath.Join(dir, vocabFile))
	if err != nil {
		return nil, err
	}
	if vocab.Len() != mc.VocabSize {
		return nil, fmt.Errorf("%s has %d tokens, but %s says %d", vocabFile, vocab.Len(), configFile, mc.VocabSize)
	}
	cfg, err := mc.siamese()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configFile, err)
	}
	loss, err := siamese.ParseLoss(mc.Loss)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configFile, err)
	}
	m, err := siamese.New(cfg, make([]float32, cfg.VocabSize*cfg.EmbedDim))
	if err != nil {
		return nil, err
	}
	if err := loadParams(m, weights); err != nil {
		m.Close()
		return nil, err
	}
	if err := toDevice(m, dev); err != nil {
		m.Close()
		return nil, err
	}
	head := siamese.Head{Loss: loss, Margin: mc.Margin, Threshold: mc.Threshold, Module: m.Similarity}
	head.Alpha, head.Factor = m.ScoreScale()
	return &scorer{m: m, head: head, vocab: vocab, tok: tokenizer(), calib: calibration{A: mc.CalibA, B: mc.CalibB},
		threshold: mc.Threshold, weights: weights}, nil
}

func (s *scorer) close() { s.m.Close() }

// encode turns a pair of sentences into token ids (pure Go: no libtorch).
func (s *scorer) encode(a, b string) (data.PairExample, error) {
	var ids [2][]int64
	for i, sent := range []string{a, b} {
		var err error
		if ids[i], err = encodeSentence(sent, s.tok, s.vocab); err != nil {
			return data.PairExample{}, fmt.Errorf("sentence %d: %w", i+1, err)
		}
	}
	return data.PairExample{A: ids[0], B: ids[1], Score: 1}, nil
}

// relatedness returns the calibrated relatedness (1–5) of each pair, in one batch. A model
// whose similarity is not a number (weights holding NaN) is an error naming its file.
func (s *scorer) relatedness(ex []data.PairExample) ([]float64, error) {
	sims, _, err := predict(s.m, s.head, ex, len(ex))
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", s.weights, err)
	}
	rel := make([]float64, len(sims))
	for i, v := range sims {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("model %s gives similarity %v: its weights are not all finite numbers (a diverged run?); retrain it", s.weights, v)
		}
		rel[i] = s.calib.apply(v)
	}
	return rel, nil
}
