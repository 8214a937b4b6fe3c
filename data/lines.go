package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// lineReader reads lines of any length, stripping "\n" and "\r\n" line ends
// and counting line numbers from 1.
type lineReader struct {
	r    *bufio.Reader
	name string
	line int
}

func newLineReader(r io.Reader, name string) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), name: name}
}

// next returns the next line without its line end. It returns io.EOF when
// there are no more lines. A final line without a line end is returned.
func (lr *lineReader) next() (string, error) {
	s, err := lr.r.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			if s == "" {
				return "", io.EOF
			}
		} else {
			return "", fmt.Errorf("%s:%d: %w", lr.name, lr.line+1, err)
		}
	}
	lr.line++
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// errorf formats an error that names the current file and line.
func (lr *lineReader) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", lr.name, lr.line, fmt.Sprintf(format, args...))
}

// checkUTF8 returns an error naming the byte offset of the first invalid
// UTF-8 sequence in s.
func (lr *lineReader) checkUTF8(s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return lr.errorf("invalid UTF-8 at byte %d of the line", i)
			}
		}
	}
	return lr.errorf("invalid UTF-8")
}
