package data

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// maxVectorDim and maxWordBytes bound what a (possibly corrupt) header or row
// can make the readers allocate.
const (
	maxVectorDim = 1 << 16
	maxWordBytes = 1 << 12
)

// VectorFormat is the layout of a word vectors file.
type VectorFormat int

// The formats the vector readers take. [LoadVectors] and [ReadVectors] tell
// them apart by content (see [VectorOptions.Format]).
const (
	// FormatAuto detects the format from the content.
	FormatAuto VectorFormat = iota
	// Word2VecText is word2vec's text format: a header "N D" (rows,
	// dimension), then lines "word v1 ... vD" (fastText's .vec files too).
	Word2VecText
	// Word2VecBinary is word2vec's binary format (GoogleNews-vectors-negative300.bin):
	// a header line "N D", then per row the word, a space and D little-endian
	// float32 values.
	Word2VecBinary
	// GloVeText is GloVe's text format: lines "word v1 ... vD" and no header;
	// D is the first row's count of values.
	GloVeText
)

var formatNames = [...]string{FormatAuto: "auto", Word2VecText: "word2vec text", Word2VecBinary: "word2vec binary", GloVeText: "GloVe text"}

// String returns the format's name, e.g. "GloVe text".
func (f VectorFormat) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("VectorFormat(%d)", int(f))
	}
	return formatNames[f]
}

// Vectors holds word vectors read from a file. Only the rows selected by
// VectorOptions.Keep are held, so memory scales with the kept words, not
// with the file.
type Vectors struct {
	Dim    int          // vector dimension (the header's D, or GloVe's first row's)
	Rows   int          // number of rows in the file (the header's N, or counted)
	Words  []string     // kept words, in file order
	Data   []float32    // len(Words)*Dim values, row-major, all finite
	Format VectorFormat // the format read
	Source VectorSource // the file read; set by [LoadVectors] only

	index map[string]int // exact word -> row
	lower map[string]int // lowercased word -> first row in file order
}

// VectorOptions controls the vector readers.
type VectorOptions struct {
	// Keep, if non-nil, selects the words to hold. A row is kept if its word
	// is in Keep or, unless NoCaseFallback, if its lowercased form is (so
	// that "Asian" is kept for the vocabulary word "asian"). Nil keeps all.
	Keep map[string]bool
	// NoCaseFallback turns off the lowercase -> cased fallback in Keep and
	// in [Vectors.Lookup].
	NoCaseFallback bool
	// Format, for [LoadVectors] and [ReadVectors], names the file's format
	// instead of detecting it. Compression is always detected.
	Format VectorFormat
}

// KeepSet returns a set of words for VectorOptions.Keep, e.g. from
// Vocab.Tokens().
func KeepSet(words []string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

func newVectors(rows, dim int, format VectorFormat, opt VectorOptions) *Vectors {
	v := &Vectors{Rows: rows, Dim: dim, Format: format, index: map[string]int{}, lower: map[string]int{}}
	if opt.Keep != nil {
		// Room for the kept words (a few more may come from cased variants);
		// rows is 0 when unknown (GloVe).
		n := len(opt.Keep)
		if rows > 0 {
			n = min(n, rows)
		}
		v.Data = make([]float32, 0, n*dim)
	}
	return v
}

// wantsBytes reports whether the row for word should be kept; it does not
// allocate for the common case of a word that is already lowercase and not
// kept.
func (v *Vectors) wantsBytes(word []byte, opt VectorOptions) bool {
	if opt.Keep == nil || opt.Keep[string(word)] {
		return true
	}
	if opt.NoCaseFallback {
		return false
	}
	for _, c := range word {
		if c >= 0x80 || ('A' <= c && c <= 'Z') {
			return opt.Keep[strings.ToLower(string(word))]
		}
	}
	return false
}

// add appends a kept row; a repeated word keeps its first row.
func (v *Vectors) add(word string, vec []float32, opt VectorOptions) {
	if _, dup := v.index[word]; dup {
		return
	}
	row := len(v.Words)
	v.index[word] = row
	v.Words = append(v.Words, word)
	v.Data = append(v.Data, vec...)
	if !opt.NoCaseFallback {
		lw := strings.ToLower(word)
		if _, ok := v.lower[lw]; !ok {
			v.lower[lw] = row
		}
	}
}

// Len returns the number of kept words.
func (v *Vectors) Len() int { return len(v.Words) }

// Lookup returns the vector for word. An exact match wins; otherwise, for a
// lowercase word, the first cased variant in file order is used (so "asian"
// finds "Asian"), unless the vectors were read with NoCaseFallback. The slice
// aliases v.Data.
func (v *Vectors) Lookup(word string) ([]float32, bool) {
	row, ok := v.index[word]
	if !ok && v.lower != nil {
		if word != strings.ToLower(word) {
			return nil, false
		}
		row, ok = v.lower[word]
	}
	if !ok {
		return nil, false
	}
	return v.Data[row*v.Dim : (row+1)*v.Dim], true
}

// Coverage reports how much of a tokenized corpus has vectors.
type Coverage struct {
	Types, TypesCovered   int      // distinct tokens
	Tokens, TokensCovered int      // token occurrences
	Missing               []string // distinct tokens without a vector, sorted
}

// TypeRate returns TypesCovered/Types (0 if there are none).
func (c Coverage) TypeRate() float64 { return rate(c.TypesCovered, c.Types) }

// TokenRate returns TokensCovered/Tokens (0 if there are none).
func (c Coverage) TokenRate() float64 { return rate(c.TokensCovered, c.Tokens) }

func rate(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// String summarises the coverage, e.g. "types 2305/2310 (99.78%), tokens ...".
func (c Coverage) String() string {
	return fmt.Sprintf("types %d/%d (%.2f%%), tokens %d/%d (%.2f%%)",
		c.TypesCovered, c.Types, 100*c.TypeRate(), c.TokensCovered, c.Tokens, 100*c.TokenRate())
}

// Coverage counts the types and tokens of docs that [Vectors.Lookup] finds.
func (v *Vectors) Coverage(docs [][]string) Coverage {
	seen := map[string]bool{}
	var c Coverage
	for _, d := range docs {
		for _, t := range d {
			c.Tokens++
			ok, known := seen[t]
			if !known {
				_, ok = v.Lookup(t)
				seen[t] = ok
				c.Types++
				if ok {
					c.TypesCovered++
				} else {
					c.Missing = append(c.Missing, t)
				}
			}
			if ok {
				c.TokensCovered++
			}
		}
	}
	sortStrings(c.Missing)
	return c
}

// EmbeddingOptions controls [Vectors.Embedding].
type EmbeddingOptions struct {
	// Seed seeds the PCG generator for the rows of words without a vector.
	Seed uint64
	// ZeroUnknown gives words without a vector zero rows instead of random
	// ones.
	ZeroUnknown bool
}

// Embedding builds a vocab.Len() x v.Dim embedding matrix, row-major, for
// vocab: row PadID is zero; a token with a vector (see [Vectors.Lookup]) gets
// it; every other row, <unk> included, is drawn from uniform(-0.25, 0.25)
// with a PCG seeded by opt.Seed (the Kim 2014 convention), or is zero if
// opt.ZeroUnknown. It also returns how many rows got a pretrained vector.
func (v *Vectors) Embedding(vocab *Vocab, opt EmbeddingOptions) (matrix []float32, found int) {
	d := v.Dim
	m := make([]float32, vocab.Len()*d)
	rng := rand.New(rand.NewPCG(opt.Seed, 0xe3bed))
	for id, tok := range vocab.Tokens() {
		if id == PadID {
			continue
		}
		row := m[id*d : (id+1)*d]
		if vec, ok := v.Lookup(tok); ok && id != UnkID {
			copy(row, vec)
			found++
			continue
		}
		if !opt.ZeroUnknown {
			for i := range row {
				row[i] = float32(rng.Float64()*0.5 - 0.25)
			}
		}
	}
	return m, found
}

// VectorsRecord is what a run records about the word vectors it used: which
// file, and how much of it served the corpus.
type VectorsRecord struct {
	File          string  `json:"file"`           // base name, "archive.zip:member" for a zip member
	SHA256        string  `json:"sha256"`         // of the file as stored (the .gz or .zip itself)
	Format        string  `json:"format"`         // e.g. "GloVe text, gzip"
	Dim           int     `json:"dim"`            // vector dimension
	Rows          int     `json:"rows"`           // rows in the file
	RowsKept      int     `json:"rows_kept"`      // rows held (see VectorOptions.Keep)
	Types         int     `json:"types"`          // distinct corpus tokens
	TypeCoverage  float64 `json:"type_coverage"`  // share of Types with a vector
	TokenCoverage float64 `json:"token_coverage"` // share of token occurrences with a vector
}

// Record describes v and the coverage c of a corpus by v (from
// [Vectors.Coverage]) for a run's report.
func (v *Vectors) Record(c Coverage) VectorsRecord {
	return VectorsRecord{
		File: v.Source.Name(), SHA256: v.Source.SHA256, Format: v.Source.Describe(v.Format),
		Dim: v.Dim, Rows: v.Rows, RowsKept: v.Len(),
		Types: c.Types, TypeCoverage: c.TypeRate(), TokenCoverage: c.TokenRate(),
	}
}

// String is one line for a report, e.g. "glove.6B.zip:glove.6B.50d.txt
// (GloVe text, zip; sha256 3f1e…; 400000 rows of 50, 2301 kept; coverage:
// types 97.12%, tokens 99.50%)".
func (r VectorsRecord) String() string {
	sum := r.SHA256
	if sum == "" {
		sum = "unknown"
	}
	return fmt.Sprintf("%s (%s; sha256 %s; %d rows of %d, %d kept; coverage: types %.2f%%, tokens %.2f%%)",
		r.File, r.Format, sum, r.Rows, r.Dim, r.RowsKept, 100*r.TypeCoverage, 100*r.TokenCoverage)
}
