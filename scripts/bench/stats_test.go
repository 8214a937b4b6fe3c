package main

import (
	"math"
	"testing"
)

// TestQuantile checks the interpolation against NumPy's default (numpy.quantile, "linear"),
// which scripts/sms_ref.py reproduces, so both sides report percentiles the same way.
func TestQuantile(t *testing.T) {
	xs := []float64{7, 1, 3, 9, 5} // sorted: 1 3 5 7 9
	for _, tc := range []struct{ q, want float64 }{
		{0, 1}, {0.5, 5}, {0.99, 8.92}, {1, 9}, {0.3, 3.4},
	} {
		if got := quantile(xs, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of an even count = %v, want 2.5", got)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is not NaN")
	}
	if xs[0] != 7 {
		t.Error("quantile sorted its input in place")
	}
}
