package data

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Reserved vocabulary entries.
const (
	PadID    = 0       // id of PadToken, used for padding batches
	UnkID    = 1       // id of UnkToken, used for out-of-vocabulary tokens
	PadToken = "<pad>" // token 0
	UnkToken = "<unk>" // token 1
)

// VocabOptions controls [BuildVocab].
type VocabOptions struct {
	// MinCount drops tokens seen fewer times (values < 1 mean 1).
	MinCount int
	// MaxSize, if > 0, caps the vocabulary size including <pad> and <unk>.
	MaxSize int
}

// Vocab maps tokens to dense ids: <pad>=0, <unk>=1, then the kept tokens by
// count (descending), ties broken by the token string (ascending), so the
// order is deterministic.
type Vocab struct {
	tokens []string
	counts []int
	index  map[string]int
}

// BuildVocab counts the tokens of docs and builds a Vocab with opt's limits.
// The reserved tokens "<pad>" and "<unk>" are never counted as ordinary
// tokens, and tokens containing white space are skipped (they could not be
// saved).
func BuildVocab(docs [][]string, opt VocabOptions) *Vocab {
	counts := map[string]int{}
	for _, d := range docs {
		for _, t := range d {
			counts[t]++
		}
	}
	return VocabFromCounts(counts, opt)
}

// VocabFromCounts builds a Vocab from token counts; see [BuildVocab].
func VocabFromCounts(counts map[string]int, opt VocabOptions) *Vocab {
	min := max(opt.MinCount, 1)
	type tc struct {
		t string
		c int
	}
	var list []tc
	for t, c := range counts {
		if c >= min && t != PadToken && t != UnkToken && t != "" && !strings.ContainsAny(t, " \t\r\n\v\f") {
			list = append(list, tc{t, c})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].c != list[j].c {
			return list[i].c > list[j].c
		}
		return list[i].t < list[j].t
	})
	if opt.MaxSize > 0 && len(list) > opt.MaxSize-2 {
		list = list[:max(opt.MaxSize-2, 0)]
	}
	v := &Vocab{
		tokens: []string{PadToken, UnkToken},
		counts: []int{0, 0},
		index:  map[string]int{PadToken: PadID, UnkToken: UnkID},
	}
	for _, e := range list {
		v.index[e.t] = len(v.tokens)
		v.tokens = append(v.tokens, e.t)
		v.counts = append(v.counts, e.c)
	}
	return v
}

// Len returns the number of ids, including <pad> and <unk>.
func (v *Vocab) Len() int { return len(v.tokens) }

// ID returns the id of tok, or UnkID if it is not in the vocabulary.
func (v *Vocab) ID(tok string) int {
	if id, ok := v.index[tok]; ok {
		return id
	}
	return UnkID
}

// Has reports whether tok is in the vocabulary.
func (v *Vocab) Has(tok string) bool {
	_, ok := v.index[tok]
	return ok
}

// Token returns the token with the given id, or UnkToken if id is out of
// range.
func (v *Vocab) Token(id int) string {
	if id < 0 || id >= len(v.tokens) {
		return UnkToken
	}
	return v.tokens[id]
}

// Count returns the training count of the token with the given id (0 for
// the reserved tokens, for tokens loaded without counts and for bad ids).
func (v *Vocab) Count(id int) int {
	if id < 0 || id >= len(v.counts) {
		return 0
	}
	return v.counts[id]
}

// Tokens returns the tokens in id order. The slice must not be modified.
func (v *Vocab) Tokens() []string { return v.tokens }

// Encode maps tokens to ids, unknown tokens to UnkID.
func (v *Vocab) Encode(tokens []string) []int64 {
	ids := make([]int64, len(tokens))
	for i, t := range tokens {
		ids[i] = int64(v.ID(t))
	}
	return ids
}

// Decode maps ids back to tokens; ids out of range give UnkToken.
func (v *Vocab) Decode(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if id < 0 || id >= int64(len(v.tokens)) {
			out[i] = UnkToken
		} else {
			out[i] = v.tokens[id]
		}
	}
	return out
}

// WriteTo writes the vocabulary as text, one "token<TAB>count" line per id,
// starting with <pad> and <unk>.
func (v *Vocab) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	var n int64
	for i, t := range v.tokens {
		k, err := fmt.Fprintf(bw, "%s\t%d\n", t, v.counts[i])
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

// Save writes the vocabulary to path atomically (a temporary file in the
// same folder, then a rename). See [Vocab.WriteTo] for the format.
func (v *Vocab) Save(path string) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := v.WriteTo(w)
		return err
	})
}

// ReadVocab reads the format written by [Vocab.WriteTo]. The first two lines
// must be <pad> and <unk>; the count column is optional. name is used in
// error messages.
func ReadVocab(r io.Reader, name string) (*Vocab, error) {
	lr := newLineReader(r, name)
	v := &Vocab{index: map[string]int{}}
	for s, err := range lr.lines(validUTF8) {
		if err != nil {
			return nil, err
		}
		tok, cnt, hasCount := strings.Cut(s, "\t")
		c := 0
		if hasCount {
			c, err = strconv.Atoi(cnt)
			if err != nil || c < 0 {
				return nil, lr.errorf("want token<TAB>count with a non-negative integer count, got %q", truncate(cnt, 40))
			}
		}
		if tok == "" || strings.ContainsAny(tok, " \t\v\f\r") {
			return nil, lr.errorf("want a non-empty token without white space, got %q", truncate(tok, 40))
		}
		id := len(v.tokens)
		if (id == PadID && tok != PadToken) || (id == UnkID && tok != UnkToken) {
			want := PadToken
			if id == UnkID {
				want = UnkToken
			}
			return nil, lr.errorf("want %q, got %q", want, truncate(tok, 40))
		}
		if _, dup := v.index[tok]; dup {
			return nil, lr.errorf("duplicate token %q", truncate(tok, 40))
		}
		v.index[tok] = id
		v.tokens = append(v.tokens, tok)
		v.counts = append(v.counts, c)
	}
	if len(v.tokens) < 2 {
		return nil, fmt.Errorf("%s:%d: want at least the lines %q and %q, got %d lines", name, lr.line, PadToken, UnkToken, lr.line)
	}
	return v, nil
}

// LoadVocab reads a vocabulary saved by [Vocab.Save].
func LoadVocab(path string) (*Vocab, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return ReadVocab(f, baseName(path))
}

// writeFileAtomic writes a file through fill into a temporary file beside
// path and renames it into place, so readers never see a partial file.
func writeFileAtomic(path string, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("data: writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("data: writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("data: writing %s: %w", path, err)
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return nil
}
