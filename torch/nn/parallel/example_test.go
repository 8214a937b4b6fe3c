package parallel_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/nn/parallel"
)

// DistributedDataParallel in a group of one process, to show the calls: every rank of a real
// group runs the same code on its own shard of each batch (see distributed.Init).
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store, _ := distributed.NewFileStore(filepath.Join(dir, "store"), 1, 0)
	defer store.Close()
	g, err := distributed.NewProcessGroupGloo(store, 0, 1, distributed.GlooOptions{Host: "127.0.0.1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()

	torch.ManualSeed(0)
	model := nn.NewLinear(3, 1, nn.LinearOptions{})
	defer nn.Close(model)
	ddp, err := parallel.New(model, g, parallel.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ddp.Close()

	s := torch.NewScope()
	defer s.Close()
	x := torch.Ones([]int64{4, 3})
	loss := model.Forward(x).Sum()
	if err := ddp.Backward(loss); err != nil { // in place of loss.Backward()
		fmt.Println(err)
		return
	}
	fmt.Println(model.Weight.Grad().Float32s())
	// Output: [4 4 4]
}
