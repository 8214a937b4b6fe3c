package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
)

// runSimilarity is `siamese similarity --model DIR "s1" "s2"`: the predicted relatedness (1–5)
// of two sentences and the similar/dissimilar decision.
func runSimilarity(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("siamese similarity", `usage: go run ./train/siamese similarity --model DIR "sentence 1" "sentence 2"`, stderr)
	dir := fs.String("model", "runs/siamese", modelHelp)
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

// modelHelp is --model's help in the subcommands that load a trained model.
const modelHelp = "run folder of a trained model, or several separated by commas: an ensemble, whose relatedness is the mean of the models' (they must share a vocabulary)"

// scorer is one trained model, or an ensemble of several, loaded from run folders and ready
// to score pairs: the relatedness is the mean of the members' calibrated relatedness. The
// members share one vocabulary (and so one encoding of a pair) and one threshold.
type scorer struct {
	members   []member
	vocab     *data.Vocab
	tok       data.Tokenizer
	threshold float64 // relatedness from which a pair is "similar"
}

// member is one model of a scorer.
type member struct {
	m       *siamese.Model
	head    siamese.Head
	calib   calibration
	weights string // the model file, for messages
}

// loadScorer loads the model, vocabulary and calibration of each run folder in dirs (one, or
// several separated by commas: an ensemble).
func loadScorer(dirs, vectors, device string) (*scorer, error) {
	dev, err := torch.ParseDevice(device)
	if err != nil {
		return nil, cli.FlagError("device", err)
	}
	sc := &scorer{tok: tokenizer()}
	list := strings.Split(dirs, ",")
	for i, dir := range list {
		mb, vocab, threshold, err := loadMember(strings.TrimSpace(dir), vectors, dev)
		if err != nil {
			sc.close()
			return nil, err
		}
		sc.members = append(sc.members, mb)
		switch {
		case i == 0:
			sc.vocab, sc.threshold = vocab, threshold
		case !slices.Equal(vocab.Tokens(), sc.vocab.Tokens()):
			sc.close()
			return nil, fmt.Errorf("--model: %s and %s have different vocabularies: the models of an ensemble must be trained on the same data", list[0], dir)
		case threshold != sc.threshold:
			sc.close()
			return nil, fmt.Errorf("--model: %s has threshold %v, %s %v: the models of an ensemble must share it", list[0], sc.threshold, dir, threshold)
		}
	}
	return sc, nil
}

// loadMember loads the model of the run folder dir, with its vocabulary and threshold.
func loadMember(dir, vectors string, dev torch.Device) (member, *data.Vocab, float64, error) {
	fail := func(err error) (member, *data.Vocab, float64, error) { return member{}, nil, 0, err }
	if dir == "" {
		return fail(cli.Usagef("--model: an empty folder name"))
	}
	mc, err := readConfig(filepath.Join(dir, configFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fail(fmt.Errorf("%s is not a trained model folder (no %s)", dir, configFile))
		}
		return fail(err)
	}
	weights := filepath.Join(dir, modelFile)
	if _, err := os.Stat(weights); err != nil {
		return fail(fmt.Errorf("%s holds no trained model (no %s): finish its training with %s --resume %s", dir, modelFile, invocation, cli.ShellQuote(dir)))
	}
	if vectors != "" {
		if err := checkVectorDim(vectors, mc.Embed); err != nil {
			return fail(err)
		}
	}
	vocab, err := data.LoadVocab(filepath.Join(dir, vocabFile))
	if err != nil {
		return fail(err)
	}
	if int64(vocab.Len()) != mc.Vocab {
		return fail(fmt.Errorf("%s has %d tokens, but %s says %d", vocabFile, vocab.Len(), configFile, mc.Vocab))
	}
	cfg, err := mc.siamese()
	if err != nil {
		return fail(fmt.Errorf("%s: %w", configFile, err))
	}
	loss, err := siamese.ParseLoss(mc.Loss)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", configFile, err))
	}
	m, err := siamese.New(cfg, make([]float32, cfg.Vocab*cfg.Embed))
	if err != nil {
		return fail(err)
	}
	if err := cli.VerifyWeights(dir, weights); err != nil {
		m.Close()
		return fail(err)
	}
	if err := loadParams(m, weights); err != nil {
		m.Close()
		return fail(err)
	}
	if err := toDevice(m, dev); err != nil {
		m.Close()
		return fail(err)
	}
	head := siamese.Head{Loss: loss, Margin: mc.Margin, Threshold: mc.Threshold, Module: m.Similarity}
	head.Alpha, head.Factor = m.ScoreScale()
	return member{m: m, head: head, calib: calibration{A: mc.CalibA, B: mc.CalibB}, weights: weights}, vocab, mc.Threshold, nil
}

// close frees every member's model.
func (s *scorer) close() {
	for _, mb := range s.members {
		mb.m.Close()
	}
}

// device is where the models are.
func (s *scorer) device() torch.Device { return s.members[0].m.Device() }

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

// relatedness returns the calibrated relatedness (1–5) of each pair, in one batch per model:
// the mean over the members. A model whose similarity is not a number (weights holding NaN)
// is an error naming its file.
func (s *scorer) relatedness(ex []data.PairExample) ([]float64, error) {
	rel := make([]float64, len(ex))
	for _, mb := range s.members {
		sims, _, err := predict(mb.m, mb.head, ex, len(ex))
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", mb.weights, err)
		}
		for i, v := range sims {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("model %s gives similarity %v: its weights are not all finite numbers (a diverged run?); retrain it", mb.weights, v)
			}
			rel[i] += mb.calib.apply(v) / float64(len(s.members))
		}
	}
	return rel, nil
}
