package data

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestWordNetFixture(t *testing.T) {
	wn, err := LoadWordNet("testdata/wordnet")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		word string
		pos  POS
		want []string
	}{
		{"car", Noun, []string{"auto", "automobile", "machine", "motorcar", "cable car", "railcar", "gondola", "elevator car"}},
		{"Dog", Noun, []string{"domestic dog", "Canis familiaris", "frump"}},
		{"run", Verb, []string{"scarper"}},
		{"run", AnyPOS, []string{"scarper"}},
		{"dog", Verb, nil},
		{"unknown", AnyPOS, nil},
	}
	for _, tc := range tests {
		t.Run(tc.word+"/"+string(rune(tc.pos)), func(t *testing.T) {
			if got := wn.Synonyms(tc.word, tc.pos); !slices.Equal(got, tc.want) {
				t.Errorf("Synonyms(%q) = %q, want %q", tc.word, got, tc.want)
			}
		})
	}
	if wn.Len(Noun) != 7 {
		t.Errorf("Len(Noun) = %d, want 7", wn.Len(Noun))
	}
}

func TestWordNetParseErrors(t *testing.T) {
	tests := []struct {
		name, in, err string
		data          bool
	}{
		{"index fields", "car n 5\n", "i:1: want at least 6 fields", false},
		{"index count", "car n 2 0 2 1 02958343\n", "i:1: want 8 fields for 0 pointers and 2 synsets, got 7", false},
		{"index offset", "car n 1 0 1 1 0x\n", `i:1: synset_offset 1: want an 8-digit offset, got "0x"`, false},
		{"data w_cnt", "02084071 05 n zz dog 0 000 | x\n", `i:1: w_cnt: want a positive 2-digit hexadecimal count, got "zz"`, true},
		{"data ss_type", "02084071 05 q 01 dog 0 000 | x\n", `i:1: ss_type: want n, v, a, s or r, got "q"`, true},
		{"data words", "02084071 05 n 03 dog 0 000 | x\n", "i:1: want 3 words with lex_ids and p_cnt", true},
		{"data pointers", "02084071 05 n 01 dog 0 002 @ 1 n 0000 | x\n", "i:1: want 2 pointers of 4 fields, got 4 fields", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.data {
				_, err = ReadWordNetData(strings.NewReader(tc.in), "i")
			} else {
				_, err = ReadWordNetIndex(strings.NewReader(tc.in), "i")
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("err = %v, want prefix %q", err, tc.err)
			}
		})
	}
}

// realWordNet loads the installed WordNet or skips.
func realWordNet(t testing.TB) *WordNet {
	t.Helper()
	if _, err := os.Stat(DefaultWordNetDir + "/data.noun"); err != nil {
		t.Skipf("WordNet not installed at %s (apt-get install wordnet-base): %v", DefaultWordNetDir, err)
	}
	wn, err := LoadWordNet(DefaultWordNetDir)
	if err != nil {
		t.Fatal(err)
	}
	return wn
}

func TestWordNetReal(t *testing.T) {
	wn := realWordNet(t)
	counts := map[POS]int{Noun: 82115, Verb: 13767, Adj: 18156, Adv: 3621}
	for pos, n := range counts {
		if wn.Len(pos) != n {
			t.Errorf("pos %c: %d synsets, want %d", pos, wn.Len(pos), n)
		}
	}
	syn := wn.Synonyms("car", Noun)
	if len(syn) < 4 || !slices.Equal(syn[:4], []string{"auto", "automobile", "machine", "motorcar"}) {
		t.Errorf("Synonyms(car) = %q", syn)
	}
	if syn := wn.Synonyms("quickly", Adv); !slices.Contains(syn, "rapidly") {
		t.Errorf("Synonyms(quickly) = %q", syn)
	}
}
