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

// MaxLineBytes bounds the length of one line, without its line end, in every
// line-based file this package reads (SMS, SICK, WordNet, vocabularies, text
// word vectors): a longer line is refused with "FILE:LINE: line longer than
// MaxLineBytes bytes" before it is held in memory, so that a small
// compressed file of one huge line cannot exhaust memory. The longest
// legitimate lines, text vectors of the largest dimension the readers accept
// (1<<16 values), stay well below it.
const MaxLineBytes = 4 << 20

// lineReader reads lines of up to maxLine bytes, stripping "\n" and "\r\n"
// line ends and counting line numbers from 1. Every line-based reader of
// this package ranges over [lineReader.lines]; lr.line is the number of the
// line last yielded, for [lineReader.errorf].
type lineReader struct {
	r       *bufio.Reader
	name    string
	line    int
	long    []byte // a line longer than r's buffer, assembled by nextBytes
	maxLine int    // longest line accepted, bytes without the line end
}

func newLineReader(r io.Reader, name string) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), name: name, maxLine: MaxLineBytes}
}

// errLineTooLong formats the error of a line longer than max bytes.
func errLineTooLong(name string, line, max int) error {
	return fmt.Errorf("%s:%d: line longer than %d bytes", name, line, max)
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
			if lr.tooLong(lr.long) {
				return nil, errLineTooLong(lr.name, lr.line+1, lr.maxLine)
			}
			b, err = lr.r.ReadSlice('\n')
			lr.long = append(lr.long, b...)
		}
		b = lr.long
	}
	if lr.tooLong(b) {
		return nil, errLineTooLong(lr.name, lr.line+1, lr.maxLine)
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

// tooLong reports whether b, a line with its line end if it has one, is
// longer than lr.maxLine bytes without it.
func (lr *lineReader) tooLong(b []byte) bool {
	n := len(b)
	if n > 0 && b[n-1] == '\n' {
		n--
		if n > 0 && b[n-1] == '\r' {
			n--
		}
	}
	return n > lr.maxLine
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
