package main

import (
	"math"

	"github.com/seqtorch/seqtorch/train/metrics"
)

// median returns the median of xs (the mean of the two middle values for an even count), or
// NaN for an empty slice.
func median(xs []float64) float64 {
	m, err := metrics.Quantile(xs, 0.5)
	if err != nil {
		return math.NaN()
	}
	return m
}
