package data

import (
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// SMS labels.
const (
	Ham  = 0 // a legitimate message
	Spam = 1 // a spam message
)

// SMS is one message of the SMS Spam Collection.
type SMS struct {
	Label int    // Ham (0) or Spam (1)
	Text  string // message text with HTML entities decoded
	Line  int    // 1-based line number in the source file
}

// ReadSMS reads the SMS Spam Collection format: one message per line,
// "label<TAB>text", label "ham" or "spam", UTF-8, no header. HTML entities in
// the text (&lt; &gt; &amp; ...) are decoded with [html.UnescapeString].
// Empty lines are skipped. name is used in error messages, which have the
// form "name:line: want ..., got ...".
func ReadSMS(r io.Reader, name string) ([]SMS, error) {
	lr := newLineReader(r, name)
	var out []SMS
	for s, err := range lr.lines(skipEmpty | validUTF8) {
		if err != nil {
			return nil, err
		}
		cols := strings.Split(s, "\t")
		if len(cols) != 2 {
			return nil, lr.errorf("want 2 tab-separated columns (label, text), got %d", len(cols))
		}
		var label int
		switch cols[0] {
		case "ham":
			label = Ham
		case "spam":
			label = Spam
		default:
			return nil, lr.errorf("want %q or %q, got %q", "ham", "spam", truncate(cols[0], 40))
		}
		out = append(out, SMS{Label: label, Text: html.UnescapeString(cols[1]), Line: lr.line})
	}
	return out, nil
}

// LoadSMS reads the SMS Spam Collection file at path (see [ReadSMS]).
// Errors name the file by its base name.
func LoadSMS(path string) ([]SMS, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return ReadSMS(f, baseName(path))
}

// truncate shortens s to at most n bytes (on a rune boundary) for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func baseName(path string) string { return filepath.Base(path) }
