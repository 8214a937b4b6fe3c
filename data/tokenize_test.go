package data

import (
	"slices"
	"testing"
)

func TestSMSTokenizer(t *testing.T) {
	def := DefaultSMSTokenizer()
	tests := []struct {
		name string
		tok  SMSTokenizer
		in   string
		want []string
	}{
		{"words", def, "Ok lar... Joking wif u oni...", []string{"ok", "lar", "...", "joking", "wif", "u", "oni", "..."}},
		{"bang", def, "WIN!!! now?", []string{"win", "!", "!", "!", "now", "?"}},
		{"contraction", def, "I don't know", []string{"i", "don't", "know"}},
		{"url", def, "visit www.getzed.co.uk or http://x.com/a?b=1 or tinyurl.com/x", []string{"visit", "<url>", "or", "<url>", "or", "<url>"}},
		{"phone", def, "Call 09061701461 or 0800 542 0825, text 87121", []string{"call", "<phone>", "or", "<phone>", ",", "text", "<phone>"}},
		{"phone glued", def, "apply 08452810075over18's", []string{"apply", "<phone>", "over", "<num>", "'", "s"}},
		{"money", def, "£1000 cash, $5, 1000£ or 150p/msg", []string{"<money>", "cash", ",", "<money>", ",", "<money>", "or", "<money>", "/", "msg"}},
		{"num", def, "at 10:30 on the 21st, 2 of 3.5", []string{"at", "<num>", "on", "the", "<num>", ",", "<num>", "of", "<num>"}},
		{"placeholder", def, "I'll be <#> mins", []string{"i'll", "be", "<#>", "mins"}},
		{"no normalisation", SMSTokenizer{}, "Win £1,000 at www.x.com call 0800 542 0825 or 2", []string{"win", "£1,000", "at", "www.x.com", "call", "08005420825", "or", "2"}},
		{"keep case", SMSTokenizer{KeepCase: true}, "FREE Msg", []string{"FREE", "Msg"}},
		{"empty", def, "  ", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.Tokenize(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCharTokenizer(t *testing.T) {
	tests := []struct {
		name string
		tok  CharTokenizer
		in   string
		want []string
	}{
		{"case kept", CharTokenizer{}, "Hi U!", []string{"H", "i", " ", "U", "!"}},
		{"lower", CharTokenizer{Lower: true}, "Hi U", []string{"h", "i", " ", "u"}},
		{"space runs and ends", CharTokenizer{}, " a \t\n b  ", []string{"a", " ", "b"}},
		{"runes, not bytes", CharTokenizer{}, "£5 ü", []string{"£", "5", " ", "ü"}},
		{"empty", CharTokenizer{}, " \t ", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.Tokenize(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSICKTokenizer(t *testing.T) {
	tests := []struct {
		name  string
		lower bool
		in    string
		want  []string
	}{
		{"plain", false, "A man is playing a guitar", []string{"A", "man", "is", "playing", "a", "guitar"}},
		{"lower", true, "A man is playing.", []string{"a", "man", "is", "playing", "."}},
		{"n't", true, "The man isn't, can't and won't", []string{"the", "man", "is", "n't", ",", "ca", "n't", "and", "wo", "n't"}},
		{"clitics", false, "The man's dog they're we've I'll he'd I'm", []string{"The", "man", "'s", "dog", "they", "'re", "we", "'ve", "I", "'ll", "he", "'d", "I", "'m"}},
		{"cannot", false, "He cannot", []string{"He", "can", "not"}},
		{"hyphen and decimal", false, "a t-shirt of 3.5 m.", []string{"a", "t-shirt", "of", "3.5", "m", "."}},
		{"detached clitic", false, "the boys ' toy and John 's", []string{"the", "boys", "'", "toy", "and", "John", "'s"}},
		{"quotes", false, `"Hi" (ok)`, []string{`"`, "Hi", `"`, "(", "ok", ")"}},
		{"empty", false, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (SICKTokenizer{Lower: tc.lower}).Tokenize(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
