package distributed_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
)

// TestNCCLWorldOfOne runs NCCL collectives in a world of one on the first GPU (more ranks need
// a GPU each). It needs a shim built with SEQTORCH_NCCL=1 against a CUDA libtorch, and a GPU;
// scripts/gpu-check.sh runs it there.
func TestNCCLWorldOfOne(t *testing.T) {
	if err := torch.Load(); err != nil {
		t.Fatal(err)
	}
	if !distributed.NCCLAvailable() || !torch.CUDAAvailable() {
		t.Skip("needs a shim with NCCL (SEQTORCH_NCCL=1 make libtorch on a CUDA libtorch) and a GPU")
	}
	store, err := distributed.NewFileStore(filepath.Join(t.TempDir(), "store"), 1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g, err := distributed.NewProcessGroupNCCL(store, 0, 1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s := torch.NewScope()
	defer s.Close()
	x := torch.FromSlice([]float32{1, 2, 3}, 3).To(torch.CUDA(0))
	for _, op := range []distributed.ReduceOp{distributed.Sum, distributed.Avg, distributed.Max} {
		if err := g.AllReduce(x, op); err != nil {
			t.Fatalf("%v: %v", op, err)
		}
	}
	if err := g.Broadcast(x, 0); err != nil {
		t.Fatal(err)
	}
	if got := x.To(torch.CPU).Float32s(); !slices.Equal(got, []float32{1, 2, 3}) {
		t.Errorf("after sum, avg, max and broadcast in a world of one: %v, want [1 2 3]", got)
	}
}
