// Package metrics computes classification, regression and ranking metrics
// from model predictions and ground-truth labels.
//
// Classification metrics take integer class indices (0..K-1). Regression
// and ranking metrics take float64 slices. All functions validate their
// input and return an error instead of panicking on bad input.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat"
)

// ErrLength is returned (wrapped) when two inputs differ in length.
var ErrLength = errors.New("metrics: length mismatch")

// ErrEmpty is returned (wrapped) when an input has no elements.
var ErrEmpty = errors.New("metrics: empty input")

// ErrLabel is returned (wrapped) when a class label is outside [0, K).
var ErrLabel = errors.New("metrics: label out of range")

// ErrUndefined is returned (wrapped) together with NaN when a metric is
// mathematically undefined for the input, e.g. a correlation of a
// constant series.
var ErrUndefined = errors.New("metrics: undefined for input")

func checkLen(a, b int) error {
	if a != b {
		return fmt.Errorf("%w: %d vs %d", ErrLength, a, b)
	}
	if a == 0 {
		return ErrEmpty
	}
	return nil
}

// Accuracy returns the fraction of positions where pred equals labels.
func Accuracy(pred, labels []int) (float64, error) {
	if err := checkLen(len(pred), len(labels)); err != nil {
		return 0, fmt.Errorf("accuracy: %w", err)
	}
	n := 0
	for i, p := range pred {
		if p == labels[i] {
			n++
		}
	}
	return float64(n) / float64(len(pred)), nil
}

// Confusion is a K x K confusion matrix. Counts[t][p] is the number of
// samples whose true class is t and whose predicted class is p.
type Confusion struct {
	Counts [][]int
}

// NewConfusion builds a confusion matrix for numClasses classes. Every
// prediction and label must lie in [0, numClasses).
func NewConfusion(pred, labels []int, numClasses int) (*Confusion, error) {
	if numClasses < 1 {
		return nil, fmt.Errorf("confusion matrix: numClasses %d < 1", numClasses)
	}
	if err := checkLen(len(pred), len(labels)); err != nil {
		return nil, fmt.Errorf("confusion matrix: %w", err)
	}
	c := &Confusion{Counts: make([][]int, numClasses)}
	for i := range c.Counts {
		c.Counts[i] = make([]int, numClasses)
	}
	for i, p := range pred {
		t := labels[i]
		if p < 0 || p >= numClasses || t < 0 || t >= numClasses {
			return nil, fmt.Errorf("confusion matrix: sample %d (pred %d, label %d, classes %d): %w",
				i, p, t, numClasses, ErrLabel)
		}
		c.Counts[t][p]++
	}
	return c, nil
}

// NumClasses returns K.
func (c *Confusion) NumClasses() int { return len(c.Counts) }

// Total returns the number of samples.
func (c *Confusion) Total() int {
	n := 0
	for _, row := range c.Counts {
		for _, v := range row {
			n += v
		}
	}
	return n
}

// Accuracy returns the trace divided by the total, or 0 for an empty matrix.
func (c *Confusion) Accuracy() float64 {
	tot := c.Total()
	if tot == 0 {
		return 0
	}
	tr := 0
	for i := range c.Counts {
		tr += c.Counts[i][i]
	}
	return float64(tr) / float64(tot)
}

// counts returns true positives, false positives and false negatives for
// class k, treating k as the positive class.
func (c *Confusion) counts(k int) (tp, fp, fn int) {
	tp = c.Counts[k][k]
	for j := range c.Counts {
		if j == k {
			continue
		}
		fp += c.Counts[j][k]
		fn += c.Counts[k][j]
	}
	return tp, fp, fn
}

// PRF returns precision, recall and F1 treating class positive as the
// positive class. A ratio whose denominator is zero is reported as 0
// (scikit-learn's zero_division=0 convention).
func (c *Confusion) PRF(positive int) (precision, recall, f1 float64, err error) {
	if positive < 0 || positive >= len(c.Counts) {
		return 0, 0, 0, fmt.Errorf("precision/recall: positive class %d of %d: %w",
			positive, len(c.Counts), ErrLabel)
	}
	tp, fp, fn := c.counts(positive)
	precision = safeDiv(float64(tp), float64(tp+fp))
	recall = safeDiv(float64(tp), float64(tp+fn))
	f1 = safeDiv(2*float64(tp), float64(2*tp+fp+fn))
	return precision, recall, f1, nil
}

// MCC returns the Matthews correlation coefficient, using Gorodkin's
// multiclass generalisation (identical to the binary formula for K=2).
// It returns 0 when the denominator is zero, as scikit-learn does.
func (c *Confusion) MCC() float64 {
	k := len(c.Counts)
	t := make([]float64, k) // true-class totals (row sums)
	p := make([]float64, k) // predicted-class totals (column sums)
	var correct, s float64
	for i := range k {
		for j := range k {
			v := float64(c.Counts[i][j])
			t[i] += v
			p[j] += v
			s += v
		}
		correct += float64(c.Counts[i][i])
	}
	var tp, tt, pp float64
	for i := range k {
		tp += t[i] * p[i]
		tt += t[i] * t[i]
		pp += p[i] * p[i]
	}
	den := math.Sqrt(s*s-pp) * math.Sqrt(s*s-tt)
	if den == 0 {
		return 0
	}
	return (correct*s - tp) / den
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// numClasses returns 1 + the largest value in a or b, or an error if any
// value is negative.
func numClasses(a, b []int) (int, error) {
	m := -1
	for _, s := range [][]int{a, b} {
		for i, v := range s {
			if v < 0 {
				return 0, fmt.Errorf("index %d has class %d: %w", i, v, ErrLabel)
			}
			m = max(m, v)
		}
	}
	return m + 1, nil
}

// PrecisionRecallF1 returns precision, recall and F1 of class positive.
// Classes are inferred as 0..max(pred, labels, positive).
func PrecisionRecallF1(pred, labels []int, positive int) (precision, recall, f1 float64, err error) {
	k, err := numClasses(pred, labels)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("precision/recall: %w", err)
	}
	if positive < 0 {
		return 0, 0, 0, fmt.Errorf("precision/recall: positive class %d: %w", positive, ErrLabel)
	}
	c, err := NewConfusion(pred, labels, max(k, positive+1))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("precision/recall: %w", err)
	}
	return c.PRF(positive)
}

// MCC returns the Matthews correlation coefficient of pred against
// labels. Classes are inferred as 0..max(pred, labels).
func MCC(pred, labels []int) (float64, error) {
	k, err := numClasses(pred, labels)
	if err != nil {
		return 0, fmt.Errorf("mcc: %w", err)
	}
	c, err := NewConfusion(pred, labels, max(k, 1))
	if err != nil {
		return 0, fmt.Errorf("mcc: %w", err)
	}
	return c.MCC(), nil
}

// MSE returns the mean squared error between pred and target.
func MSE(pred, target []float64) (float64, error) {
	if err := checkLen(len(pred), len(target)); err != nil {
		return 0, fmt.Errorf("mse: %w", err)
	}
	var s float64
	for i, p := range pred {
		d := p - target[i]
		s += d * d
	}
	return s / float64(len(pred)), nil
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of x by linear interpolation between the closest
// ranks: NumPy's default (numpy.quantile, method "linear"), so that Go and Python report
// percentiles the same way. x is not reordered.
func Quantile(x []float64, q float64) (float64, error) {
	if len(x) == 0 {
		return math.NaN(), fmt.Errorf("quantile: %w", ErrEmpty)
	}
	if !(q >= 0 && q <= 1) {
		return math.NaN(), fmt.Errorf("quantile: q = %v, want 0 ≤ q ≤ 1", q)
	}
	s := slices.Clone(x)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo, hi := int(math.Floor(pos)), int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo)), nil
}

func isConstant(x []float64) bool {
	for _, v := range x[1:] {
		if v != x[0] {
			return false
		}
	}
	return true
}

// Pearson returns Pearson's product-moment correlation of x and y. If
// either series is constant (or has fewer than two elements) the
// correlation is undefined and NaN is returned with ErrUndefined.
func Pearson(x, y []float64) (float64, error) {
	if err := checkLen(len(x), len(y)); err != nil {
		return math.NaN(), fmt.Errorf("pearson: %w", err)
	}
	if len(x) < 2 || isConstant(x) || isConstant(y) {
		return math.NaN(), fmt.Errorf("pearson: constant or single-element input: %w", ErrUndefined)
	}
	return stat.Correlation(x, y, nil), nil
}

// Spearman returns Spearman's rank correlation of x and y: the Pearson
// correlation of their ranks, with tied values given the average of the
// ranks they span. NaN and ErrUndefined are returned for constant input.
func Spearman(x, y []float64) (float64, error) {
	if err := checkLen(len(x), len(y)); err != nil {
		return math.NaN(), fmt.Errorf("spearman: %w", err)
	}
	r, err := Pearson(Rank(x), Rank(y))
	if err != nil {
		return math.NaN(), fmt.Errorf("spearman: %w", err)
	}
	return r, nil
}

// Rank returns the 1-based ranks of x, assigning tied values the mean of
// the ranks they occupy (the "average" method of scipy.stats.rankdata).
func Rank(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && x[idx[j]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		i = j
	}
	return r
}
