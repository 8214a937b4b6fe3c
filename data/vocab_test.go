package data

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuildVocab(t *testing.T) {
	docs := [][]string{{"b", "a", "c", "a"}, {"b", "d", "a", "<pad>", "has space"}}
	tests := []struct {
		name string
		opt  VocabOptions
		want []string
	}{
		{"all", VocabOptions{}, []string{"<pad>", "<unk>", "a", "b", "c", "d"}},
		{"min count", VocabOptions{MinCount: 2}, []string{"<pad>", "<unk>", "a", "b"}},
		{"max size", VocabOptions{MaxSize: 3}, []string{"<pad>", "<unk>", "a"}},
		{"tiny max", VocabOptions{MaxSize: 1}, []string{"<pad>", "<unk>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := BuildVocab(docs, tc.opt)
			if !slices.Equal(v.Tokens(), tc.want) {
				t.Errorf("tokens = %q, want %q", v.Tokens(), tc.want)
			}
		})
	}
	v := BuildVocab(docs, VocabOptions{})
	ids := v.Encode([]string{"a", "zzz", "d"})
	if !slices.Equal(ids, []int64{2, UnkID, 5}) {
		t.Errorf("Encode = %v", ids)
	}
	if got := v.Decode([]int64{0, 2, 99, -1}); !slices.Equal(got, []string{"<pad>", "a", "<unk>", "<unk>"}) {
		t.Errorf("Decode = %q", got)
	}
	if v.Count(2) != 3 || v.ID("b") != 3 || !v.Has("c") || v.Has("zzz") {
		t.Error("Count/ID/Has wrong")
	}
}

func TestVocabSaveLoad(t *testing.T) {
	v := BuildVocab([][]string{{"x", "y", "y", "£", "n't"}}, VocabOptions{})
	path := filepath.Join(t.TempDir(), "vocab.txt")
	if err := v.Save(path); err != nil {
		t.Fatal(err)
	}
	w, err := LoadVocab(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.Tokens(), w.Tokens()) || w.Count(w.ID("y")) != 2 {
		t.Errorf("round trip: %q vs %q", v.Tokens(), w.Tokens())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestReadVocabErrors(t *testing.T) {
	tests := []struct{ name, in, err string }{
		{"empty", "", `v:0: want at least the lines "<pad>" and "<unk>"`},
		{"no pad", "a\t1\n", `v:1: want "<pad>", got "a"`},
		{"dup", "<pad>\n<unk>\na\na\n", `v:4: duplicate token "a"`},
		{"count", "<pad>\t0\n<unk>\tx\n", `v:2: want token<TAB>count`},
		{"space", "<pad>\n<unk>\na b\n", `v:3: want a non-empty token without white space`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadVocab(strings.NewReader(tc.in), "v")
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("err = %v, want prefix %q", err, tc.err)
			}
		})
	}
}
