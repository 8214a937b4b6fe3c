package main

import (
	"math"
	"testing"
)

// TestMedian checks the bench's median: the mean of the two middle values for an even count,
// NaN when nothing was measured (the interpolation itself is tested in train/metrics).
func TestMedian(t *testing.T) {
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of an even count = %v, want 2.5", got)
	}
	if got := median([]float64{7, 1, 3, 9, 5}); got != 5 {
		t.Errorf("median of an odd count = %v, want 5", got)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is not NaN")
	}
}
