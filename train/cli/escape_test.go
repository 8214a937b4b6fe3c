package cli

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, £100 and é ü 😀", "plain text, £100 and é ü 😀"},
		{"a\tb", `a\tb`},
		{"row\nspam\t1.0000\tforged", `row\nspam\t1.0000\tforged`},
		{"cr\r", `cr\r`},
		{`back\slash`, `back\\slash`},
		{"\x1b[2J\x07", `\x1b[2J\x07`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085", `c1\u0085`},
		{"rtl \u202eabc\u202c", `rtl \u202eabc\u202c`},
		{"sep\u2028x", `sep\u2028x`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"zwj 👩\u200d💻 kept", "zwj 👩\u200d💻 kept"},
	}
	for _, tc := range tests {
		got := Escape(tc.in)
		if got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.ContainsAny(got, "\t\n\r\x1b") {
			t.Errorf("Escape(%q) keeps a raw control character: %q", tc.in, got)
		}
		if back, err := strconv.Unquote(`"` + got + `"`); err != nil || back != tc.in {
			t.Errorf("unquoting Escape(%q): %q, %v", tc.in, back, err)
		}
	}
}

func ExampleEscape() {
	msg := "Call now!\tspam\t1.0000\tforged row\n\x1b[31mred"
	fmt.Printf("%s\t%.4f\t%s\n", "ham", 0.0123, Escape(msg))
	// Output: ham	0.0123	Call now!\tspam\t1.0000\tforged row\n\x1b[31mred
}
