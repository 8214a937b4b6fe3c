package data

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenizer splits a text into tokens.
type Tokenizer interface {
	Tokenize(text string) []string
}

// Placeholder tokens produced by [SMSTokenizer].
const (
	URLToken   = "<url>"
	PhoneToken = "<phone>"
	MoneyToken = "<money>"
	NumToken   = "<num>"
)

// SMSTokenizer tokenizes SMS messages. The text is lowercased (unless
// KeepCase) and split into:
//
//   - URLs (http://..., www..., name.com/...) -> "<url>" if URLs
//   - UK-style phone numbers (07xxx/08xxx/09xxx and +44 numbers, optionally
//     grouped with spaces or dashes) and any run of 5 or more digits (short
//     codes such as 87121) -> "<phone>" if Phones
//   - currency amounts (£100, $5, €2.50, 1000£, 150p, 5 pounds) -> "<money>"
//     if Money
//   - other numbers (3, 2.5, 10:30, 21st) -> "<num>" if Numbers
//   - words: letters, with inner apostrophes kept (don't, i'm)
//   - "..." for runs of two or more dots, "<#>" (the corpus's own
//     placeholder, written &lt;#&gt;) as one token
//   - every other non-space character (! ? . , : ) £ ...) as a token of its
//     own; "!!!" gives three "!" tokens since repetition carries signal.
//
// A category whose option is false is kept as its (lowercased) text, as one
// token. The zero value keeps everything; [DefaultSMSTokenizer] normalises
// all four categories.
type SMSTokenizer struct {
	URLs     bool // replace URLs by "<url>"
	Phones   bool // replace phone numbers and short codes by "<phone>"
	Money    bool // replace currency amounts by "<money>"
	Numbers  bool // replace other numbers by "<num>"
	KeepCase bool // do not lowercase
}

// DefaultSMSTokenizer returns an SMSTokenizer that lowercases and normalises
// URLs, phone numbers, money and numbers.
func DefaultSMSTokenizer() SMSTokenizer {
	return SMSTokenizer{URLs: true, Phones: true, Money: true, Numbers: true}
}

var smsRE = regexp.MustCompile(`(?i)` +
	`(?P<url>(?:https?://|www\.)[^\s]+|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|co\.uk|net|org|biz|info|tv|uk)(?:/[^\s]*)?\b)` +
	`|(?P<money>[£$€]\s?\d+(?:[.,]\d+)*(?:k\b)?|\d+(?:[.,]\d+)*\s?(?:[£$€]|gbp\b|pounds?\b|pence\b|p\b))` +
	`|(?P<phone>(?:\+44\s?|0)\d{3,4}[\s-]?\d{3}[\s-]?\d{3,4}\b|\+?\d{5,})` +
	`|(?P<num>\d+(?:[.,:/]\d+)*(?:st|nd|rd|th)?)` +
	`|(?P<word>\pL[\pL\pM]*(?:'\pL[\pL\pM]*)*)` +
	`|(?P<dots>\.{2,}|…)` +
	`|(?P<hash><#>)` +
	`|(?P<other>\S)`)

var smsGroups = func() []string { return smsRE.SubexpNames() }()

// Tokenize splits text into tokens; see [SMSTokenizer].
func (t SMSTokenizer) Tokenize(text string) []string {
	if !t.KeepCase {
		text = strings.ToLower(text)
	}
	var out []string
	for _, m := range smsRE.FindAllStringSubmatchIndex(text, -1) {
		g := 1
		for ; g < len(smsGroups); g++ {
			if m[2*g] >= 0 {
				break
			}
		}
		if g >= len(smsGroups) {
			continue
		}
		tok := text[m[2*g]:m[2*g+1]]
		switch smsGroups[g] {
		case "url":
			if t.URLs {
				tok = URLToken
			}
		case "money":
			if t.Money {
				tok = MoneyToken
			} else {
				tok = strings.Join(strings.Fields(tok), "")
			}
		case "phone":
			if t.Phones {
				tok = PhoneToken
			} else {
				tok = strings.Join(strings.FieldsFunc(tok, func(r rune) bool { return r == '-' || unicode.IsSpace(r) }), "")
			}
		case "num":
			if t.Numbers {
				tok = NumToken
			}
		case "dots":
			tok = "..."
		}
		out = append(out, tok)
	}
	return out
}

// SICKTokenizer is a Penn-Treebank-like tokenizer for the SICK sentences.
// Words are runs of letters and digits, with inner hyphens, apostrophes and
// dots between digits kept (t-shirt, 3.5); every other punctuation character
// is a token of its own; the clitics n't 's 're 've 'll 'd 'm are split off
// (isn't -> is n't, man's -> man 's, can't -> ca n't) and "cannot" becomes
// "can not", as in the Treebank. Lower lowercases every token.
type SICKTokenizer struct {
	Lower bool
}

var clitics = []string{"n't", "'s", "'re", "'ve", "'ll", "'d", "'m"}

// Tokenize splits text into tokens; see [SICKTokenizer].
func (t SICKTokenizer) Tokenize(text string) []string {
	if t.Lower {
		text = strings.ToLower(text)
	}
	text = strings.ReplaceAll(text, "’", "'")
	var out []string
	isAlnum := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case isAlnum(r):
			j := i + size
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if isAlnum(r2) {
					j += s2
					continue
				}
				if r2 == '-' || r2 == '\'' || r2 == '.' {
					// keep if followed by an alphanumeric (and for '.',
					// between digits)
					r3, s3 := utf8.DecodeRuneInString(text[j+s2:])
					prev, _ := utf8.DecodeLastRuneInString(text[:j])
					if s3 > 0 && isAlnum(r3) && (r2 != '.' || (unicode.IsDigit(prev) && unicode.IsDigit(r3))) {
						j += s2 + s3
						continue
					}
				}
				break
			}
			out = appendWord(out, text[i:j])
			i = j
		case r == '\'':
			// a leading apostrophe: a clitic such as 's after a space, or a quote
			j := i + size
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !unicode.IsLetter(r2) {
					break
				}
				j += s2
			}
			if isClitic(text[i:j]) {
				out = append(out, text[i:j])
				i = j
			} else {
				out = append(out, "'")
				i += size
			}
		default:
			out = append(out, text[i:i+size])
			i += size
		}
	}
	return out
}

func isClitic(s string) bool {
	for _, c := range clitics {
		if strings.EqualFold(s, c) {
			return true
		}
	}
	return false
}

// appendWord appends w with its clitics split off.
func appendWord(out []string, w string) []string {
	if strings.EqualFold(w, "cannot") {
		return append(out, w[:3], w[3:])
	}
	// split at an inner apostrophe where the rest is a clitic
	var tail []string
	for {
		split := false
		lw := strings.ToLower(w)
		for _, c := range clitics {
			if len(lw) > len(c) && strings.HasSuffix(lw, c) {
				tail = append([]string{w[len(w)-len(c):]}, tail...)
				w = w[:len(w)-len(c)]
				split = true
				break
			}
		}
		if !split {
			break
		}
	}
	out = append(out, w)
	return append(out, tail...)
}

// CharTokenizer splits a text into its characters (runes), case kept, each run of white space
// becoming one " " token and the ends trimmed. With Lower it lowercases first.
type CharTokenizer struct {
	Lower bool
}

// Tokenize splits text into characters; see [CharTokenizer].
func (t CharTokenizer) Tokenize(text string) []string {
	if t.Lower {
		text = strings.ToLower(text)
	}
	var out []string
	space := false
	for _, r := range strings.TrimSpace(text) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			out = append(out, " ")
			space = false
		}
		out = append(out, string(r))
	}
	return out
}
