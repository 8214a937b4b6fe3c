package data

import (
	"archive/zip"
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repeatReader yields n copies of byte c.
type repeatReader struct {
	c byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range p[:k] {
		p[i] = r.c
	}
	r.n -= k
	return int(k), nil
}

// TestLineTooLong: every line-based reader refuses a line longer than
// MaxLineBytes with "FILE:LINE: line longer than N bytes", on the first line
// and on a later one.
func TestLineTooLong(t *testing.T) {
	readers := map[string]func(io.Reader, string) error{
		"ReadSMS":  func(r io.Reader, n string) error { _, err := ReadSMS(r, n); return err },
		"ReadSICK": func(r io.Reader, n string) error { _, err := ReadSICK(r, n); return err },
		"ReadSICKSemEval": func(r io.Reader, n string) error {
			_, err := ReadSICKSemEval(r, n, SplitTest)
			return err
		},
		"ReadWordNetIndex": func(r io.Reader, n string) error { _, err := ReadWordNetIndex(r, n); return err },
		"ReadWordNetData":  func(r io.Reader, n string) error { _, err := ReadWordNetData(r, n); return err },
		"ReadVocab":        func(r io.Reader, n string) error { _, err := ReadVocab(r, n); return err },
		"ReadWord2VecText": func(r io.Reader, n string) error {
			_, err := ReadWord2VecText(r, n, VectorOptions{})
			return err
		},
		"ReadGloVeText": func(r io.Reader, n string) error { _, err := ReadGloVeText(r, n, VectorOptions{}); return err },
		"ReadVectors":   func(r io.Reader, n string) error { _, err := ReadVectors(r, n, VectorOptions{}); return err },
	}
	for name, read := range readers {
		for _, tc := range []struct {
			first string // the lines before the long one
			line  int    // the long line's number
		}{{"", 1}, {"  \n", 2}} {
			if tc.first != "" && name != "ReadWordNetData" && name != "ReadWordNetIndex" {
				continue // a later line needs a first line the reader accepts: WordNet's license line
			}
			t.Run(fmt.Sprintf("%s/line%d", name, tc.line), func(t *testing.T) {
				in := io.MultiReader(strings.NewReader(tc.first), &repeatReader{'a', MaxLineBytes + 1}, strings.NewReader("\nmore\n"))
				err := read(in, "f")
				want := fmt.Sprintf("f:%d: line longer than %d bytes", tc.line, MaxLineBytes)
				if err == nil || err.Error() != want {
					t.Fatalf("got %v, want %q", err, want)
				}
			})
		}
	}
	// A line of exactly MaxLineBytes (with \r\n) is not refused for its length.
	in := io.MultiReader(&repeatReader{'a', MaxLineBytes}, strings.NewReader("\r\n"))
	if _, err := ReadSMS(in, "f"); err == nil || strings.Contains(err.Error(), "line longer") {
		t.Errorf("a line of MaxLineBytes: got %v, want the SMS parser's own error", err)
	}
	// The binary reader's header is bounded by its buffer.
	_, err := ReadWord2VecBinary(&repeatReader{'1', 3 << 20}, "f", VectorOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "f:1: line longer than 1048576 bytes") {
		t.Errorf("binary header: got %v", err)
	}
}

// TestLoadVectorsHugeLineCompressed: a small compressed file (gzip, and zip)
// of one line far longer than MaxLineBytes is refused naming the file and
// line, without holding the line: what LoadVectors allocates stays a few
// times MaxLineBytes, not the line's length.
func TestLoadVectorsHugeLineCompressed(t *testing.T) {
	const lineBytes = 128 << 20
	dir := t.TempDir()
	gz := filepath.Join(dir, "v.txt.gz")
	writeFile := func(path string, write func(w io.Writer) error) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		bw := bufio.NewWriter(f)
		if err := write(bw); err != nil {
			t.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(gz, func(w io.Writer) error {
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if _, err := io.Copy(zw, &repeatReader{'0', lineBytes}); err != nil {
			return err
		}
		return zw.Close()
	})
	zp := filepath.Join(dir, "v.zip")
	writeFile(zp, func(w io.Writer) error {
		zw := zip.NewWriter(w)
		m, err := zw.Create("v.txt")
		if err != nil {
			return err
		}
		if _, err := io.Copy(m, &repeatReader{'0', lineBytes}); err != nil {
			return err
		}
		return zw.Close()
	})
	for _, tc := range []struct{ path, want string }{
		{gz, "v.txt.gz:1: line longer than"},
		{zp, "v.zip:v.txt:1: line longer than"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := LoadVectors(tc.path, VectorOptions{})
		runtime.ReadMemStats(&after)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q...", tc.path, err, tc.want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6*MaxLineBytes {
			t.Errorf("%s: LoadVectors allocated %d bytes for a line of %d; want at most %d", tc.path, alloc, lineBytes, 6*MaxLineBytes)
		}
	}
}
