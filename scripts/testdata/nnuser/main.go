// A program that builds a torch/nn module from its own module and compares it with PyTorch
// (built and run by scripts/library-check.sh): torch.ManualSeed(1), then
// nn.NewMultiheadAttention(16, 4, batch_first) on fixed inputs with a key padding mask, against
// what nnuser/ref.py prints for torch.manual_seed(1); nn.MultiheadAttention(16, 4,
// batch_first=True) on the same inputs (JSON on standard input). Exit status 1 beyond 1e-5.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "nnuser:", err)
		os.Exit(1)
	}
}

func run() error {
	var want struct{ Out, Weights []float64 }
	if err := json.NewDecoder(os.Stdin).Decode(&want); err != nil {
		return fmt.Errorf("reading PyTorch's results: %w", err)
	}
	torch.ManualSeed(1)
	mha := nn.NewMultiheadAttention(16, 4, nn.MultiheadAttentionOptions{BatchFirst: true})
	defer nn.Close(mha)
	var dOut, dW float64
	err := torch.Run(func() error {
		xs := make([]float32, 2*5*16)
		for i := range xs {
			xs[i] = float32(math.Sin(0.1 * float64(i)))
		}
		x := torch.FromSlice(xs, 2, 5, 16)
		mask := torch.FromSlice([]bool{false, false, false, false, false, false, false, false, true, true}, 2, 5)
		out, w := mha.Forward(x, x, x, nn.AttentionOptions{KeyPaddingMask: mask})
		dOut = maxDiff(out.ToDType(torch.Float64).Float64s(), want.Out)
		dW = maxDiff(w.ToDType(torch.Float64).Float64s(), want.Weights)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("MultiheadAttention(16, 4, batch_first) after ManualSeed(1): max |Go - PyTorch| output %.2g, weights %.2g\n", dOut, dW)
	if dOut > 1e-5 || dW > 1e-5 {
		return fmt.Errorf("differs from PyTorch by more than 1e-5")
	}
	return nil
}

// maxDiff returns max |a - b|, +Inf when the lengths differ or a value is NaN.
func maxDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		x := math.Abs(a[i] - b[i])
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = math.Max(d, x)
	}
	return d
}
