package data

import (
	"math"
	"testing"
)

func TestSplitSMSReal(t *testing.T) {
	msgs, err := LoadSMS(mirrorFile(t, "sms_spam/SMSSpamCollection"))
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []uint64{1, 42} {
		s, err := SplitSMS(msgs, SplitOptions{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		parts := [][]SMS{s.Train, s.Val, s.Test}
		if n := len(s.Train) + len(s.Val) + len(s.Test); n != 5574 {
			t.Fatalf("sizes sum to %d, want 5574", n)
		}
		t.Logf("seed %d: train %d, val %d, test %d", seed, len(s.Train), len(s.Val), len(s.Test))
		want := []float64{0.70, 0.15, 0.15}
		for _, label := range []int{Ham, Spam} {
			total := 0
			counts := make([]int, 3)
			for p, part := range parts {
				for _, m := range part {
					if m.Label == label {
						counts[p]++
						total++
					}
				}
			}
			for p := range 3 {
				if r := float64(counts[p]) / float64(total); math.Abs(r-want[p]) > 0.01 {
					t.Errorf("seed %d label %d part %d: ratio %.3f, want %.2f±0.01", seed, label, p, r, want[p])
				}
			}
			t.Logf("seed %d label %d: %v", seed, label, counts)
		}
		where := map[string]int{}
		for p, part := range parts {
			for _, m := range part {
				k := NormalizeText(m.Text)
				if q, ok := where[k]; ok && q != p {
					t.Fatalf("text %q in parts %d and %d", m.Text, q, p)
				}
				where[k] = p
			}
		}
	}
}

func TestSplitSMS(t *testing.T) {
	var msgs []SMS
	for i := range 100 {
		text := string(rune('a' + i%26))
		msgs = append(msgs, SMS{Label: i % 4 / 3, Text: text + " x", Line: i + 1})
	}
	tests := []struct {
		name string
		opt  SplitOptions
		err  bool
	}{
		{"default", SplitOptions{Seed: 3}, false},
		{"80/10/10", SplitOptions{Train: 8, Val: 1, Test: 1}, false},
		{"negative", SplitOptions{Train: -1}, true},
		{"nan", SplitOptions{Train: math.NaN()}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := SplitSMS(msgs, tc.opt)
			if tc.err {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Train)+len(s.Val)+len(s.Test) != len(msgs) {
				t.Fatal("sizes do not add up")
			}
			s2, _ := SplitSMS(msgs, tc.opt)
			if len(s2.Train) != len(s.Train) || s2.Train[0] != s.Train[0] {
				t.Error("not deterministic")
			}
		})
	}
}
