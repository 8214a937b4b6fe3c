package data

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/. Run for example
//	go test -fuzz=FuzzSMS -fuzztime=20s ./data

func FuzzSMS(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		msgs, err := ReadSMS(bytes.NewReader(in), "f")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		for _, m := range msgs {
			if (m.Label != Ham && m.Label != Spam) || m.Line < 1 || !utf8.ValidString(m.Text) {
				t.Fatalf("bad record %+v", m)
			}
			DefaultSMSTokenizer().Tokenize(m.Text)
		}
	})
}

func FuzzSICK(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, semeval bool) {
		var pairs []Pair
		var err error
		if semeval {
			pairs, err = ReadSICKSemEval(bytes.NewReader(in), "f", SplitTest)
		} else {
			pairs, err = ReadSICK(bytes.NewReader(in), "f")
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		for _, p := range pairs {
			if p.Score < 1 || p.Score > 5 || p.Label < Neutral || p.Label > Contradiction || p.Split == SplitNone {
				t.Fatalf("bad pair %+v", p)
			}
			SICKTokenizer{Lower: true}.Tokenize(p.A)
		}
	})
}

func checkVectors(t *testing.T, v *Vectors) {
	if v.Dim < 1 || len(v.Data) != len(v.Words)*v.Dim || len(v.Words) > v.Rows {
		t.Fatalf("inconsistent vectors: dim %d, %d words, %d values, %d rows", v.Dim, len(v.Words), len(v.Data), v.Rows)
	}
	for _, w := range v.Words {
		if vec, ok := v.Lookup(w); !ok || len(vec) != v.Dim {
			t.Fatalf("Lookup(%q) failed", w)
		}
	}
}

func FuzzWord2VecText(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, keepOnlyFirst bool) {
		opt := VectorOptions{}
		if keepOnlyFirst {
			opt.Keep = KeepSet([]string{"the", "asian"})
		}
		v, err := ReadWord2VecText(bytes.NewReader(in), "f", opt)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		checkVectors(t, v)
	})
}

func FuzzWord2VecBinary(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, keepOnlyFirst bool) {
		opt := VectorOptions{}
		if keepOnlyFirst {
			opt.Keep = KeepSet([]string{"the", "asian"})
		}
		v, err := ReadWord2VecBinary(bytes.NewReader(in), "f", opt)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f: ") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		checkVectors(t, v)
	})
}

func FuzzWordNetData(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, index bool) {
		var err error
		if index {
			_, err = ReadWordNetIndex(bytes.NewReader(in), "f")
		} else {
			var syns []Synset
			syns, err = ReadWordNetData(bytes.NewReader(in), "f")
			for _, s := range syns {
				if len(s.Lemmas) == 0 {
					t.Fatalf("synset without lemmas: %+v", s)
				}
			}
		}
		if err != nil && !strings.HasPrefix(err.Error(), "f:") {
			t.Fatalf("error without file:line: %v", err)
		}
	})
}
