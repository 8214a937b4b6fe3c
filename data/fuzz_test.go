package data

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math"
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
	for i, x := range v.Data {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("value %d of %q is %v", i%v.Dim+1, v.Words[i/v.Dim], x)
		}
	}
}

// checkRoundTrip writes v in every format, plain and gzip-compressed, and
// checks that [ReadVectors] reads the same vectors back (named .txt or .bin
// when the content reads both ways, see [ErrAmbiguousVectors]). It skips vectors
// that a format cannot hold: none, words with white space or newlines
// (binary files can have them), and one dimension (a GloVe row "3 5" reads
// as a header).
func checkRoundTrip(t *testing.T, v *Vectors) {
	if v.Len() == 0 || v.Dim == 1 {
		return
	}
	for _, w := range v.Words {
		if strings.ContainsAny(w, " \t\n") {
			return
		}
	}
	files := []struct {
		b    []byte
		name string // the name that settles content that reads both ways
	}{{vectorsText(v, true), "rt.txt"}, {vectorsText(v, false), "rt.txt"}, {vectorsBinary(t, v), "rt.bin"}}
	for _, file := range files {
		for _, in := range [][]byte{file.b, gzipped(t, file.b)} {
			got, err := ReadVectors(bytes.NewReader(in), "rt", VectorOptions{})
			if errors.Is(err, ErrAmbiguousVectors) {
				// Detection refuses to guess (binary values whose bytes are digits and
				// spaces); the name settles it, and must give the same numbers.
				got, err = ReadVectors(bytes.NewReader(in), file.name, VectorOptions{})
			}
			if err != nil {
				t.Fatalf("%v reading back\n%q", err, in)
			}
			sameVectors(t, got, v)
		}
	}
}

// fuzzVectors is the body of the vector readers' fuzz targets: errors name
// the file (and line or row), and what is read is consistent, finite, and
// reads back the same from every format.
func fuzzVectors(read func(io.Reader, string, VectorOptions) (*Vectors, error)) func(*testing.T, []byte, bool) {
	return func(t *testing.T, in []byte, keepOnlyFirst bool) {
		opt := VectorOptions{}
		if keepOnlyFirst {
			opt.Keep = KeepSet([]string{"the", "asian"})
		}
		v, err := read(bytes.NewReader(in), "f", opt)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		checkVectors(t, v)
		checkRoundTrip(t, v)
	}
}

func FuzzWord2VecText(f *testing.F) { f.Fuzz(fuzzVectors(ReadWord2VecText)) }

func FuzzWord2VecBinary(f *testing.F) { f.Fuzz(fuzzVectors(ReadWord2VecBinary)) }

func FuzzGloVeText(f *testing.F) {
	f.Add([]byte("the 0.1 0.2\nAsian 1 2\n. . . 3 4\n"), true)
	f.Add([]byte("a 1 NaN\n"), false)
	f.Fuzz(fuzzVectors(ReadGloVeText))
}

// FuzzReadVectors feeds any bytes to format and compression detection.
func FuzzReadVectors(f *testing.F) {
	v := sampleVectors(f)
	for _, b := range [][]byte{vectorsText(v, true), vectorsText(v, false), vectorsBinary(f, v)} {
		f.Add(b, false)
		f.Add(gzipped(f, b), true)
	}
	f.Fuzz(fuzzVectors(ReadVectors))
}

// FuzzVectorsZip feeds any bytes, and any member name, to the zip path of
// LoadVectors.
func FuzzVectorsZip(f *testing.F) {
	v := sampleVectors(f)
	f.Add(zipped(f, "v.txt", string(vectorsText(v, false))), "")
	f.Add(zipped(f, "a.txt", "a 1\n", "v.bin.gz", string(gzipped(f, vectorsBinary(f, v)))), "v.bin.gz")
	f.Fuzz(func(t *testing.T, in []byte, member string) {
		v, _, err := readVectorsAt(bytes.NewReader(in), int64(len(in)), "f.zip", member, VectorOptions{}, sha256.New())
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.zip:") {
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
