package smsrnn

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func TestSubwordIDs(t *testing.T) {
	cases := []struct {
		word    string
		buckets int64
		n       int // n-grams of 3..5 characters of "<word>"
	}{
		{"u", 100, 1},           // "<u>"
		{"txt", 100, 3 + 2 + 1}, // "<txt>": 3 of 3, 2 of 4, 1 of 5
		{"£100", 7, 4 + 3 + 2},  // runes, not bytes
		{"<unk>", 100, 0},       // special tokens have none
		{"<money>", 100, 0},
		{"txt", 0, 0},
	}
	for _, c := range cases {
		ids := SubwordIDs(c.word, c.buckets)
		if len(ids) != c.n {
			t.Errorf("%q: %d n-grams %v, want %d", c.word, len(ids), ids, c.n)
		}
		for _, id := range ids {
			if id < 1 || id > c.buckets {
				t.Errorf("%q: bucket %d outside 1..%d", c.word, id, c.buckets)
			}
		}
	}
	if !slices.Equal(SubwordIDs("txts", 1000)[:2], SubwordIDs("txt", 1000)[:2]) {
		t.Error(`"txt" and "txts" do not share "<tx" and "txt"`)
	}
}

// TestSubwords: a model with subwords starts as the same model without them (zero n-gram
// rows, the other weights drawn as before), needs SetWords, and adds the mean n-gram row.
func TestSubwords(t *testing.T) {
	torchtest.CheckLive(t)
	base := configs()["gru-bi-max"]
	words := make([]string, base.Vocab)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	words[0], words[1] = "<pad>", "<unk>"
	with := base
	with.Subwords = 11
	torch.ManualSeed(5)
	plain, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	torch.ManualSeed(5)
	m, err := New(with)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, want := m.NamedParameters(), ParamShapes(with)
	if len(got) != len(want) || want[len(want)-1].Name != "subword.weight" || !slices.Equal(want[len(want)-1].Shape, []int64{12, base.Embed}) {
		t.Fatalf("ParamShapes %v", want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Value.Shape(), want[i].Shape) {
			t.Errorf("param %d: %s %v, want %s %v", i, got[i].Name, got[i].Value.Shape(), want[i].Name, want[i].Shape)
		}
	}
	plain.SetTraining(false)
	m.SetTraining(false)
	ids := []int64{5, 6, 1, 0, 9, 3, 4, 2}
	lengths := []int64{3, 4}
	forward := func(m *Model) []float32 {
		var out []float32
		torch.WithScope(func(*torch.Scope) {
			l := m.Forward(torch.FromSlice(ids, 2, 4), lengths)
			out = l.Float32s()
		})
		return out
	}
	torch.WithScope(func(*torch.Scope) {
		if err := torch.Try(func() { m.Forward(torch.FromSlice(ids, 2, 4), lengths) }); err == nil || !strings.Contains(err.Error(), "SetWords") {
			t.Errorf("Forward before SetWords: %v", err)
		}
	})
	if err := m.SetWords(words[:3]); err == nil {
		t.Error("SetWords with 3 words for a vocabulary of 50 succeeded")
	}
	if err := m.SetWords(words); err != nil {
		t.Fatal(err)
	}
	if a, b := forward(plain), forward(m); !slices.Equal(a, b) {
		t.Errorf("zero n-gram rows change the logits: %v, %v", a, b)
	}
	// Rows of ones: every word with n-grams gains exactly 1 per dimension (their mean), <unk>
	// none; the embedding of the plain model shifted the same way gives the same logits.
	torch.WithScope(func(*torch.Scope) { // the views belong to the scope
		torch.NoGrad(func() {
			m.Subword.Weight.Fill(1)
			m.Subword.Weight.Narrow(0, 0, 1).Fill(0)
			plain.Embedding.Weight.Narrow(0, 2, base.Vocab-2).AddScalarInPlace(1)
		})
	})
	a, b := forward(plain), forward(m)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			t.Fatalf("logits with n-gram rows of ones %v, with the embedding shifted by one %v", b, a)
		}
	}
}
