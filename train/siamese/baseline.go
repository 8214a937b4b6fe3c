package main

import (
	"math"

	"github.com/seqtorch/seqtorch/data"
)

// baseline scores pairs with no training: the cosine of the averaged word vectors of the two
// sentences (words without a vector are skipped). It returns the TEST scores with a linear
// calibration to 1–5 fitted on TRIAL (correlations do not depend on it).
func baseline(c *corpus, threshold float64) (trial, test scores, err error) {
	avg := func(s string) []float64 {
		out := make([]float64, c.vectors.Dim)
		n := 0
		for _, w := range c.tok.Tokenize(s) {
			if v, ok := c.vectors.Lookup(w); ok {
				for i, x := range v {
					out[i] += float64(x)
				}
				n++
			}
		}
		if n > 0 {
			for i := range out {
				out[i] /= float64(n)
			}
		}
		return out
	}
	cosines := func(pairs []data.Pair) (sims, gold []float64) {
		for _, p := range pairs {
			a, b := avg(p.A), avg(p.B)
			var dot, na, nb float64
			for i := range a {
				dot += a[i] * b[i]
				na += a[i] * a[i]
				nb += b[i] * b[i]
			}
			s := 0.0
			if na > 0 && nb > 0 {
				s = dot / math.Sqrt(na*nb)
			}
			sims = append(sims, s)
			gold = append(gold, p.Score)
		}
		return sims, gold
	}
	ts, tg := cosines(c.trial)
	cal := fitCalibration(ts, tg)
	apply := func(sims []float64) []float64 {
		out := make([]float64, len(sims))
		for i, s := range sims {
			out[i] = cal.apply(s)
		}
		return out
	}
	if trial, err = score(apply(ts), tg, math.NaN(), threshold); err != nil {
		return trial, test, err
	}
	xs, xg := cosines(c.test)
	test, err = score(apply(xs), xg, math.NaN(), threshold)
	return trial, test, err
}
