package cli

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s safe to print as one field of a tab-separated line on a terminal: a
// backslash becomes \\, tab \t, newline \n, carriage return \r, and the other characters that
// could forge rows or act on a terminal — control characters (C0, DEL, C1, so escape sequences
// such as ESC[2J), the line and paragraph separators U+2028/U+2029, and the bidirectional
// formatting characters (U+202E right-to-left override and its kin) — become \xNN or \uNNNN;
// so do the bytes of invalid UTF-8 (\xNN). Everything else (letters, symbols, emoji) is kept.
// The result is the body of a Go string literal: strconv.Unquote(`"` + Escape(s) + `"`)
// gives s back unless s contains a double quote.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case unsafeRune(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r == '\\' || unsafeRune(r) {
			return true
		}
		i += n
	}
	return false
}

// unsafeRune reports a control, line/paragraph separator or bidirectional formatting
// character.
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f', r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}
