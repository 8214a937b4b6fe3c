package main

import (
	"slices"
	"testing"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// TestWordDropout: tokens become <unk> at the given rate, padding never does.
func TestWordDropout(t *testing.T) {
	torchtest.CheckLive(t)
	ids := []int64{5, 6, 7, 8, 9, 3, 0, 0}
	cases := []struct {
		p    float64
		want []int64
	}{
		{0, ids},
		{0.999999, []int64{1, 1, 1, 1, 1, 1, 0, 0}},
	}
	for _, c := range cases {
		torch.WithScope(func(*torch.Scope) {
			got := wordDropout(torch.FromSlice(ids, 2, 4), c.p).Int64s()
			if !slices.Equal(got, c.want) {
				t.Errorf("p %v: %v, want %v", c.p, got, c.want)
			}
		})
	}
	// At 0.3 about 30 % of 10,000 tokens are dropped.
	torch.ManualSeed(1)
	torch.WithScope(func(*torch.Scope) {
		many := make([]int64, 10000)
		for i := range many {
			many[i] = 7
		}
		n := 0
		for _, v := range wordDropout(torch.FromSlice(many, 100, 100), 0.3).Int64s() {
			if v == data.UnkID {
				n++
			}
		}
		if n < 2700 || n > 3300 {
			t.Errorf("%d of 10000 tokens dropped at p 0.3", n)
		}
	})
}
