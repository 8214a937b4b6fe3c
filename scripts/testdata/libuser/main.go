// A program that uses seqtorch from the module cache, as the README shows (built and run by
// scripts/library-check.sh in a module of its own).
package main

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

func main() {
	torch.ManualSeed(1) // the first libtorch call loads the shim
	lstm := nn.NewLSTM(10, 20, nn.RNNOptions{NumLayers: 2, BatchFirst: true})
	defer nn.Close(lstm)
	s := torch.NewScope()
	defer s.Close()
	x := torch.Randn([]int64{3, 5, 10}) // (batch, seq, feature)
	// Bad input panics with *torch.Error, as PyTorch raises (torch.Run recovers it).
	out, hn := lstm.Forward(x, nil)
	fmt.Println("output", out.Shape(), "h_n", hn.H.Shape(), "libtorch", torch.Version())
}
