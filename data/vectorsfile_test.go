package data

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sampleVectors are the vectors every format below is made from: cased
// variants (for the lowercase fallback), a duplicate, and values that need
// all of float32's digits.
func sampleVectors(t testing.TB) *Vectors {
	t.Helper()
	v := newVectors(0, 3, FormatAuto, VectorOptions{})
	rows := []struct {
		w string
		x []float32
	}{
		{"the", []float32{0.1, -0.2, 0.3}},
		{"Asian", []float32{1, 2, 3}},
		{"asia", []float32{-1, -2, -3e-1}},
		{"TV", []float32{4e-8, 5e7, math.SmallestNonzeroFloat32}},
		{"naïve", []float32{math.MaxFloat32, -math.MaxFloat32, 1.0 / 3}},
		{"tv", []float32{7, 8, 9}},
	}
	for _, r := range rows {
		v.add(r.w, r.x, VectorOptions{})
	}
	v.Rows = len(rows)
	return v
}

// vectorsText writes v as word2vec text (header) or GloVe text (no header),
// with the shortest decimal form that reads back as the same float32.
func vectorsText(v *Vectors, header bool) []byte {
	var b bytes.Buffer
	if header {
		fmt.Fprintf(&b, "%d %d\n", v.Len(), v.Dim)
	}
	for i, w := range v.Words {
		b.WriteString(w)
		for _, x := range v.Data[i*v.Dim : (i+1)*v.Dim] {
			b.WriteByte(' ')
			b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func vectorsBinary(t testing.TB, v *Vectors) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteWord2VecBinary(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// zipped makes a zip archive of name/content pairs (deflated), with a
// folder entry to be ignored.
func zipped(t testing.TB, files ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	if _, err := zw.Create("dir/"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(files); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: files[i], Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func writeTemp(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sameVectors fails unless got holds exactly want's kept words and values
// (bit for bit) and looks words up the same way.
func sameVectors(t *testing.T, got, want *Vectors) {
	t.Helper()
	if got.Dim != want.Dim || strings.Join(got.Words, " ") != strings.Join(want.Words, " ") || len(got.Data) != len(want.Data) {
		t.Fatalf("got %d-dim %q, want %d-dim %q", got.Dim, got.Words, want.Dim, want.Words)
	}
	for i := range want.Data {
		if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
			t.Fatalf("value %d (%s): got %v, want %v", i, want.Words[i/want.Dim], got.Data[i], want.Data[i])
		}
	}
	for _, w := range []string{"asian", "tv", "Asia", "naïve", "missing"} {
		a, okA := got.Lookup(w)
		b, okB := want.Lookup(w)
		if okA != okB || (okA && a[0] != b[0]) {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", w, a, okA, b, okB)
		}
	}
}

func TestLoadVectorsFormats(t *testing.T) {
	ref := sampleVectors(t)
	w2vText, glove, bin := vectorsText(ref, true), vectorsText(ref, false), vectorsBinary(t, ref)
	other := "x 1\n" // a second file in some archives
	tests := []struct {
		name        string // file name written (the format is told from the content)
		path        string // suffix appended to the path given, e.g. ":member"
		content     []byte
		format      VectorFormat
		compression string
		member      string
	}{
		{"v.w2v.txt", "", w2vText, Word2VecText, "", ""},
		{"v.bin", "", bin, Word2VecBinary, "", ""},
		{"v.txt", "", glove, GloVeText, "", ""},
		{"v.w2v.txt.gz", "", gzipped(t, w2vText), Word2VecText, "gzip", ""},
		{"v.bin.gz", "", gzipped(t, bin), Word2VecBinary, "gzip", ""},
		{"v.txt.gz", "", gzipped(t, glove), GloVeText, "gzip", ""},
		{"w2v.zip", "", zipped(t, "v.w2v.txt", string(w2vText)), Word2VecText, "zip", "v.w2v.txt"},
		{"bin.zip", "", zipped(t, "v.bin", string(bin)), Word2VecBinary, "zip", "v.bin"},
		{"glove.zip", "", zipped(t, "glove/v.txt", string(glove)), GloVeText, "zip", "glove/v.txt"},
		{"gz.zip", "", zipped(t, "v.bin.gz", string(gzipped(t, bin))), Word2VecBinary, "zip+gzip", "v.bin.gz"},
		{"two.zip", ":glove/v.txt", zipped(t, "other.txt", other, "glove/v.txt", string(glove)), GloVeText, "zip", "glove/v.txt"},
		{"two-base.zip", ":v.txt", zipped(t, "other.txt", other, "glove/v.txt", string(glove)), GloVeText, "zip", "glove/v.txt"},
		{"two-bin.zip", ":v.bin", zipped(t, "v.bin", string(bin), "other.txt", other), Word2VecBinary, "zip", "v.bin"},
		// Names that say nothing, or something wrong: the content decides.
		{"vectors", "", bin, Word2VecBinary, "", ""},
		{"binary.txt", "", bin, Word2VecBinary, "", ""},
		{"text.bin", "", w2vText, Word2VecText, "", ""},
		{"plain.gz", "", glove, GloVeText, "", ""},
		{"gzip.txt", "", gzipped(t, glove), GloVeText, "gzip", ""},
		{"zip.gz", "", zipped(t, "v.txt", string(glove)), GloVeText, "zip", "v.txt"},
	}
	for _, keep := range []map[string]bool{nil, KeepSet([]string{"asian", "tv", "naïve", "nothing"})} {
		want := ref
		if keep != nil {
			var err error
			want, err = ReadGloVeText(bytes.NewReader(glove), "ref", VectorOptions{Keep: keep})
			if err != nil {
				t.Fatal(err)
			}
			if want.Len() != 4 { // Asian, TV, naïve, tv
				t.Fatalf("reference keeps %q", want.Words)
			}
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s%s/keep=%v", tc.name, tc.path, keep != nil), func(t *testing.T) {
				p := writeTemp(t, t.TempDir(), tc.name, tc.content)
				v, err := LoadVectors(p+tc.path, VectorOptions{Keep: keep})
				if err != nil {
					t.Fatal(err)
				}
				sameVectors(t, v, want)
				sum := sha256.Sum256(tc.content)
				src := VectorSource{Path: p, Member: tc.member, Compression: tc.compression, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(tc.content))}
				if v.Format != tc.format || v.Source != src || v.Rows != ref.Rows {
					t.Errorf("got %v from %+v with %d rows, want %v from %+v with %d", v.Format, v.Source, v.Rows, tc.format, src, ref.Rows)
				}
				// Naming the format gives the same; ReadVectors streams what it can.
				if v2, err := LoadVectors(p+tc.path, VectorOptions{Keep: keep, Format: tc.format}); err != nil {
					t.Error(err)
				} else {
					sameVectors(t, v2, want)
				}
				if !strings.Contains(tc.compression, "zip") {
					v3, err := ReadVectors(bytes.NewReader(tc.content), tc.name, VectorOptions{Keep: keep})
					if err != nil {
						t.Fatal(err)
					}
					sameVectors(t, v3, want)
				}
			})
		}
	}
}

// glove3 is a GloVe file with a NaN on line 3 (a kept row).
const glove3 = "the 0.1 0.2 0.3\ncat 1 2 3\ndog 4 NaN 6\n"

func TestLoadVectorsErrors(t *testing.T) {
	bin := vectorsBinary(t, sampleVectors(t))
	nanBin := bytes.Replace(bytes.Clone(bin), []byte("Asian "+f32(1)), []byte("Asian "+f32(float32(math.NaN()))), 1)
	html := "<!DOCTYPE html>\n<html><body>Sign in to continue</body></html>\n"
	tests := []struct {
		name    string // file written; "" for none
		content []byte
		path    string // given to LoadVectors, relative to the folder; default name
		opt     VectorOptions
		err     string // the whole message, or a prefix when ending in "..."
	}{
		{"g.txt", []byte(glove3), "", VectorOptions{}, `g.txt:3: value 2 of "dog": want a finite number, got "NaN"`},
		{"g.txt", []byte(glove3), "", VectorOptions{Keep: KeepSet([]string{"the"})}, `g.txt:3: value 2 of "dog": want a finite number, got "NaN"`},
		{"g.txt.gz", gzipped(t, []byte(glove3)), "", VectorOptions{}, `g.txt.gz:3: value 2 of "dog": want a finite number, got "NaN"`},
		{"g.zip", zipped(t, "g.txt", glove3), "", VectorOptions{}, `g.zip:g.txt:3: value 2 of "dog": want a finite number, got "NaN"`},
		{"w.txt", []byte("2 2\na 1 2\nb -Inf 0\n"), "", VectorOptions{}, `w.txt:3: value 1 of "b": want a finite number, got "-Inf"`},
		{"w.txt", []byte("2 2\na 1 2\nb 1e999 0\n"), "", VectorOptions{}, `w.txt:3: value 1 of "b": want a finite number, got "1e999" (beyond float32's range)`},
		{"big.txt", []byte("a 1 2\nb 3 1e39\n"), "", VectorOptions{}, `big.txt:2: value 2 of "b": want a finite number, got "1e39" (beyond float32's range)`},
		{"nan.bin", nanBin, "", VectorOptions{}, `nan.bin: row 2 ("Asian"), byte 27: value 1: want a finite number, got NaN`},
		{"dim.txt", []byte("a 1 2 3\n\nb 1 2 3\nc 1 2\n"), "", VectorOptions{}, `dim.txt:4: want 3 values after "c" (the dimension of line 1), got 2`},
		{"dim.txt", []byte("a 1 2 3\nb 1 2 3 4\n"), "", VectorOptions{}, `dim.txt:2: want 3 values after "b" (the dimension of line 1), got 4`},
		{"word.txt", []byte("a 1 2\nb x 2\n"), "", VectorOptions{Keep: KeepSet(nil)}, `word.txt:2: value 1 of "b": want a number, got "x"`},
		{"first.txt", []byte("lonely\n"), "", VectorOptions{}, `first.txt:1: want a word and its values ("word v1 ... vD"), got "lonely" (taken for GloVe text: line 1 is not a word2vec header "N D"; accepted: ` + VectorFormats + ")"},
		{"page.bin.gz", []byte(html), "", VectorOptions{}, `page.bin.gz:1: value 1 of "<!DOCTYPE": want a number, got "html>" (not gzip-compressed despite the name; taken for GloVe text: line 1 is not a word2vec header "N D"; accepted: ` + VectorFormats + ")"},
		{"page.zip", []byte(html), "", VectorOptions{}, `page.zip:1: value 1 of "<!DOCTYPE": want a number, got "html>" (not a zip archive despite the name; taken for GloVe text: ...`},
		{"short.bin", []byte("2 3\nab\x00\x00\x80?"), "", VectorOptions{}, `short.bin: row 1, byte 10: truncated file: want a word ending in a space, got end of file (taken for word2vec binary: line 1 is a header "N D" and the next bytes are not a row of text; ...`},
		{"forced.txt", []byte("2 3\na 1 2 3\nb 1 2 3\n"), "", VectorOptions{Format: GloVeText}, `forced.txt:2: want 1 values after "a" (the dimension of line 1), got 3`},
		{"empty.txt", nil, "", VectorOptions{}, "empty.txt: empty file; want word vectors (" + VectorFormats + ")"},
		{"blank.txt.gz", gzipped(t, []byte("\n \n")), "", VectorOptions{}, "blank.txt.gz: empty file; want word vectors (" + VectorFormats + ")"},
		{"cut.txt.gz", gzipped(t, []byte(glove3))[:40], "", VectorOptions{}, "cut.txt.gz:3: gzip data: unexpected EOF"},
		{"two.zip", zipped(t, "a.txt", "a 1\n", "b.txt", "b 1\n"), "", VectorOptions{}, "two.zip: the zip archive holds 2 files (a.txt, b.txt); pick one as two.zip:MEMBER"},
		{"two.zip", zipped(t, "x/a.txt", "a 1\n", "y/a.txt", "b 1\n"), "two.zip:a.txt", VectorOptions{}, `two.zip: the zip archive has no file "a.txt"; it holds x/a.txt, y/a.txt`},
		{"none.zip", zipped(t), "", VectorOptions{}, "none.zip: the zip archive holds no file; want one word vectors file"},
		{"bad.zip", append([]byte("PK\x03\x04"), make([]byte, 40)...), "", VectorOptions{}, "bad.zip: reading the zip archive: zip: not a valid zip file"},
		{"g.txt", []byte(glove3), "g.txt:inner.txt", VectorOptions{}, `g.txt: not a zip archive, so there is no member "inner.txt" to pick`},
		{"", nil, "missing.txt", VectorOptions{}, "data: open DIR/missing.txt: no such file or directory"},
		{"", nil, ".", VectorOptions{}, "data: DIR is a folder; want a word vectors file (" + VectorFormats + ")"},
	}
	for _, tc := range tests {
		t.Run(tc.name+tc.path, func(t *testing.T) {
			dir := t.TempDir()
			p := tc.path
			if tc.name != "" {
				writeTemp(t, dir, tc.name, tc.content)
				if p == "" {
					p = tc.name
				}
			}
			_, err := LoadVectors(filepath.Join(dir, p), tc.opt)
			if err == nil {
				t.Fatal("no error")
			}
			msg := strings.ReplaceAll(err.Error(), dir, "DIR")
			if prefix, ok := strings.CutSuffix(tc.err, "..."); ok && strings.HasPrefix(msg, prefix) {
				return
			}
			if msg != tc.err {
				t.Errorf("error\n%s\nwant\n%s", msg, tc.err)
			}
		})
	}
}

func TestReadVectorsZipStream(t *testing.T) {
	_, err := ReadVectors(bytes.NewReader(zipped(t, "a.txt", "a 1\n")), "a.zip", VectorOptions{})
	if err == nil || err.Error() != "a.zip: a zip archive: read it with LoadVectors (FILE.zip or FILE.zip:MEMBER)" {
		t.Errorf("err = %v", err)
	}
}

func TestReadGloVeText(t *testing.T) {
	tests := []struct {
		name, in string
		words    string
		rows     int
		err      string
	}{
		{"plain", "a 1 2\nb 3 4\n", "a|b", 2, ""},
		{"crlf, blank lines, tabs, trailing space", "a\t1 2 \r\n\r\nb 3\t4\r\n", "a|b", 2, ""},
		{"no final newline", "a 1 2\nb 3 4", "a|b", 2, ""},
		{"spaced word (glove.840B)", "a 1 2\n. . . 3 4\nat name@domain.com 5 6\n", "a|. . .|at name@domain.com", 3, ""},
		{"extra number is a long row", "a 1 2\nb 7 3 4\n", "", 0, `g:2: want 2 values after "b" (the dimension of line 1), got 3`},
		{"leading space", "a 1 2\n 3 4\n", "", 0, "g:2: want a word then 2 values, got a line starting with a space"},
		{"empty", "", "", 0, `g:1: want lines "word v1 ... vD", got an empty file`},
		{"no values", "a\n", "", 0, `g:1: want a word and its values ("word v1 ... vD"), got "a"`},
		{"underflow is finite", "a 1e-50 2\n", "a", 1, ""},
		{"infinity", "a 1 2\nb inf 0\n", "", 0, `g:2: value 1 of "b": want a finite number, got "inf"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ReadGloVeText(strings.NewReader(tc.in), "g", VectorOptions{})
			if checkErr(t, err, tc.err, false) {
				return
			}
			if strings.Join(v.Words, "|") != tc.words || v.Rows != tc.rows || v.Dim != 2 || v.Format != GloVeText {
				t.Errorf("got %q, %d rows, dim %d, %v", v.Words, v.Rows, v.Dim, v.Format)
			}
		})
	}
}

func TestVectorsRecord(t *testing.T) {
	p := writeTemp(t, t.TempDir(), "v.txt.gz", gzipped(t, vectorsText(sampleVectors(t), false)))
	v, err := LoadVectors(p, VectorOptions{Keep: KeepSet([]string{"the", "tv"})})
	if err != nil {
		t.Fatal(err)
	}
	r := v.Record(v.Coverage([][]string{{"the", "tv", "zebra", "the"}}))
	want := VectorsRecord{File: "v.txt.gz", SHA256: v.Source.SHA256, Format: "GloVe text, gzip", Dim: 3, Rows: 6, RowsKept: 3,
		Types: 3, TypeCoverage: 2.0 / 3, TokenCoverage: 0.75}
	if r != want || len(r.SHA256) != 64 {
		t.Errorf("Record = %+v, want %+v", r, want)
	}
	if s := r.String(); !strings.HasPrefix(s, "v.txt.gz (GloVe text, gzip; sha256 ") || !strings.HasSuffix(s, "; 6 rows of 3, 3 kept; coverage: types 66.67%, tokens 75.00%)") {
		t.Errorf("String() = %q", s)
	}
}

func TestDefaultVectorsMissing(t *testing.T) {
	mirror := mirrorDir(t)
	t.Setenv("SEQTORCH_DATA", t.TempDir())
	t.Setenv("SEQTORCH_MIRROR", t.TempDir())
	_, err := DefaultVectors()
	if !errors.Is(err, ErrNoVectors) {
		t.Fatalf("err = %v, want ErrNoVectors", err)
	}
	msg := err.Error()
	for _, want := range []string{"--vectors PATH", "glove.840B.300d.zip", "GoogleNews-vectors-negative300.bin.gz", "SEQTORCH_MIRROR", VectorFormats} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one line: %q", msg)
	}
	t.Setenv("SEQTORCH_MIRROR", mirror)
	if p, err := DefaultVectors(); err != nil || filepath.Base(p) != defaultVectorsFile {
		t.Errorf("with the mirror: %q, %v", p, err)
	}
}
