package data

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

const tinyVec = "4 3\nthe 0.1 0.2 0.3\nAsian 1 2 3\nasia -1 -2 -3e-1\nTV 4 5 6\n"

func TestReadWord2VecText(t *testing.T) {
	tests := []struct {
		name, in string
		opt      VectorOptions
		words    []string
		err      string
	}{
		{"all", tinyVec, VectorOptions{}, []string{"the", "Asian", "asia", "TV"}, ""},
		{"keep with fallback", tinyVec, VectorOptions{Keep: KeepSet([]string{"asian", "tv", "x"})}, []string{"Asian", "TV"}, ""},
		{"keep exact only", tinyVec, VectorOptions{Keep: KeepSet([]string{"asian", "the"}), NoCaseFallback: true}, []string{"the"}, ""},
		{"crlf", "1 2\r\nx 1 2\r\n", VectorOptions{}, []string{"x"}, ""},
		{"empty", "", VectorOptions{}, nil, `v:1: want header "N D", got an empty file`},
		{"bad header", "4\n", VectorOptions{}, nil, `v:1: want header "N D" (rows and dimension), got "4"`},
		{"huge dim", "1 99999999\n", VectorOptions{}, nil, `v:1: want dimension D <= 65536, got 99999999`},
		{"too few rows", "3 3\nthe 1 2 3\n", VectorOptions{}, nil, "v:2: header says 3 rows, got 1"},
		{"too many rows", "1 3\nthe 1 2 3\na 1 2 3\n", VectorOptions{}, nil, "v:3: header says 1 rows, but there are more"},
		{"short row", "1 3\nthe 1 2\n", VectorOptions{}, nil, `v:2: want 3 values after "the" (header dimension), got 2`},
		{"short skipped row", "2 3\nthe 1 2 3\nfoo 1 2\n", VectorOptions{Keep: KeepSet([]string{"the"})}, nil, `v:3: want 3 values after "foo" (header dimension), got 2`},
		{"long row", "1 3\nthe 1 2 3 4\n", VectorOptions{}, nil, `v:2: want 3 values after "the" (header dimension), got 4`},
		{"not a number", "1 3\nthe 1 x 3\n", VectorOptions{}, nil, `v:2: value 2 of "the": want a number, got "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ReadWord2VecText(strings.NewReader(tc.in), "v", tc.opt)
			if checkErr(t, err, tc.err, false) {
				return
			}
			if strings.Join(v.Words, " ") != strings.Join(tc.words, " ") || len(v.Data) != len(v.Words)*v.Dim {
				t.Errorf("words = %q, want %q", v.Words, tc.words)
			}
		})
	}
}

func TestLookupFallback(t *testing.T) {
	v, err := ReadWord2VecText(strings.NewReader(tinyVec), "v", VectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		word string
		ok   bool
		x0   float32
	}{
		{"the", true, 0.1},
		{"asian", true, 1},  // cased fallback
		{"asia", true, -1},  // exact
		{"tv", true, 4},     // cased fallback
		{"Asia", false, 0},  // no upper -> lower fallback
		{"ASIAN", false, 0}, // only lowercase words fall back
		{"xyz", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.word, func(t *testing.T) {
			vec, ok := v.Lookup(tc.word)
			if ok != tc.ok || (ok && vec[0] != tc.x0) {
				t.Errorf("Lookup(%q) = %v, %v; want ok=%v x0=%v", tc.word, vec, ok, tc.ok, tc.x0)
			}
		})
	}
}

func binVec(rows ...string) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		b.WriteString(r)
	}
	return b.Bytes()
}

func f32(xs ...float32) string {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return string(b)
}

func TestReadWord2VecBinary(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		opt   VectorOptions
		words string
		err   string
	}{
		{"newlines", binVec("2 2\n", "a ", f32(1, 2), "\n", "Bb ", f32(3, 4), "\n"), VectorOptions{}, "a Bb", ""},
		{"no newlines", binVec("2 2\n", "a ", f32(1, 2), "Bb ", f32(3, 4)), VectorOptions{}, "a Bb", ""},
		{"keep", binVec("2 2\n", "a ", f32(1, 2), "Bb ", f32(3, 4)), VectorOptions{Keep: KeepSet([]string{"bb"})}, "Bb", ""},
		{"empty", nil, VectorOptions{}, "", `v: byte 0: want header "N D\n", got "" and end of file`},
		{"truncated vector", binVec("2 2\n", "a ", f32(1, 2), "Bb ", f32(3)), VectorOptions{}, "", `v: row 2 ("Bb"), byte 17: truncated file: want 8 bytes of vector, got 4`},
		{"truncated skipped vector", binVec("2 2\n", "a ", f32(1, 2), "Bb ", f32(3)), VectorOptions{Keep: KeepSet(nil)}, "", `v: row 2 ("Bb"), byte 17: truncated file: want 8 bytes of vector, got 4`},
		{"missing row", binVec("3 2\n", "a ", f32(1, 2), "\n"), VectorOptions{}, "", `v: row 2, byte 15: truncated file: want a word ending in a space, got end of file`},
		{"extra data", binVec("1 2\n", "a ", f32(1, 2), "\nb ", f32(1, 2)), VectorOptions{}, "", `v: byte 15: header says 1 rows, but more data follows`},
		{"bad header", []byte("x y\n"), VectorOptions{}, "", `v: header: want header "N D" with integers N >= 0 and D >= 1, got "x y\n"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ReadWord2VecBinary(bytes.NewReader(tc.in), "v", tc.opt)
			if checkErr(t, err, tc.err, false) {
				return
			}
			if strings.Join(v.Words, " ") != tc.words {
				t.Errorf("words = %q, want %q", v.Words, tc.words)
			}
			if vec, ok := v.Lookup("bb"); !ok || vec[0] != 3 || vec[1] != 4 {
				t.Errorf("Lookup(bb) = %v, %v", vec, ok)
			}
		})
	}
}

func TestWord2VecBinaryRoundTrip(t *testing.T) {
	v, err := ReadWord2VecText(strings.NewReader(tinyVec), "v", VectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteWord2VecBinary(&b, v); err != nil {
		t.Fatal(err)
	}
	w, err := ReadWord2VecBinary(&b, "v.bin", VectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Data) != len(v.Data) {
		t.Fatal("sizes differ")
	}
	for i := range v.Data {
		if v.Data[i] != w.Data[i] {
			t.Fatalf("value %d: %v != %v", i, v.Data[i], w.Data[i])
		}
	}
}

func TestEmbedding(t *testing.T) {
	v, _ := ReadWord2VecText(strings.NewReader(tinyVec), "v", VectorOptions{})
	voc := BuildVocab([][]string{{"the", "asian", "zzz", "the"}}, VocabOptions{})
	for _, tc := range []struct {
		name string
		zero bool
	}{{"random", false}, {"zero", true}} {
		t.Run(tc.name, func(t *testing.T) {
			m, found := v.Embedding(voc, EmbeddingOptions{Seed: 1, ZeroUnknown: tc.zero})
			if found != 2 || len(m) != voc.Len()*3 {
				t.Fatalf("found %d, len %d", found, len(m))
			}
			row := func(tok string) []float32 { id := voc.ID(tok); return m[id*3 : id*3+3] }
			if row("<pad>")[0] != 0 || row("the")[0] != 0.1 || row("asian")[2] != 3 {
				t.Errorf("rows wrong: %v", m)
			}
			for _, x := range row("zzz") {
				if tc.zero && x != 0 || x < -0.25 || x >= 0.25 {
					t.Errorf("unknown row value %v", x)
				}
			}
			m2, _ := v.Embedding(voc, EmbeddingOptions{Seed: 1, ZeroUnknown: tc.zero})
			if row("zzz")[0] != m2[voc.ID("zzz")*3] {
				t.Error("not deterministic")
			}
		})
	}
}

// sickDocs tokenizes every sentence of SICK.txt.
func sickDocs(t testing.TB, tok Tokenizer) [][]string {
	pairs, err := LoadSICK(mirrorFile(t, "sick/SICK.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]string
	for _, p := range pairs {
		docs = append(docs, tok.Tokenize(p.A), tok.Tokenize(p.B))
	}
	return docs
}

func TestGloVeSICKCoverage(t *testing.T) {
	docs := sickDocs(t, SICKTokenizer{Lower: true})
	voc := BuildVocab(docs, VocabOptions{})
	v, err := LoadWord2Vec(mirrorFile(t, "vectors/glove.840B.300d.sick-treelstm.w2v.txt"), VectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 2402 || v.Dim != 300 || v.Rows != 2402 {
		t.Fatalf("got %d x %d, want 2402 x 300", v.Len(), v.Dim)
	}
	kept, err := LoadWord2Vec(mirrorFile(t, "vectors/glove.840B.300d.sick-treelstm.w2v.txt"), VectorOptions{Keep: KeepSet(voc.Tokens())})
	if err != nil {
		t.Fatal(err)
	}
	c := kept.Coverage(docs)
	t.Logf("SICK coverage: %v; kept %d rows; missing %q", c, kept.Len(), c.Missing)
	if c.TokenRate() < 0.99 {
		t.Errorf("token coverage %.4f, want >= 0.99", c.TokenRate())
	}
	if c2 := v.Coverage(docs); c2.TypesCovered != c.TypesCovered || c2.TokensCovered != c.TokensCovered {
		t.Errorf("coverage with all rows %v differs from kept rows %v", c2, c)
	}
	_, found := kept.Embedding(voc, EmbeddingOptions{})
	if found != c.TypesCovered {
		t.Errorf("embedding found %d rows, coverage says %d types", found, c.TypesCovered)
	}
}
