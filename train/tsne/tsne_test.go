package tsne

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// clusters returns n points in d dimensions drawn from k unit Gaussians
// whose centres are sep apart along distinct axes, with their labels.
func clusters(n, d, k int, sep float64, seed uint64) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([][]float64, n)
	labels := make([]int, n)
	for i := range x {
		c := i % k
		labels[i] = c
		x[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = rng.NormFloat64()
		}
		x[i][c%d] += sep
	}
	return x, labels
}

// nnAgreement returns the fraction of points whose nearest neighbour in
// the embedding has the same label.
func nnAgreement(y [][2]float64, labels []int) float64 {
	agree := 0
	for i := range y {
		best, bd := -1, math.Inf(1)
		for j := range y {
			if j == i {
				continue
			}
			dx, dy := y[i][0]-y[j][0], y[i][1]-y[j][1]
			if d := dx*dx + dy*dy; d < bd {
				best, bd = j, d
			}
		}
		if labels[best] == labels[i] {
			agree++
		}
	}
	return float64(agree) / float64(len(y))
}

func TestEmbedSeparatesClusters(t *testing.T) {
	tests := []struct {
		name string
		n, k int
		opt  Options
	}{
		{"exact two clusters", 200, 2, Options{Seed: 1}},
		{"exact three clusters", 150, 3, Options{Seed: 2, Perplexity: 10, Workers: 1}},
		{"barnes-hut two clusters", 600, 2, Options{Seed: 3, Method: BarnesHut, MaxIter: 500}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, labels := clusters(tc.n, 50, tc.k, 10, 42)
			var last float64
			calls := 0
			tc.opt.Progress = func(iter int, kl float64) { calls++; last = kl }
			y, err := Embed(x, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(y) != tc.n {
				t.Fatalf("got %d points, want %d", len(y), tc.n)
			}
			for i, p := range y {
				if math.IsNaN(p[0]) || math.IsNaN(p[1]) {
					t.Fatalf("point %d is NaN", i)
				}
			}
			if a := nnAgreement(y, labels); a < 0.95 {
				t.Errorf("nearest-neighbour label agreement %.3f < 0.95", a)
			}
			if calls == 0 || last <= 0 || math.IsNaN(last) {
				t.Errorf("progress: %d calls, last KL %v", calls, last)
			}
		})
	}
}

func TestEmbedDeterministic(t *testing.T) {
	x, _ := clusters(120, 10, 2, 5, 7)
	for _, m := range []Method{Exact, BarnesHut} {
		t.Run(m.String(), func(t *testing.T) {
			a, err := Embed(x, Options{Seed: 9, Method: m, Perplexity: 10, MaxIter: 100, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			b, err := Embed(x, Options{Seed: 9, Method: m, Perplexity: 10, MaxIter: 100, Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("point %d differs: %v vs %v", i, a[i], b[i])
				}
			}
		})
	}
}

func TestEmbedDuplicatePoints(t *testing.T) {
	x := make([][]float64, 60)
	for i := range x {
		x[i] = []float64{float64(i % 2), 1}
	}
	for _, m := range []Method{Exact, BarnesHut} {
		t.Run(m.String(), func(t *testing.T) {
			y, err := Embed(x, Options{Method: m, Perplexity: 5, MaxIter: 300})
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range y {
				if math.IsNaN(p[0]) || math.IsInf(p[0], 0) || math.IsNaN(p[1]) || math.IsInf(p[1], 0) {
					t.Fatalf("point %d = %v", i, p)
				}
			}
		})
	}
}

func TestEmbedErrors(t *testing.T) {
	ok := [][]float64{{0, 1}, {1, 0}, {1, 1}, {0, 0}, {2, 2}}
	tests := []struct {
		name string
		x    [][]float64
		opt  Options
		want string
	}{
		{"empty", nil, Options{}, "at least 2"},
		{"one point", [][]float64{{1}}, Options{}, "at least 2"},
		{"zero dims", [][]float64{{}, {}}, Options{}, "zero dimensions"},
		{"ragged", [][]float64{{1, 2}, {1}}, Options{}, "row 1"},
		{"nan", [][]float64{{1, math.NaN()}, {1, 2}}, Options{}, "NaN"},
		{"inf", [][]float64{{1, 2}, {math.Inf(1), 2}}, Options{}, "+Inf"},
		{"perplexity too large", ok, Options{}, "perplexity"},
		{"negative perplexity", ok, Options{Perplexity: -1}, "perplexity"},
		{"negative theta", ok, Options{Perplexity: 2, Theta: -1}, "theta"},
		{"negative iterations", ok, Options{Perplexity: 2, MaxIter: -1}, "iterations"},
		{"bad method", ok, Options{Perplexity: 2, Method: Method(7)}, "method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Embed(tc.x, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
}

func TestCalibratePerplexity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := make([]float64, 200)
	for i := range d {
		d[i] = rng.Float64() * 50
	}
	p := make([]float64, len(d))
	for _, perp := range []float64{5, 30, 100} {
		calibrate(d, p, perp)
		var h, s float64
		for _, v := range p {
			s += v
			if v > 0 {
				h -= v * math.Log(v)
			}
		}
		if math.Abs(s-1) > 1e-9 || math.Abs(math.Exp(h)-perp) > 1e-3*perp {
			t.Errorf("perplexity %v: sum %v, got perplexity %v", perp, s, math.Exp(h))
		}
	}
}

// BenchmarkBarnesHut3000 embeds N=3000 points of D=100 with the default
// options (Barnes-Hut, 1000 iterations).
func BenchmarkBarnesHut3000(b *testing.B) {
	x, _ := clusters(3000, 100, 10, 5, 1)
	for b.Loop() {
		if _, err := Embed(x, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExact1000 embeds N=1000 points of D=100 with exact t-SNE.
func BenchmarkExact1000(b *testing.B) {
	x, _ := clusters(1000, 100, 10, 5, 1)
	for b.Loop() {
		if _, err := Embed(x, Options{Seed: 1, Method: Exact}); err != nil {
			b.Fatal(err)
		}
	}
}
