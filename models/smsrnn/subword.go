package smsrnn

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// Character n-grams of a word ("subwords", as fastText's; Bojanowski et al. 2017): the
// n-grams of SubwordMinN to SubwordMaxN characters of "<word>", hashed into Config.Subwords
// buckets. With Config.Subwords > 0 the model adds the mean of a word's n-gram embeddings to
// its own embedding, so that rare spellings share what their parts learned ("txt", "txts",
// "TXTing").
const (
	SubwordMinN = 3
	SubwordMaxN = 5
)

// SubwordIDs returns the bucket ids, 1..buckets, of word's character n-grams (FNV-1a of the
// n-gram's UTF-8 bytes, modulo buckets, plus 1: id 0 is the padding row). Tokens written as
// "<...>" (padding, unknown and placeholder tokens) have none.
func SubwordIDs(word string, buckets int64) []int64 {
	if buckets < 1 || word == "" || strings.HasPrefix(word, "<") && strings.HasSuffix(word, ">") {
		return nil
	}
	r := []rune("<" + word + ">")
	var ids []int64
	for n := SubwordMinN; n <= SubwordMaxN; n++ {
		for i := 0; i+n <= len(r); i++ {
			h := fnv.New32a()
			h.Write([]byte(string(r[i : i+n])))
			ids = append(ids, int64(h.Sum32()%uint32(buckets))+1)
		}
	}
	return ids
}

// SetWords gives a model with Config.Subwords the words of its vocabulary (words[i] is token
// id i), from which Forward finds each token's n-grams. It must be called once after New and
// before Forward, not concurrently with it; a model without subwords ignores it.
func (m *Model) SetWords(words []string) error {
	if m.Config.Subwords == 0 {
		return nil
	}
	if int64(len(words)) != m.Config.Vocab {
		return fmt.Errorf("smsrnn: %d words for a vocabulary of %d", len(words), m.Config.Vocab)
	}
	grams := make([][]int64, len(words))
	k := 1
	for i, w := range words {
		grams[i] = SubwordIDs(w, m.Config.Subwords)
		k = max(k, len(grams[i]))
	}
	table := make([]int64, len(words)*k) // padded with 0, the zero row
	inv := make([]float32, len(words))   // 1 / number of n-grams (0: none)
	for i, g := range grams {
		copy(table[i*k:], g)
		if len(g) > 0 {
			inv[i] = 1 / float32(len(g))
		}
	}
	return torch.Try(func() {
		m.subIDs.Close()
		m.subScale.Close()
		m.subIDs = torch.FromSlice(table, int64(len(words)), int64(k))
		m.subScale = torch.FromSlice(inv, int64(len(words)), 1)
		torch.Unscope(m.subIDs, m.subScale) // they live as long as the model (Close)
	})
}

// addSubwords returns x (B, T, E), the embeddings of ids (B, T), plus the mean embedding of
// each token's n-grams. It runs inside Forward's scope.
func (m *Model) addSubwords(x, ids *torch.Tensor) *torch.Tensor {
	if m.subIDs == nil {
		panic(&torch.Error{Op: "smsrnn.Forward", Msg: "a model with subwords needs SetWords before Forward"})
	}
	b, t := ids.Size(0), ids.Size(1)
	flat := ids.Reshape(b * t)
	table, scale := m.subIDs, m.subScale
	if dev := ids.Device(); dev != table.Device() {
		table, scale = table.To(dev), scale.To(dev)
	}
	grams := m.Subword.Forward(table.IndexSelect(0, flat)) // (B·T, K, E); padding rows are 0
	mean := grams.SumDim(false, 1).Mul(scale.IndexSelect(0, flat))
	return x.Add(mean.Reshape(b, t, m.Config.Embed))
}

// newSubword builds the n-gram embedding table: Subwords + 1 rows (row 0 is the padding), all
// zero, so a new model starts as one without subwords. Built after the other modules, its
// initialisation draws leave theirs as a model without subwords has them.
func newSubword(cfg Config) *nn.Embedding {
	pad := int64(0)
	e := nn.NewEmbedding(cfg.Subwords+1, cfg.Embed, nn.EmbeddingOptions{PaddingIdx: &pad})
	torch.NoGrad(func() { e.Weight.Fill(0) })
	return e
}
