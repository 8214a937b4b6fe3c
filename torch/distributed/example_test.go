package distributed_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
)

// A group of one process, to show the calls; real groups have a process per rank, which
// distributed.Init joins from the variables torchrun (or a command's --nproc) sets.
func ExampleNewProcessGroupGloo() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store, err := distributed.NewFileStore(filepath.Join(dir, "store"), 1, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	g, err := distributed.NewProcessGroupGloo(store, 0, 1, distributed.GlooOptions{Host: "127.0.0.1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()

	x := torch.FromSlice([]float32{1, 2, 3}, 3)
	defer x.Close()
	if err := g.AllReduce(x, distributed.Sum); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Backend(), g.Rank(), g.Size(), x.Float32s())
	// Output: gloo 0 1 [1 2 3]
}

func ExampleReadEnv() {
	env := map[string]string{"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
	e, launched, err := distributed.ReadEnv(func(k string) string { return env[k] })
	fmt.Println(launched, err, e.Rank, e.WorldSize, e.LocalRank, e.MasterAddr, e.MasterPort)
	// Output: true <nil> 1 2 1 127.0.0.1 29500
}
