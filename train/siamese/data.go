package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqtorch/seqtorch/data"
)

// corpus is SICK prepared for training: the official SemEval-2014 split, the vocabulary and
// the frozen embedding table.
type corpus struct {
	train, trial, test []data.Pair
	augmented          []data.Pair // extra training pairs (empty without --augment)
	augmentDropped     int         // augmented pairs dropped for words without a vector
	tok                data.Tokenizer
	vocab              *data.Vocab
	vectors            *data.Vectors
	vectorsUsed        data.VectorsRecord // the vectors file and its coverage of the corpus
	embedding          []float32
	found              int // vocabulary rows with a pretrained vector
}

// tokenizer is the SICK treebank tokenizer, lowercased (the vectors' lookup falls back to the
// cased form, e.g. "asian" -> "Asian").
func tokenizer() data.Tokenizer { return data.SICKTokenizer{Lower: true} }

// sickPath returns SICK.txt's path: --sick if given, else the data catalog's copy.
func sickPath(flagPath string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	dir, err := data.Ensure("sick")
	if err != nil {
		return "", err // "data: ..." names the data set
	}
	return filepath.Join(dir, "SICK.txt"), nil
}

// vectorsPath returns --vectors if given, else the catalog's GloVe file restricted to SICK;
// without that, the error says what to download and how to pass it (data.DefaultVectors).
func vectorsPath(flagPath string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	return data.DefaultVectors()
}

// augmentSpec describes --augment.
type augmentSpec struct {
	Kind   string // none, synonyms, eda
	Factor int    // copies per training pair
	Seed   uint64
	WNDir  string // WordNet folder
}

// loadCorpus reads SICK and the vectors, augments the training pairs and builds the
// vocabulary (every SICK sentence plus the augmented ones; the table is frozen, so test words
// only get their pretrained vector) and the embedding table.
func loadCorpus(sickFile, vectorsFile string, aug augmentSpec, seed uint64) (*corpus, error) {
	pairs, err := data.LoadSICK(sickFile)
	if err != nil {
		return nil, err
	}
	c := &corpus{tok: tokenizer()}
	c.train, c.trial, c.test = data.SplitSICK(pairs)
	if len(c.train) == 0 || len(c.trial) == 0 || len(c.test) == 0 {
		return nil, fmt.Errorf("%s: want TRAIN, TRIAL and TEST pairs, got %d, %d and %d", sickFile, len(c.train), len(c.trial), len(c.test))
	}
	var docs [][]string
	for _, set := range [][]data.Pair{c.train, c.trial, c.test} {
		for _, p := range set {
			docs = append(docs, c.tok.Tokenize(p.A), c.tok.Tokenize(p.B))
		}
	}
	baseVocab := data.BuildVocab(docs, data.VocabOptions{})
	var augmented []data.Pair
	if aug.Kind != "none" && aug.Kind != "" {
		augmented, err = augment(c.train, aug)
		if err != nil {
			return nil, err
		}
		for _, p := range augmented {
			docs = append(docs, c.tok.Tokenize(p.A), c.tok.Tokenize(p.B))
		}
	}
	vocab := data.BuildVocab(docs, data.VocabOptions{})
	vec, err := data.LoadVectors(vectorsFile, data.VectorOptions{Keep: data.KeepSet(vocab.Tokens())})
	if err != nil {
		return nil, err // it names the file
	}
	c.vectors, c.vectorsUsed = vec, vec.Record(vec.Coverage(docs))
	// An augmented pair is kept only if every new word has a vector: a synonym without one
	// would be a random row of the frozen table, i.e. noise.
	for _, p := range augmented {
		ok := true
		for _, s := range []string{p.A, p.B} {
			for _, w := range c.tok.Tokenize(s) {
				if _, has := vec.Lookup(w); !has && !baseVocab.Has(w) {
					ok = false
				}
			}
		}
		if ok {
			c.augmented = append(c.augmented, p)
		} else {
			c.augmentDropped++
		}
	}
	if len(c.augmented) != len(augmented) {
		docs = docs[:2*(len(c.train)+len(c.trial)+len(c.test))]
		for _, p := range c.augmented {
			docs = append(docs, c.tok.Tokenize(p.A), c.tok.Tokenize(p.B))
		}
		vocab = data.BuildVocab(docs, data.VocabOptions{})
	}
	c.vocab = vocab
	c.embedding, c.found = vec.Embedding(vocab, data.EmbeddingOptions{Seed: seed})
	if c.found == 0 {
		return nil, fmt.Errorf("%s: no word of the %d-word vocabulary has a vector", vectorsFile, vocab.Len()-2)
	}
	return c, nil
}

// loadDefaultCorpus loads SICK from the data catalog and the vectors (vectorsFile, or the
// catalog's default if ""), without augmentation.
func loadDefaultCorpus(vectorsFile string) (*corpus, error) {
	sickFile, err := sickPath("")
	if err != nil {
		return nil, err
	}
	vecFile, err := vectorsPath(vectorsFile)
	if err != nil {
		return nil, err
	}
	return loadCorpus(sickFile, vecFile, augmentSpec{Kind: "none"}, 1)
}

// augment makes the extra training pairs of --augment.
func augment(train []data.Pair, aug augmentSpec) ([]data.Pair, error) {
	wn, err := data.LoadWordNet(aug.WNDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("--augment %s needs WordNet 3.0 in %s (apt-get install wordnet-base, or make wordnet): %w", aug.Kind, aug.WNDir, err)
		}
		return nil, fmt.Errorf("--augment %s: %w", aug.Kind, err)
	}
	opt := data.AugmentOptions{WordNet: wn, Seed: aug.Seed, Copies: max(aug.Factor, 1)}
	switch aug.Kind {
	case "synonyms":
	case "eda":
		opt.SwapRate, opt.DeleteRate = 0.1, 0.1
	default:
		return nil, fmt.Errorf("unknown --augment %q (want none, synonyms or eda)", aug.Kind)
	}
	return data.AugmentSICK(train, opt), nil
}

// encode turns pairs into id sequences.
func (c *corpus) encode(pairs []data.Pair) []data.PairExample {
	return data.EncodePairs(pairs, c.tok, c.vocab)
}

// trainingPairs returns the original and augmented training pairs.
func (c *corpus) trainingPairs() []data.Pair {
	return append(append([]data.Pair(nil), c.train...), c.augmented...)
}

// encodeSentence encodes one sentence for the similarity command; it fails if no word of it is
// in the vocabulary.
func encodeSentence(s string, tok data.Tokenizer, v *data.Vocab) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty sentence")
	}
	words := tok.Tokenize(s)
	ids := v.Encode(words)
	for _, id := range ids {
		if id != data.UnkID {
			return ids, nil
		}
	}
	return nil, fmt.Errorf("no word of %q is in the model's vocabulary", s)
}
