package distributed_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/torch/distributed/disttest"
)

// values returns rank r's test values: r+1, 2(r+1), ..., as float64.
func values(r, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64((r + 1) * (i + 1))
	}
	return v
}

// want returns what op over ranks 0..size-1 of values gives.
func want(op distributed.ReduceOp, size, n int) []float64 {
	out := values(0, n)
	for r := 1; r < size; r++ {
		for i, x := range values(r, n) {
			switch op {
			case distributed.Sum, distributed.Avg:
				out[i] += x
			case distributed.Product:
				out[i] *= x
			case distributed.Min:
				out[i] = min(out[i], x)
			case distributed.Max:
				out[i] = max(out[i], x)
			}
		}
	}
	if op == distributed.Avg {
		for i := range out {
			out[i] /= float64(size)
		}
	}
	return out
}

var workers = map[string]disttest.Worker{"collectives": collectives}

func TestMain(m *testing.M) { disttest.Main(m, workers) }

func collectives(g *distributed.ProcessGroup) error {
	s := torch.NewScope()
	defer s.Close()
	r, size := g.Rank(), g.Size()
	for _, dt := range []torch.DType{torch.Float32, torch.Float64, torch.Float16, torch.Int64, torch.Int32, torch.Uint8} {
		for _, op := range []distributed.ReduceOp{distributed.Sum, distributed.Avg, distributed.Product, distributed.Min, distributed.Max} {
			x := torch.FromSlice(values(r, 5), 5).ToDType(dt)
			err := g.AllReduce(x, op)
			if op == distributed.Avg && (dt == torch.Int64 || dt == torch.Int32 || dt == torch.Uint8) {
				if err == nil {
					return fmt.Errorf("all_reduce avg of %v: no error", dt)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("all_reduce %v %v: %w", op, dt, err)
			}
			w := want(op, size, 5)
			if dt == torch.Uint8 { // uint8 arithmetic wraps around at 256
				for i := range w {
					w[i] = float64(uint8(int(w[i]) % 256))
				}
			}
			if got := x.ToDType(torch.Float64).Float64s(); !slices.Equal(got, w) {
				return fmt.Errorf("all_reduce %v %v: got %v, want %v", op, dt, got, w)
			}
		}
		// broadcast from the last rank
		x := torch.FromSlice(values(r, 3), 3).ToDType(dt)
		if err := g.Broadcast(x, size-1); err != nil {
			return err
		}
		if got := x.ToDType(torch.Float64).Float64s(); !slices.Equal(got, values(size-1, 3)) {
			return fmt.Errorf("broadcast %v: got %v", dt, got)
		}
		// all_gather
		out := make([]*torch.Tensor, size)
		for i := range out {
			out[i] = torch.Zeros([]int64{2}, torch.WithDType(dt))
		}
		if err := g.AllGather(out, torch.FromSlice(values(r, 2), 2).ToDType(dt)); err != nil {
			return err
		}
		for i, o := range out {
			if got := o.ToDType(torch.Float64).Float64s(); !slices.Equal(got, values(i, 2)) {
				return fmt.Errorf("all_gather %v: slot %d got %v", dt, i, got)
			}
		}
	}
	return g.Barrier()
}

func TestCollectives(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			disttest.RequireAll(t, disttest.Run(t, n, "collectives", time.Minute))
		})
	}
}
