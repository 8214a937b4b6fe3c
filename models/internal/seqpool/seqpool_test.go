package seqpool

import (
	"slices"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// TestPool: rows of 3 steps and 2 features, the steps past each length filled with values
// that would win (or shift the mean) if they counted.
func TestPool(t *testing.T) {
	torchtest.CheckLive(t)
	x := []float32{
		1, -4, 3, 2, 99, 99, // length 2
		-1, -2, 99, 99, 99, 99, // length 1
		0, 5, 6, -1, 3, 1, // length 3
	}
	lengths := []int64{2, 1, 3}
	cases := []struct {
		name string
		pool func(*torch.Tensor, []int64) *torch.Tensor
		want []float32
	}{
		{"max", Max, []float32{3, 2, -1, -2, 6, 5}},
		{"mean", Mean, []float32{2, -1, -1, -2, 3, 5.0 / 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			torch.WithScope(func(*torch.Scope) {
				got := c.pool(torch.FromSlice(x, 3, 3, 2), lengths).Float32s()
				if !slices.EqualFunc(got, c.want, func(a, b float32) bool { return a-b < 1e-6 && b-a < 1e-6 }) {
					t.Errorf("%v, want %v", got, c.want)
				}
			})
		})
	}
}
