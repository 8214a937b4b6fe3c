package data

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"unicode/utf8"
)

// lineReader reads lines of any length, stripping "\n" and "\r\n" line ends
// and counting line numbers from 1. Every line-based reader of this package
// ranges over [lineReader.lines]; lr.line is the number of the line last
// yielded, for [lineReader.errorf].
type lineReader struct {
	r    *bufio.Reader
	name string
	line int
	long []byte // a line longer than r's buffer, assembled by nextBytes
}

func newLineReader(r io.Reader, name string) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), name: name}
}

// lineMode selects what [lineReader.lines] does besides splitting lines.
type lineMode uint8

const (
	skipEmpty   lineMode = 1 << iota // do not yield empty lines
	validUTF8                        // end with an error naming the line at invalid UTF-8
	skipLicense                      // do not yield lines starting with two spaces (WordNet's license)
)

// lines yields the lines without their line ends, or one error naming the
// file and line (a read error, or invalid UTF-8 under validUTF8) and then
// stops. A final line without a line end is yielded.
func (lr *lineReader) lines(mode lineMode) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for {
			b, err := lr.nextBytes()
			if err == io.EOF {
				return
			}
			if err == nil && mode&validUTF8 != 0 {
				err = lr.checkUTF8(b)
			}
			if err != nil {
				yield("", err)
				return
			}
			if len(b) == 0 && mode&skipEmpty != 0 || mode&skipLicense != 0 && bytes.HasPrefix(b, []byte("  ")) {
				continue
			}
			if !yield(string(b), nil) {
				return
			}
		}
	}
}

// nextBytes returns the next line without its line end, valid until the
// next call. It returns io.EOF when there are no more lines, and other read
// errors wrapped with the file and line.
func (lr *lineReader) nextBytes() ([]byte, error) {
	b, err := lr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.long = append(lr.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = lr.r.ReadSlice('\n')
			lr.long = append(lr.long, b...)
		}
		b = lr.long
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:%d: %w", lr.name, lr.line+1, err)
		}
		if len(b) == 0 {
			return nil, io.EOF
		}
	}
	lr.line++
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return b, nil
}

// errorf formats an error that names the current file and line.
func (lr *lineReader) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", lr.name, lr.line, fmt.Sprintf(format, args...))
}

// checkUTF8 returns an error naming the byte offset of the first invalid
// UTF-8 sequence in s.
func (lr *lineReader) checkUTF8(s []byte) error {
	if utf8.Valid(s) {
		return nil
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return lr.errorf("invalid UTF-8 at byte %d of the line", i)
		}
		i += size
	}
	return lr.errorf("invalid UTF-8")
}
