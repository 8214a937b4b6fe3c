package data

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// POS is a WordNet part of speech.
type POS byte

// WordNet parts of speech. AnyPOS asks [WordNet.Synonyms] for all of them.
const (
	AnyPOS POS = 0
	Noun   POS = 'n'
	Verb   POS = 'v'
	Adj    POS = 'a' // includes adjective satellites ('s' in data.adj)
	Adv    POS = 'r'
)

var posFiles = []struct {
	pos  POS
	name string
}{{Noun, "noun"}, {Verb, "verb"}, {Adj, "adj"}, {Adv, "adv"}}

// DefaultWordNetDir is where Debian's wordnet-base package installs WordNet
// 3.0.
const DefaultWordNetDir = "/usr/share/wordnet"

// WordNet holds the lemmas of the WordNet synsets and the index from lemmas to
// synsets, as read from the index.* and data.* files of a WordNet database.
type WordNet struct {
	index   map[POS]map[string]IndexEntry // lemma -> synsets, most frequent sense first
	synsets map[POS]map[int64][]string    // offset -> lemmas (with underscores)
}

// Synset is the part of a data.* line that [ReadWordNetData] keeps.
type Synset struct {
	Offset int64    // byte offset of the line in its data file (its id)
	POS    POS      // part of speech; satellites are reported as Adj
	Lemmas []string // words of the synset, underscores kept, adjective markers such as "(a)" removed
}

// LoadWordNet reads index.{noun,verb,adj,adv} and data.{noun,verb,adj,adv}
// from dir (e.g. DefaultWordNetDir).
func LoadWordNet(dir string) (*WordNet, error) {
	wn := &WordNet{index: map[POS]map[string]IndexEntry{}, synsets: map[POS]map[int64][]string{}}
	for _, pf := range posFiles {
		idx, err := readFileWith(filepath.Join(dir, "index."+pf.name), ReadWordNetIndex)
		if err != nil {
			return nil, err
		}
		syn, err := readFileWith(filepath.Join(dir, "data."+pf.name), ReadWordNetData)
		if err != nil {
			return nil, err
		}
		wn.index[pf.pos] = idx
		m := make(map[int64][]string, len(syn))
		for _, s := range syn {
			m[s.Offset] = s.Lemmas
		}
		wn.synsets[pf.pos] = m
	}
	return wn, nil
}

func readFileWith[T any](path string, read func(io.Reader, string) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return read(f, baseName(path))
}

// IndexEntry is one lemma of a WordNet index file.
type IndexEntry struct {
	Offsets      []int64 // synset offsets in order of sense frequency
	TaggedSenses int     // tagsense_cnt: senses seen in semantic concordances
}

// ReadWordNetIndex reads a WordNet index.* file: per line "lemma pos
// synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...",
// where the offsets are in order of sense frequency. License lines (starting
// with two spaces) and empty lines are skipped.
func ReadWordNetIndex(r io.Reader, name string) (map[string]IndexEntry, error) {
	lr := newLineReader(r, name)
	out := map[string]IndexEntry{}
	for s, err := range lr.lines(skipEmpty | skipLicense) {
		if err != nil {
			return nil, err
		}
		f := strings.Fields(s)
		if len(f) < 6 {
			return nil, lr.errorf("want at least 6 fields (lemma pos synset_cnt p_cnt sense_cnt tagsense_cnt), got %d", len(f))
		}
		nsyn, err := strconv.Atoi(f[2])
		if err != nil || nsyn < 0 {
			return nil, lr.errorf("synset_cnt: want a non-negative integer, got %q", truncate(f[2], 20))
		}
		np, err := strconv.Atoi(f[3])
		if err != nil || np < 0 {
			return nil, lr.errorf("p_cnt: want a non-negative integer, got %q", truncate(f[3], 20))
		}
		if len(f) != 4+np+2+nsyn {
			return nil, lr.errorf("want %d fields for %d pointers and %d synsets, got %d", 4+np+2+nsyn, np, nsyn, len(f))
		}
		tagged, err := strconv.Atoi(f[4+np+1])
		if err != nil || tagged < 0 {
			return nil, lr.errorf("tagsense_cnt: want a non-negative integer, got %q", truncate(f[4+np+1], 20))
		}
		offs := make([]int64, nsyn)
		for i, o := range f[4+np+2:] {
			if offs[i], err = strconv.ParseInt(o, 10, 64); err != nil || offs[i] < 0 {
				return nil, lr.errorf("synset_offset %d: want an 8-digit offset, got %q", i+1, truncate(o, 20))
			}
		}
		out[f[0]] = IndexEntry{Offsets: offs, TaggedSenses: tagged}
	}
	return out, nil
}

// ReadWordNetData reads a WordNet data.* file: per line "synset_offset
// lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] ... |
// gloss", w_cnt in hexadecimal. Only the offset, part of speech and words are
// kept; the pointer count and pointers are checked for shape. License lines
// (starting with two spaces) and empty lines are skipped.
func ReadWordNetData(r io.Reader, name string) ([]Synset, error) {
	lr := newLineReader(r, name)
	var out []Synset
	for s, err := range lr.lines(skipEmpty | skipLicense) {
		if err != nil {
			return nil, err
		}
		syn, err := parseDataLine(s)
		if err != nil {
			return nil, lr.errorf("%v", err)
		}
		out = append(out, syn)
	}
	return out, nil
}

func parseDataLine(s string) (Synset, error) {
	body, _, _ := strings.Cut(s, "|")
	f := strings.Fields(body)
	if len(f) < 6 {
		return Synset{}, fmt.Errorf("want synset_offset lex_filenum ss_type w_cnt word lex_id ... p_cnt, got %d fields", len(f))
	}
	var syn Synset
	off, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || off < 0 {
		return Synset{}, fmt.Errorf("synset_offset: want an 8-digit offset, got %q", truncate(f[0], 20))
	}
	syn.Offset = off
	switch f[2] {
	case "n", "v", "a", "r":
		syn.POS = POS(f[2][0])
	case "s":
		syn.POS = Adj
	default:
		return Synset{}, fmt.Errorf("ss_type: want n, v, a, s or r, got %q", truncate(f[2], 20))
	}
	nw, err := strconv.ParseUint(f[3], 16, 16)
	if err != nil || nw == 0 {
		return Synset{}, fmt.Errorf("w_cnt: want a positive 2-digit hexadecimal count, got %q", truncate(f[3], 20))
	}
	if len(f) < 4+2*int(nw)+1 {
		return Synset{}, fmt.Errorf("want %d words with lex_ids and p_cnt, got %d fields", nw, len(f)-4)
	}
	for i := range int(nw) {
		w := f[4+2*i]
		if j := strings.IndexByte(w, '('); j > 0 && strings.HasSuffix(w, ")") {
			w = w[:j] // adjective marker (a), (p) or (ip)
		}
		syn.Lemmas = append(syn.Lemmas, w)
	}
	pi := 4 + 2*int(nw)
	np, err := strconv.Atoi(f[pi])
	if err != nil || np < 0 || np > 10000 {
		return Synset{}, fmt.Errorf("p_cnt: want a 3-digit count, got %q", truncate(f[pi], 20))
	}
	if len(f) < pi+1+4*np {
		return Synset{}, fmt.Errorf("want %d pointers of 4 fields, got %d fields", np, len(f)-pi-1)
	}
	return syn, nil
}

// key normalises a word for the index: lowercase, spaces to underscores.
func wnKey(word string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(word)), " ", "_")
}

// Senses returns the synsets of word for pos (not AnyPOS) as lemma lists, in
// order of sense frequency, lemmas with underscores replaced by spaces.
func (wn *WordNet) Senses(word string, pos POS) [][]string {
	var out [][]string
	for _, off := range wn.index[pos][wnKey(word)].Offsets {
		lemmas := wn.synsets[pos][off]
		sense := make([]string, len(lemmas))
		for i, l := range lemmas {
			sense[i] = strings.ReplaceAll(l, "_", " ")
		}
		out = append(out, sense)
	}
	return out
}

// Synonyms returns the lemmas that share a synset with word, most frequent
// sense first (the order of the index file), without duplicates and without
// word itself; underscores become spaces. With AnyPOS the parts of speech
// are taken in order of their tagsense_cnt for word (how often the word was
// seen with that part of speech in the semantic concordances; ties in the
// order noun, verb, adjective, adverb), each with its senses in frequency
// order.
func (wn *WordNet) Synonyms(word string, pos POS) []string {
	key := wnKey(word)
	var order []POS
	if pos == AnyPOS {
		for _, pf := range posFiles {
			if _, ok := wn.index[pf.pos][key]; ok {
				order = append(order, pf.pos)
			}
		}
		slices.SortStableFunc(order, func(a, b POS) int {
			return wn.index[b][key].TaggedSenses - wn.index[a][key].TaggedSenses
		})
	} else {
		order = []POS{pos}
	}
	seen := map[string]bool{strings.ReplaceAll(key, "_", " "): true}
	var out []string
	for _, p := range order {
		for _, sense := range wn.Senses(word, p) {
			for _, l := range sense {
				if k := strings.ToLower(l); !seen[k] {
					seen[k] = true
					out = append(out, l)
				}
			}
		}
	}
	return out
}

// Len returns the number of synsets held for pos.
func (wn *WordNet) Len(pos POS) int { return len(wn.synsets[pos]) }
