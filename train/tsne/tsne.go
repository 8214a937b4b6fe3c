// Package tsne embeds high-dimensional points in two dimensions with
// t-distributed stochastic neighbour embedding (van der Maaten & Hinton,
// 2008).
//
// Small inputs use exact t-SNE (O(N²) per iteration); larger inputs use
// the Barnes-Hut approximation (van der Maaten, 2014) with sparse
// input similarities over the 3·perplexity nearest neighbours and a
// quadtree for the repulsive forces. The optimiser follows the reference
// bhtsne implementation: early exaggeration, momentum switching, and
// per-coordinate adaptive gains. Results are deterministic for a given
// seed, independent of the number of worker goroutines.
package tsne

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Method selects the gradient algorithm.
type Method int

const (
	// Auto uses Exact when N <= Options.ExactMaxN and BarnesHut otherwise.
	Auto Method = iota
	// Exact computes all N² pairwise interactions.
	Exact
	// BarnesHut approximates the gradient in O(N log N).
	BarnesHut
)

// String returns the method's name.
func (m Method) String() string {
	switch m {
	case Auto:
		return "auto"
	case Exact:
		return "exact"
	case BarnesHut:
		return "barnes-hut"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// maxExactN bounds the input size of exact t-SNE, whose dense N×N
// similarity matrix would otherwise exhaust memory.
const maxExactN = 15000

// Options configures Embed. The zero value gives the reference defaults.
type Options struct {
	// Perplexity is the effective number of neighbours (default 30).
	Perplexity float64
	// Theta is the Barnes-Hut accuracy trade-off (default 0.5); smaller
	// is more accurate and slower.
	Theta float64
	// MaxIter is the number of gradient-descent iterations (default 1000).
	MaxIter int
	// LearningRate is the step size; the default is max(200, N/12).
	LearningRate float64
	// EarlyExaggeration multiplies the input similarities during the
	// first ExaggerationIter iterations (defaults 12 and 250).
	EarlyExaggeration float64
	// ExaggerationIter is the number of exaggerated iterations.
	ExaggerationIter int
	// MomentumSwitchIter is the iteration at which momentum switches
	// from 0.5 to 0.8 (default 250).
	MomentumSwitchIter int
	// Method selects exact or Barnes-Hut gradients (default Auto).
	Method Method
	// ExactMaxN is the largest N for which Auto picks Exact (default 1000).
	ExactMaxN int
	// Seed seeds the random initial layout.
	Seed uint64
	// Workers is the number of goroutines (default GOMAXPROCS).
	Workers int
	// Progress, if set, is called every 50 iterations and after the last
	// with the iteration count and the current KL divergence (for
	// Barnes-Hut, an estimate).
	Progress func(iter int, kl float64)
}

func (o Options) withDefaults(n int) Options {
	if o.Perplexity == 0 {
		o.Perplexity = 30
	}
	if o.Theta == 0 {
		o.Theta = 0.5
	}
	if o.MaxIter == 0 {
		o.MaxIter = 1000
	}
	if o.LearningRate == 0 {
		o.LearningRate = max(200, float64(n)/12)
	}
	if o.EarlyExaggeration == 0 {
		o.EarlyExaggeration = 12
	}
	if o.ExaggerationIter == 0 {
		o.ExaggerationIter = 250
	}
	if o.MomentumSwitchIter == 0 {
		o.MomentumSwitchIter = 250
	}
	if o.ExactMaxN == 0 {
		o.ExactMaxN = 1000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Method == Auto {
		o.Method = BarnesHut
		if n <= o.ExactMaxN {
			o.Method = Exact
		}
	}
	return o
}

func (o Options) validate(n int) error {
	switch {
	case math.IsNaN(o.Perplexity) || o.Perplexity <= 0:
		return fmt.Errorf("perplexity %v must be positive", o.Perplexity)
	case o.Perplexity >= float64(n):
		return fmt.Errorf("perplexity %v must be less than the number of points %d", o.Perplexity, n)
	case math.IsNaN(o.Theta) || o.Theta < 0:
		return fmt.Errorf("theta %v must be non-negative", o.Theta)
	case o.MaxIter < 0:
		return fmt.Errorf("max iterations %d must be non-negative", o.MaxIter)
	case math.IsNaN(o.LearningRate) || o.LearningRate <= 0:
		return fmt.Errorf("learning rate %v must be positive", o.LearningRate)
	case math.IsNaN(o.EarlyExaggeration) || o.EarlyExaggeration <= 0:
		return fmt.Errorf("early exaggeration %v must be positive", o.EarlyExaggeration)
	case o.Method != Exact && o.Method != BarnesHut:
		return fmt.Errorf("unknown method %v", o.Method)
	case o.Method == Exact && n > maxExactN:
		return fmt.Errorf("exact t-SNE of %d points exceeds the limit of %d; use BarnesHut", n, maxExactN)
	}
	return nil
}

// Embed returns a 2-D t-SNE embedding of the rows of x. All rows must
// have the same positive length and finite values, and there must be
// more points than the perplexity.
func Embed(x [][]float64, opt Options) ([][2]float64, error) {
	n := len(x)
	if n < 2 {
		return nil, fmt.Errorf("tsne: need at least 2 points, got %d", n)
	}
	data, d, err := normalize(x)
	if err != nil {
		return nil, fmt.Errorf("tsne: %w", err)
	}
	opt = opt.withDefaults(n)
	if err := opt.validate(n); err != nil {
		return nil, fmt.Errorf("tsne: %w", err)
	}

	var g gradienter
	if opt.Method == Exact {
		g = newExact(data, n, d, opt.Perplexity, opt.Workers)
	} else {
		g = newBarnesHut(data, n, d, opt.Perplexity, opt.Theta, opt.Workers)
	}

	rng := rand.New(rand.NewPCG(opt.Seed, 0x7473_6e65)) // "tsne"
	y := make([]float64, 2*n)
	for i := range y {
		y[i] = rng.NormFloat64() * 1e-4
	}
	optimize(y, g, opt)

	out := make([][2]float64, n)
	for i := range out {
		out[i] = [2]float64{y[2*i], y[2*i+1]}
	}
	return out, nil
}

// normalize copies x into a flat row-major slice, centres each column and
// scales by the largest absolute value, as the reference implementation
// does. It rejects ragged, empty or non-finite input.
func normalize(x [][]float64) ([]float64, int, error) {
	d := len(x[0])
	if d == 0 {
		return nil, 0, errors.New("points have zero dimensions")
	}
	n := len(x)
	data := make([]float64, n*d)
	mean := make([]float64, d)
	for i, row := range x {
		if len(row) != d {
			return nil, 0, fmt.Errorf("row %d has %d values, want %d", i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, 0, fmt.Errorf("row %d column %d is %v", i, j, v)
			}
			data[i*d+j] = v
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	var m float64
	for i := range n {
		for j := range d {
			data[i*d+j] -= mean[j]
			m = max(m, math.Abs(data[i*d+j]))
		}
	}
	if m > 0 {
		for i := range data {
			data[i] /= m
		}
	}
	return data, d, nil
}

// gradienter computes the t-SNE gradient of layout y (flat, 2 per point)
// into grad, with the input similarities multiplied by exag, and returns
// the (estimated) KL divergence when wantCost is set.
type gradienter interface {
	gradient(y, grad []float64, exag float64, wantCost bool) float64
}

func optimize(y []float64, g gradienter, opt Options) {
	n := len(y) / 2
	grad := make([]float64, 2*n)
	update := make([]float64, 2*n)
	gains := make([]float64, 2*n)
	for i := range gains {
		gains[i] = 1
	}
	momentum := 0.5
	exag := opt.EarlyExaggeration
	for iter := range opt.MaxIter {
		if iter == opt.ExaggerationIter {
			exag = 1
		}
		if iter == opt.MomentumSwitchIter {
			momentum = 0.8
		}
		report := opt.Progress != nil && ((iter+1)%50 == 0 || iter == opt.MaxIter-1)
		cost := g.gradient(y, grad, exag, report)
		for k := range y {
			if (grad[k] > 0) != (update[k] > 0) {
				gains[k] += 0.2
			} else {
				gains[k] *= 0.8
			}
			gains[k] = max(gains[k], 0.01)
			update[k] = momentum*update[k] - opt.LearningRate*gains[k]*grad[k]
			y[k] += update[k]
		}
		center(y)
		if report {
			opt.Progress(iter+1, cost)
		}
	}
}

func center(y []float64) {
	n := len(y) / 2
	var mx, my float64
	for i := range n {
		mx += y[2*i]
		my += y[2*i+1]
	}
	mx /= float64(n)
	my /= float64(n)
	for i := range n {
		y[2*i] -= mx
		y[2*i+1] -= my
	}
}

// calibrate fills p with the conditional probabilities p(j|i) for the
// squared distances d so that their perplexity is perp, using the
// reference binary search over the Gaussian precision beta.
func calibrate(d, p []float64, perp float64) {
	logU := math.Log(perp)
	dmin := math.Inf(1)
	for _, v := range d {
		dmin = min(dmin, v)
	}
	beta := 1.0
	lo, hi := math.Inf(-1), math.Inf(1)
	var sum float64
	for range 200 {
		sum = 0
		var dp float64
		for k, v := range d {
			e := math.Exp(-beta * (v - dmin))
			p[k] = e
			sum += e
			dp += (v - dmin) * e
		}
		h := math.Log(sum) + beta*dp/sum
		diff := h - logU
		if math.Abs(diff) < 1e-5 {
			break
		}
		if diff > 0 {
			lo = beta
			if math.IsInf(hi, 1) {
				beta *= 2
			} else {
				beta = (beta + hi) / 2
			}
		} else {
			hi = beta
			if math.IsInf(lo, -1) {
				beta /= 2
			} else {
				beta = (beta + lo) / 2
			}
		}
	}
	for k := range p {
		p[k] /= sum
	}
}

// parallel runs f over [0, n) split into contiguous chunks, one per
// worker, and waits for all of them.
func parallel(n, workers int, f func(lo, hi int)) {
	workers = max(1, min(workers, n))
	if workers == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

func sqDist(a, b []float64) float64 {
	var s float64
	for k, v := range a {
		t := v - b[k]
		s += t * t
	}
	return s
}

// kl returns sum p*log(p/q) for one pair, treating 0*log 0 as 0.
func kl(p, q float64) float64 {
	if p <= 0 {
		return 0
	}
	return p * math.Log(p/max(q, 1e-300))
}
