package main

import (
	"fmt"
	"image/color"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/curves"
	"github.com/seqtorch/seqtorch/train/tsne"
)

// subjectSkip are the words skipped when looking for a sentence's subject noun.
var subjectSkip = data.KeepSet([]string{"a", "an", "the", "some", "two", "three", "four", "five", "several",
	"many", "one", "no", "there", "is", "are", "this", "that", "these", "those", "young", "little", "small",
	"big", "old", "large", "few", "nobody", "group", "of", "couple", "black", "white", "brown", "little", "tall",
	"person", "people"})

// subject returns a sentence's first word that is not a determiner, number or common
// adjective: in SICK's simple sentences this is the subject noun ("A man is playing" -> "man").
// Generic heads ("person", "people", "group of") are skipped to the next word.
func subject(tokens []string) string {
	for _, t := range tokens {
		if !subjectSkip[t] {
			return t
		}
	}
	return ""
}

// tsneTopSubjects is how many subject nouns get their own colour; the rest are "other".
const tsneTopSubjects = 8

// writeTSNE embeds the features of a seeded fraction of the distinct training sentences in
// 2-D and writes tsne.png (coloured by subject noun) and tsne.html (hover: the sentence).
// It returns the number of points and the cluster statistics of the map.
func writeTSNE(dir string, m *siamese.Model, c *corpus, frac float64, seed uint64, log io.Writer) (int, tsneStats, error) {
	seen := map[string]bool{}
	var sents []string
	for _, p := range c.train {
		for _, s := range []string{p.A, p.B} {
			if !seen[s] {
				seen[s] = true
				sents = append(sents, s)
			}
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x75e))
	r.Shuffle(len(sents), func(i, j int) { sents[i], sents[j] = sents[j], sents[i] })
	n := int(frac * float64(len(sents)))
	if n < 40 {
		n = min(len(sents), 40)
	}
	sents = sents[:n]
	feats, err := sentenceFeatures(m, c, sents)
	if err != nil {
		return 0, tsneStats{}, err
	}
	pts, err := tsne.Embed(feats, tsne.Options{Seed: seed, Perplexity: min(30, float64(n-1)/3)})
	if err != nil {
		return 0, tsneStats{}, err
	}
	// Colour by the most frequent subjects.
	subj := make([]string, n)
	count := map[string]int{}
	for i, s := range sents {
		subj[i] = subject(c.tok.Tokenize(s))
		count[subj[i]]++
	}
	top := make([]string, 0, len(count))
	for w := range count {
		top = append(top, w)
	}
	sort.Slice(top, func(i, j int) bool {
		if count[top[i]] != count[top[j]] {
			return count[top[i]] > count[top[j]]
		}
		return top[i] < top[j]
	})
	top = top[:min(tsneTopSubjects, len(top))]
	slices.Sort(top)
	pngCol := map[string]color.Color{"other": color.RGBA{0xcc, 0xcc, 0xcc, 0xff}}
	htmlCol := map[string]string{"other": "#cccccc"}
	for i, w := range top {
		pngCol[w] = curves.Colour(i)
		htmlCol[w] = curves.Hex(curves.Colour(i))
	}
	for i := range subj {
		if !slices.Contains(top, subj[i]) {
			subj[i] = "other"
		}
	}
	title := fmt.Sprintf("t-SNE of %d training sentences, coloured by subject noun", n)
	if err := curves.Scatter(filepath.Join(dir, "tsne.png"), title, pts, subj, pngCol); err != nil {
		return 0, tsneStats{}, err
	}
	if err := tsne.HTMLTitle(filepath.Join(dir, "tsne.html"), title, pts, subj, sents, htmlCol); err != nil {
		return 0, tsneStats{}, err
	}
	return n, neighbourAgreement(pts, subj, 10), nil
}

// tsneStats says how much the map clusters by subject noun.
type tsneStats struct {
	// Agreement is the fraction of the 10 nearest map neighbours of a point (with a top
	// subject) that share its subject; Chance is the same fraction for random neighbours.
	Agreement float64 `json:"tsne_knn_agreement"`
	Chance    float64 `json:"tsne_knn_chance"`
}

// neighbourAgreement computes tsneStats over the points whose label is not "other".
func neighbourAgreement(pts [][2]float64, labels []string, k int) tsneStats {
	count := map[string]int{}
	for _, l := range labels {
		count[l]++
	}
	var agree, total, chance float64
	n := len(pts)
	type nd struct {
		d float64
		j int
	}
	for i, li := range labels {
		if li == "other" {
			continue
		}
		ds := make([]nd, 0, n-1)
		for j := range pts {
			if j != i {
				dx, dy := pts[i][0]-pts[j][0], pts[i][1]-pts[j][1]
				ds = append(ds, nd{dx*dx + dy*dy, j})
			}
		}
		sort.Slice(ds, func(a, b int) bool { return ds[a].d < ds[b].d })
		for _, e := range ds[:min(k, len(ds))] {
			if labels[e.j] == li {
				agree++
			}
			total++
		}
		chance += float64(count[li]-1) / float64(n-1) * float64(min(k, len(ds)))
	}
	if total == 0 {
		return tsneStats{}
	}
	return tsneStats{Agreement: agree / total, Chance: chance / total}
}

// sentenceFeatures encodes sentences with the model (eval mode, no grad).
func sentenceFeatures(m *siamese.Model, c *corpus, sents []string) ([][]float64, error) {
	ex := make([]data.Example, len(sents))
	for i, s := range sents {
		ids := c.vocab.Encode(c.tok.Tokenize(s))
		if len(ids) == 0 {
			ids = []int64{data.UnkID}
		}
		ex[i] = data.Example{IDs: ids}
	}
	out := make([][]float64, len(sents))
	m.SetTraining(false)
	defer m.SetTraining(true)
	dev := m.Device()
	err := torch.Run(func() error {
		torch.NoGrad(func() {
			for b := range data.Batches(ex, data.BatchOptions{Size: 256}, 0) {
				torch.WithScope(func(*torch.Scope) {
					ids := torch.FromSlice(b.IDs, int64(b.B), int64(b.T)).To(dev)
					f := m.Encode(ids, b.Lengths).Features
					d := int(f.Size(1))
					v := f.ToDType(torch.Float64).Float64s()
					for k, i := range b.Index {
						out[i] = v[k*d : (k+1)*d]
					}
				})
			}
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sentence features: %w", err)
	}
	return out, nil
}
