package parityref

import (
	"math"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
)

// TestGoSide builds every case and trains it in Go (no Python needed): 20 finite losses, the
// same on a second run, and no tensor left alive.
func TestGoSide(t *testing.T) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			start := torch.Live()
			dir := t.TempDir()
			if err := Build(dir, c); err != nil {
				t.Fatal(err)
			}
			a, err := GoLosses(dir)
			if err != nil {
				t.Fatal(err)
			}
			b, err := GoLosses(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != Steps {
				t.Fatalf("%d losses, want %d", len(a), Steps)
			}
			for i, l := range a {
				if math.IsNaN(l) || math.IsInf(l, 0) {
					t.Fatalf("step %d: loss %v", i, l)
				}
			}
			if d := MaxAbsDiff(a, b); d != 0 {
				t.Errorf("two Go runs differ by %g", d)
			}
			if got := torch.Live(); got != start {
				t.Errorf("torch.Live() = %d after the case, want %d", got, start)
			}
		})
	}
}

func TestMaxAbsDiff(t *testing.T) {
	cases := []struct {
		a, b []float64
		want float64
	}{
		{[]float64{1, 2}, []float64{1, 2.5}, 0.5},
		{[]float64{1}, []float64{1, 2}, math.Inf(1)},
		{[]float64{math.NaN()}, []float64{1}, math.Inf(1)},
		{nil, nil, 0},
	}
	for _, c := range cases {
		if got := MaxAbsDiff(c.a, c.b); got != c.want {
			t.Errorf("MaxAbsDiff(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
