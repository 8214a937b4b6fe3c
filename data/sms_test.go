package data

import (
	"strings"
	"testing"
)

func TestReadSMS(t *testing.T) {
	tests := []struct {
		name, in string
		want     []SMS
		err      string
	}{
		{"ok", "ham\tHi &lt;#&gt; &amp; bye\nspam\tWIN £100\n", []SMS{{Ham, "Hi <#> & bye", 1}, {Spam, "WIN £100", 2}}, ""},
		{"crlf and blank lines", "ham\ta\r\n\r\nspam\tb", []SMS{{Ham, "a", 1}, {Spam, "b", 3}}, ""},
		{"empty", "", nil, ""},
		{"bad label", "ham\tok\nhm\tx\n", nil, `f:2: want "ham" or "spam", got "hm"`},
		{"no tab", "ham hello\n", nil, "f:1: want 2 tab-separated columns (label, text), got 1"},
		{"two tabs", "ham\ta\tb\n", nil, "f:1: want 2 tab-separated columns (label, text), got 3"},
		{"bad utf8", "ham\tab\xffc\n", nil, "f:1: invalid UTF-8 at byte 6 of the line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSMS(strings.NewReader(tc.in), "f")
			if checkErr(t, err, tc.err, false) {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d records, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("record %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestLoadSMSReal(t *testing.T) {
	msgs, err := LoadSMS(mirrorFile(t, "sms_spam/SMSSpamCollection"))
	if err != nil {
		t.Fatal(err)
	}
	spam := 0
	for _, m := range msgs {
		spam += m.Label
		if strings.Contains(m.Text, "&lt;") || strings.Contains(m.Text, "&amp;") {
			t.Fatalf("line %d: entity not decoded: %q", m.Line, m.Text)
		}
	}
	if len(msgs) != 5574 || spam != 747 {
		t.Errorf("got %d messages, %d spam; want 5574, 747", len(msgs), spam)
	}
}
