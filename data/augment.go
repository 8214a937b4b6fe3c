package data

import (
	"math"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AugmentOptions controls [AugmentSICK] and [Augmenter].
type AugmentOptions struct {
	// WordNet supplies synonyms; nil turns synonym replacement off.
	WordNet *WordNet
	// POS restricts synonyms to one part of speech (AnyPOS: all).
	POS POS
	// Seed seeds the PCG generator that picks words, swaps and deletions.
	Seed uint64
	// Copies is the number of augmented versions made per pair (default 1).
	Copies int
	// SynonymRate is the fraction of replaceable words (not stop words, with
	// at least one synonym) replaced in each sentence, rounded, at least 1
	// if any word is replaceable; 0 means 0.2 when WordNet is set.
	// Replacements use the first synonym, i.e. the most frequent sense.
	SynonymRate float64
	// MaxReplace, if > 0, caps the replacements per sentence.
	MaxReplace int
	// SwapRate, if > 0, performs round(SwapRate*n) (at least 1) random swaps
	// of two words in an n-word sentence (EDA random swap).
	SwapRate float64
	// DeleteRate, if > 0, deletes each word with this probability, keeping at
	// least one word (EDA random deletion).
	DeleteRate float64
	// StopWords are never replaced; nil means DefaultStopWords.
	StopWords map[string]bool
}

// DefaultStopWords is a small English stop-word list (function words that
// synonym replacement skips).
var DefaultStopWords = KeepSet(strings.Fields(`a an the this that these those there here
	is are was were be been being am do does did doing have has had having
	and or but nor not no so if then than too very of at by for with about against
	between into through during before after above below to from up down in out on
	off over under again further once all any both each few more most other some such
	only own same can will just should now i me my we our you your he him his she her
	it its they them their what which who whom whose why how where when as until while
	n't 's 're 've 'll 'd 'm nobody none someone somebody one`))

// Augmenter rewrites sentences by synonym replacement, random swap and random
// deletion.
type Augmenter struct {
	opt AugmentOptions
	rng *rand.Rand
}

// NewAugmenter returns an Augmenter with its own seeded generator.
func NewAugmenter(opt AugmentOptions) *Augmenter {
	if opt.Copies < 1 {
		opt.Copies = 1
	}
	if opt.SynonymRate == 0 && opt.WordNet != nil {
		opt.SynonymRate = 0.2
	}
	if opt.StopWords == nil {
		opt.StopWords = DefaultStopWords
	}
	return &Augmenter{opt: opt, rng: rand.New(rand.NewPCG(opt.Seed, 0xa06))}
}

// Sentence returns an augmented version of a white-space tokenized sentence.
// The result may equal the input (nothing replaceable and no swap/delete).
func (a *Augmenter) Sentence(s string) string {
	words := strings.Fields(s)
	words = a.replace(words)
	words = a.swap(words)
	words = a.delete(words)
	return strings.Join(words, " ")
}

func (a *Augmenter) replace(words []string) []string {
	wn := a.opt.WordNet
	if wn == nil || a.opt.SynonymRate <= 0 {
		return words
	}
	type cand struct {
		i   int
		syn string
	}
	var cands []cand
	for i, w := range words {
		lw := strings.ToLower(w)
		if a.opt.StopWords[lw] || !isWord(lw) {
			continue
		}
		if syn := wn.Synonyms(lw, a.opt.POS); len(syn) > 0 {
			cands = append(cands, cand{i, syn[0]})
		}
	}
	if len(cands) == 0 {
		return words
	}
	n := max(1, int(math.Round(a.opt.SynonymRate*float64(len(cands)))))
	if a.opt.MaxReplace > 0 {
		n = min(n, a.opt.MaxReplace)
	}
	n = min(n, len(cands))
	out := append([]string(nil), words...)
	a.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, c := range cands[:n] {
		out[c.i] = matchCase(c.syn, words[c.i])
	}
	return out
}

func (a *Augmenter) swap(words []string) []string {
	if a.opt.SwapRate <= 0 || len(words) < 2 {
		return words
	}
	out := append([]string(nil), words...)
	n := max(1, int(math.Round(a.opt.SwapRate*float64(len(words)))))
	for range n {
		i, j := a.rng.IntN(len(out)), a.rng.IntN(len(out))
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (a *Augmenter) delete(words []string) []string {
	if a.opt.DeleteRate <= 0 || len(words) < 2 {
		return words
	}
	var out []string
	for _, w := range words {
		if a.rng.Float64() >= a.opt.DeleteRate {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		out = []string{words[a.rng.IntN(len(words))]}
	}
	return out
}

func isWord(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && r != '-' {
			return false
		}
	}
	return s != ""
}

// matchCase capitalises repl if orig starts with an upper-case letter.
func matchCase(repl, orig string) string {
	r, _ := utf8.DecodeRuneInString(orig)
	if !unicode.IsUpper(r) {
		return repl
	}
	f, size := utf8.DecodeRuneInString(repl)
	return string(unicode.ToUpper(f)) + repl[size:]
}

// AugmentSICK returns new pairs made from pairs, opt.Copies per pair, by
// applying synonym replacement (MaLSTM style: words that are not stop words
// are replaced by the synonym of their most frequent WordNet sense), random
// swap and random deletion (EDA) to both sentences. The new pairs keep the
// ID, score, label and split of their original and have Line 0; a version
// equal to its original is dropped, so the result may be shorter than
// len(pairs)*Copies. The result is deterministic for a given opt.Seed.
func AugmentSICK(pairs []Pair, opt AugmentOptions) []Pair {
	a := NewAugmenter(opt)
	var out []Pair
	for _, p := range pairs {
		for range a.opt.Copies {
			q := p
			q.A, q.B, q.Line = a.Sentence(p.A), a.Sentence(p.B), 0
			if q.A == strings.Join(strings.Fields(p.A), " ") && q.B == strings.Join(strings.Fields(p.B), " ") {
				continue
			}
			out = append(out, q)
		}
	}
	return out
}
