package data

import (
	"strings"
	"testing"
)

func TestAugmenter(t *testing.T) {
	wn, err := LoadWordNet("testdata/wordnet")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opt  AugmentOptions
		in   string
		want string
	}{
		{"synonym", AugmentOptions{WordNet: wn, SynonymRate: 1}, "A dog and a car", "A domestic dog and a auto"},
		{"max replace", AugmentOptions{WordNet: wn, SynonymRate: 1, MaxReplace: 1, Seed: 1}, "Car", "Auto"},
		{"stop words", AugmentOptions{WordNet: wn, StopWords: map[string]bool{"dog": true}}, "the dog", "the dog"},
		{"nothing", AugmentOptions{}, "a  dog", "a dog"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewAugmenter(tc.opt).Sentence(tc.in); got != tc.want {
				t.Errorf("Sentence(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	// Swap and delete keep the words (or a subset) and at least one word.
	a := NewAugmenter(AugmentOptions{SwapRate: 0.5, DeleteRate: 0.99, Seed: 3})
	for range 20 {
		got := strings.Fields(a.Sentence("one two three four"))
		if len(got) < 1 || len(got) > 4 {
			t.Fatalf("got %q", got)
		}
	}
}

func TestAugmentSICKReal(t *testing.T) {
	wn := realWordNet(t)
	pairs, err := LoadSICK(mirrorFile(t, "sick/SICK.txt"))
	if err != nil {
		t.Fatal(err)
	}
	train, _, _ := SplitSICK(pairs)
	opt := AugmentOptions{WordNet: wn, Seed: 1, SynonymRate: 0.3}
	aug := AugmentSICK(train, opt)
	t.Logf("augmented %d train pairs into %d new pairs (total %d)", len(train), len(aug), len(train)+len(aug))
	if len(aug) < len(train)/2 {
		t.Errorf("only %d augmented pairs from %d", len(aug), len(train))
	}
	byID := map[int]Pair{}
	for _, p := range train {
		byID[p.ID] = p
	}
	for _, q := range aug[:min(len(aug), 3)] {
		t.Logf("%d: %q / %q -> %q / %q", q.ID, byID[q.ID].A, byID[q.ID].B, q.A, q.B)
	}
	for _, q := range aug {
		p := byID[q.ID]
		if q.Score != p.Score || q.Label != p.Label || q.Split != p.Split {
			t.Fatalf("pair %d changed score/label/split", q.ID)
		}
	}
	again := AugmentSICK(train, opt)
	if len(again) != len(aug) || again[0] != aug[0] {
		t.Error("not deterministic")
	}
}
