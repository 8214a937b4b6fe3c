// A program that runs a TorchScript module from its own module (built and run by
// scripts/library-check.sh): the LSTM classifier that scripts/jit_ref.py scripts in PyTorch,
// loaded with jit.Load, its logits compared with PyTorch's (expected.json, written by the same
// script); then a plain torch.save state dict, which jit.Load must refuse in one line.
//
// Usage: jituser DIR (the folder jit_ref.py wrote). Exit status 1 on a mismatch.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/jit"
)

type expected struct {
	LSTM struct {
		IDs         []float64 `json:"ids"` // jit_ref.py writes every tensor's values as floats
		IDsShape    []int64   `json:"ids_shape"`
		Lengths     []float64 `json:"lengths"`
		Logits      []float64 `json:"logits"`
		LogitsShape []int64   `json:"logits_shape"`
	} `json:"lstm"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "jituser:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: jituser DIR")
	}
	dir := args[0]
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		return err
	}
	var exp expected
	if err := json.Unmarshal(b, &exp); err != nil {
		return err
	}
	m, err := jit.Load(filepath.Join(dir, "lstm_script.pt"), torch.CPU)
	if err != nil {
		return err
	}
	defer m.Close()
	m.SetTraining(false)
	var worst float64
	err = torch.Run(func() error {
		ids := torch.FromSlice(ints(exp.LSTM.IDs), exp.LSTM.IDsShape...)
		lengths := torch.FromSlice(ints(exp.LSTM.Lengths))
		var out any
		var ferr error
		torch.NoGrad(func() { out, ferr = m.Forward(ids, lengths) })
		if ferr != nil {
			return ferr
		}
		logits, ok := out.(*torch.Tensor)
		if !ok {
			return fmt.Errorf("forward returned %T, want a tensor", out)
		}
		got := logits.ToDType(torch.Float64).Float64s()
		if len(got) != len(exp.LSTM.Logits) {
			return fmt.Errorf("logits: %d values, PyTorch has %d", len(got), len(exp.LSTM.Logits))
		}
		for i := range got {
			worst = math.Max(worst, math.Abs(got[i]-exp.LSTM.Logits[i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("lstm_script.pt: logits %v, max |Go - PyTorch| %.2g\n", exp.LSTM.LogitsShape, worst)
	if worst > 1e-5 {
		return fmt.Errorf("logits differ from PyTorch's by %.3g (tolerance 1e-5)", worst)
	}
	_, err = jit.Load(filepath.Join(dir, "state_dict.pt"), torch.CPU)
	if err == nil {
		return fmt.Errorf("jit.Load of a torch.save state dict succeeded, want an error")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") {
		return fmt.Errorf("the state-dict error has several lines: %q", msg)
	}
	fmt.Println("state_dict.pt: refused:", err)
	return nil
}

func ints(v []float64) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}
