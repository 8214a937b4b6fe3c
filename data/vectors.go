package data

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// maxVectorDim and maxWordBytes bound what a (possibly corrupt) header or row
// can make the readers allocate.
const (
	maxVectorDim = 1 << 16
	maxWordBytes = 1 << 12
)

// Vectors holds word vectors read from a word2vec-format file. Only the rows
// selected by VectorOptions.Keep are held, so memory scales with the kept
// words, not with the file.
type Vectors struct {
	Dim   int       // vector dimension (from the header)
	Rows  int       // number of rows in the file (from the header)
	Words []string  // kept words, in file order
	Data  []float32 // len(Words)*Dim values, row-major

	index map[string]int // exact word -> row
	lower map[string]int // lowercased word -> first row in file order
}

// VectorOptions controls the word2vec readers.
type VectorOptions struct {
	// Keep, if non-nil, selects the words to hold. A row is kept if its word
	// is in Keep or, unless NoCaseFallback, if its lowercased form is (so
	// that "Asian" is kept for the vocabulary word "asian"). Nil keeps all.
	Keep map[string]bool
	// NoCaseFallback turns off the lowercase -> cased fallback in Keep and
	// in [Vectors.Lookup].
	NoCaseFallback bool
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

func newVectors(rows, dim int, opt VectorOptions) *Vectors {
	v := &Vectors{Rows: rows, Dim: dim, index: map[string]int{}, lower: map[string]int{}}
	if opt.Keep != nil {
		// Room for the kept words (a few more may come from cased variants).
		v.Data = make([]float32, 0, min(len(opt.Keep), rows)*dim)
	}
	return v
}

// wants reports whether the row for word should be kept.
func (v *Vectors) wants(word string, opt VectorOptions) bool {
	if opt.Keep == nil || opt.Keep[word] {
		return true
	}
	return !opt.NoCaseFallback && opt.Keep[strings.ToLower(word)]
}

// wantsBytes is wants for a word held in a byte slice; it does not allocate
// for the common case of a word that is already lowercase and not kept.
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
	// The word is usually a slice of the whole line it was read from (300 numbers of text):
	// keep a copy of its own so the line can be freed (6 MB for GloVe restricted to SICK).
	word = strings.Clone(word)
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

// ReadWord2VecText reads the word2vec text format: a header "N D", then N
// lines "word v1 ... vD" separated by spaces (tabs are accepted too). The
// input is streamed; only rows selected by opt.Keep are parsed and held
// (values of skipped rows are counted, not parsed). Errors name the line:
// a header/row-count or dimension mismatch, a non-numeric value.
func ReadWord2VecText(r io.Reader, name string, opt VectorOptions) (*Vectors, error) {
	lr := newLineReader(r, name)
	head, err := lr.next()
	if err == io.EOF {
		return nil, fmt.Errorf("%s:1: want header \"N D\", got an empty file", name)
	}
	if err != nil {
		return nil, err
	}
	n, d, err := parseVectorHeader(head)
	if err != nil {
		return nil, lr.errorf("%v", err)
	}
	v := newVectors(n, d, opt)
	vec := make([]float32, d)
	rows := 0
	for {
		s, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		s = strings.TrimRight(s, " \t")
		if s == "" {
			continue
		}
		rows++
		if rows > n {
			return nil, lr.errorf("header says %d rows, but there are more", n)
		}
		word, rest, _ := strings.Cut(s, " ")
		if w2, r2, ok := strings.Cut(word, "\t"); ok {
			word, rest = w2, r2+" "+rest
		}
		if word == "" {
			return nil, lr.errorf("want a word then %d values, got a line starting with a space", d)
		}
		if !v.wants(word, opt) {
			if got := countFields(rest); got != d {
				return nil, lr.errorf("want %d values after %q (header dimension), got %d", d, truncate(word, 40), got)
			}
			continue
		}
		i := 0
		for f := range strings.FieldsSeq(rest) {
			if i >= d {
				i++
				continue
			}
			x, err := strconv.ParseFloat(f, 32)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return nil, lr.errorf("value %d of %q: want a number, got %q", i+1, truncate(word, 40), truncate(f, 40))
			}
			vec[i] = float32(x)
			i++
		}
		if i != d {
			return nil, lr.errorf("want %d values after %q (header dimension), got %d", d, truncate(word, 40), i)
		}
		v.add(word, vec, opt)
	}
	if rows != n {
		return nil, fmt.Errorf("%s:%d: header says %d rows, got %d", name, lr.line, n, rows)
	}
	return v, nil
}

// countFields counts space/tab separated fields without allocating.
func countFields(s string) int {
	n := 0
	in := false
	for i := 0; i < len(s); i++ {
		sp := s[i] == ' ' || s[i] == '\t'
		if !sp && !in {
			n++
		}
		in = !sp
	}
	return n
}

func parseVectorHeader(s string) (n, d int, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("want header \"N D\" (rows and dimension), got %q", truncate(s, 60))
	}
	n, err1 := strconv.Atoi(f[0])
	d, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || n < 0 || d < 1 {
		return 0, 0, fmt.Errorf("want header \"N D\" with integers N >= 0 and D >= 1, got %q", truncate(s, 60))
	}
	if d > maxVectorDim {
		return 0, 0, fmt.Errorf("want dimension D <= %d, got %d", maxVectorDim, d)
	}
	return n, d, nil
}

// ReadWord2VecBinary reads the binary word2vec format of the GoogleNews
// vectors: a header line "N D\n", then per row the word's bytes up to a space,
// D little-endian float32 values and an optional newline. The input is
// streamed and only rows selected by opt.Keep are held. Errors name the row
// (1-based) and the byte offset: truncated file, bad header, too many rows.
func ReadWord2VecBinary(r io.Reader, name string, opt VectorOptions) (*Vectors, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("%s: byte 0: want header \"N D\\n\", got %q and %v", name, truncate(head, 60), errOrEOF(err))
	}
	n, d, err := parseVectorHeader(head)
	if err != nil {
		return nil, fmt.Errorf("%s: header: %v", name, err)
	}
	off := int64(len(head))
	v := newVectors(n, d, opt)
	buf := make([]byte, 4*d)
	vec := make([]float32, d)
	var word []byte
	for row := 1; row <= n; row++ {
		// The word: skip leading newlines (the optional end of the previous
		// row), then read to a space.
		word = word[:0]
		start := off
		for {
			c, err := br.ReadByte()
			if err != nil {
				return nil, fmt.Errorf("%s: row %d, byte %d: truncated file: want a word ending in a space, got %v", name, row, off, errOrEOF(err))
			}
			off++
			if c == ' ' {
				break
			}
			if c == '\n' && len(word) == 0 {
				start = off
				continue
			}
			word = append(word, c)
			if len(word) > maxWordBytes {
				return nil, fmt.Errorf("%s: row %d, byte %d: want a word of at most %d bytes followed by a space", name, row, start, maxWordBytes)
			}
		}
		if len(word) == 0 {
			return nil, fmt.Errorf("%s: row %d, byte %d: want a word, got an empty one", name, row, start)
		}
		vstart := off
		if !v.wantsBytes(word, opt) {
			k, err := br.Discard(4 * d)
			off += int64(k)
			if err != nil {
				return nil, fmt.Errorf("%s: row %d (%q), byte %d: truncated file: want %d bytes of vector, got %d", name, row, truncate(string(word), 40), vstart, 4*d, k)
			}
			continue
		}
		w := string(word)
		k, err := io.ReadFull(br, buf)
		off += int64(k)
		if err != nil {
			return nil, fmt.Errorf("%s: row %d (%q), byte %d: truncated file: want %d bytes of vector, got %d", name, row, truncate(w, 40), vstart, 4*d, k)
		}
		for i := range vec {
			vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
		v.add(w, vec, opt)
	}
	// Only white space may follow the last row.
	rest, err := br.Peek(1)
	for err == nil && (rest[0] == '\n' || rest[0] == ' ' || rest[0] == '\r') {
		br.ReadByte()
		off++
		rest, err = br.Peek(1)
	}
	if err == nil {
		return nil, fmt.Errorf("%s: byte %d: header says %d rows, but more data follows", name, off, n)
	}
	if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: byte %d: %w", name, off, err)
	}
	return v, nil
}

func errOrEOF(err error) string {
	if errors.Is(err, io.EOF) {
		return "end of file"
	}
	return err.Error()
}

// LoadWord2Vec reads a word2vec file, in the binary format if the name ends
// in ".bin" and the text format otherwise.
func LoadWord2Vec(path string, opt VectorOptions) (*Vectors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".bin") {
		return ReadWord2VecBinary(f, baseName(path), opt)
	}
	return ReadWord2VecText(f, baseName(path), opt)
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

// WriteWord2VecBinary writes v in the binary word2vec format (used by tests
// and benchmarks to make files).
func WriteWord2VecBinary(w io.Writer, v *Vectors) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%d %d\n", len(v.Words), v.Dim)
	var b [4]byte
	for i, word := range v.Words {
		if word == "" || bytes.ContainsAny([]byte(word), " \n") {
			return fmt.Errorf("data: WriteWord2VecBinary: word %d: want no spaces or newlines, got %q", i, word)
		}
		bw.WriteString(word)
		bw.WriteByte(' ')
		for _, x := range v.Data[i*v.Dim : (i+1)*v.Dim] {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			bw.Write(b[:])
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
