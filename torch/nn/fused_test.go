package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// fusedCase is one configuration on which the fused CPU LSTM and GRU kernels are checked
// against libtorch's at::lstm and at::gru (RNNOptions.LibtorchKernel), themselves checked
// against PyTorch by the parity suite.
type fusedCase struct {
	gru     bool
	opts    RNNOptions
	packed  bool
	dtype   torch.DType
	train   bool // training mode with autograd (else eval under NoGrad)
	outOnly bool // the loss reads only the output (no h_n, c_n gradients)
	h0      bool // pass an initial state
	big     bool // 512 inputs, 128 hidden units, 80 sequences: products large enough to split between threads
}

func (c fusedCase) String() string {
	cell := "lstm"
	if c.gru {
		cell = "gru"
	}
	return fmt.Sprintf("%s/layers=%d/bi=%v/bf=%v/nobias=%v/dropout=%v/packed=%v/%v/train=%v/outOnly=%v/h0=%v/big=%v",
		cell, c.opts.NumLayers, c.opts.Bidirectional, c.opts.BatchFirst, c.opts.NoBias, c.opts.Dropout, c.packed,
		c.dtype, c.train, c.outOnly, c.h0, c.big)
}

func fusedCases() []fusedCase {
	cs := []fusedCase{
		{gru: true, opts: RNNOptions{NumLayers: 2, Bidirectional: true}, packed: true, dtype: torch.Float32, train: true, h0: true},
		{gru: true, opts: RNNOptions{BatchFirst: true, NoBias: true}, dtype: torch.Float32, train: true},
		{gru: true, opts: RNNOptions{NumLayers: 2, Dropout: 0.3}, packed: true, dtype: torch.Float64, train: true},
		{gru: true, opts: RNNOptions{Bidirectional: true}, packed: true, dtype: torch.Float32, train: true, outOnly: true},
		{gru: true, opts: RNNOptions{Bidirectional: true}, packed: true, dtype: torch.Float32},
	}
	for _, layers := range []int64{1, 2} {
		for _, bi := range []bool{false, true} {
			for _, packed := range []bool{false, true} {
				cs = append(cs, fusedCase{opts: RNNOptions{NumLayers: layers, Bidirectional: bi}, packed: packed,
					dtype: torch.Float32, train: true})
			}
		}
	}
	return append(cs,
		fusedCase{opts: RNNOptions{BatchFirst: true}, packed: true, dtype: torch.Float32, train: true, h0: true},
		fusedCase{opts: RNNOptions{NumLayers: 2, Bidirectional: true, NoBias: true}, packed: true, dtype: torch.Float32, train: true},
		fusedCase{opts: RNNOptions{NumLayers: 3, Dropout: 0.4}, packed: true, dtype: torch.Float32, train: true},
		fusedCase{opts: RNNOptions{Bidirectional: true}, packed: true, dtype: torch.Float32, train: true, outOnly: true},
		fusedCase{opts: RNNOptions{NumLayers: 2, Bidirectional: true, BatchFirst: true}, dtype: torch.Float64, train: true, h0: true},
		fusedCase{opts: RNNOptions{NumLayers: 2, Bidirectional: true}, packed: true, dtype: torch.Float64, train: true},
		fusedCase{opts: RNNOptions{NumLayers: 2, Bidirectional: true}, packed: true, dtype: torch.Float32},
		fusedCase{opts: RNNOptions{BatchFirst: true}, dtype: torch.Float32, h0: true},
		fusedCase{opts: RNNOptions{NumLayers: 2, Bidirectional: true}, packed: true, dtype: torch.Float32, train: true, big: true},
		fusedCase{opts: RNNOptions{NumLayers: 2, Bidirectional: true}, packed: true, dtype: torch.Float64, train: true, big: true},
		fusedCase{gru: true, opts: RNNOptions{NumLayers: 2}, dtype: torch.Float32, train: true, big: true},
	)
}

// fusedRun is what one kernel computed: outputs, final state and gradients, as float64s.
type fusedRun map[string][]float64

func runFusedKernel(t *testing.T, c fusedCase, libtorch bool) fusedRun {
	t.Helper()
	in, hidden := int64(5), int64(6)
	lengths := []int64{4, 7, 1, 7, 3} // unsorted, with a tie and a single step
	if c.big {
		in, hidden = 512, 128
		for range 15 {
			lengths = append(lengths, lengths[:5]...)
		}
	}
	torch.ManualSeed(7)
	opts := c.opts
	opts.LibtorchKernel = libtorch
	newRNN := NewLSTM
	if c.gru {
		newRNN = NewGRU
	}
	r := newRNN(in, hidden, opts)
	defer Close(r)
	if c.dtype != torch.Float32 {
		for _, p := range Parameters(r) {
			d := p.ToDType(c.dtype)
			p.SetData(d)
			d.Close()
		}
	}
	r.SetTraining(c.train)
	dirs := int64(1)
	if opts.Bidirectional {
		dirs = 2
	}
	layers := max(opts.NumLayers, 1)
	B, T := int64(len(lengths)), int64(7)
	shape := []int64{T, B, in}
	if opts.BatchFirst {
		shape = []int64{B, T, in}
	}
	dt := torch.WithDType(c.dtype)
	x := torch.Randn(shape, dt).SetRequiresGrad(c.train)
	var h0 *State
	if c.h0 {
		h0 = &State{H: torch.Randn([]int64{layers * dirs, B, hidden}, dt).SetRequiresGrad(c.train)}
		if !c.gru {
			h0.C = torch.Randn([]int64{layers * dirs, B, hidden}, dt).SetRequiresGrad(c.train)
		}
	}
	wOut := torch.Randn([]int64{T * B * hidden * dirs}, dt)
	wH := torch.Randn([]int64{layers * dirs * B * hidden}, dt)
	res := fusedRun{}
	run := func() {
		torch.ManualSeed(11) // the same dropout masks on both sides
		var out *torch.Tensor
		var hn State
		if c.packed {
			p := PackPaddedSequence(x, lengths, PackPaddedOptions{BatchFirst: opts.BatchFirst, NoEnforceSorted: true})
			po, st := r.ForwardPacked(p, h0)
			out, _ = PadPackedSequence(po, PadPackedOptions{BatchFirst: opts.BatchFirst, TotalLength: T})
			hn = st
		} else {
			out, hn = r.Forward(x, h0)
		}
		loss := out.Reshape(-1).Mul(wOut).Sum()
		if !c.outOnly {
			loss = loss.Add(hn.H.Reshape(-1).Mul(wH).Sum())
			if hn.C != nil {
				loss = loss.Add(hn.C.Reshape(-1).Mul(wH).MulScalar(0.5).Sum())
			}
		}
		res["out"], res["h_n"] = f64(out), f64(hn.H)
		if hn.C != nil {
			res["c_n"] = f64(hn.C)
		}
		if !c.train {
			return
		}
		loss.Backward()
		res["grad x"] = f64(x.Grad())
		if h0 != nil {
			res["grad h0"] = f64(h0.H.Grad())
			if h0.C != nil {
				res["grad c0"] = f64(h0.C.Grad())
			}
		}
		for _, np := range r.NamedParameters() {
			res["grad "+np.Name] = f64(np.Value.Grad())
		}
	}
	if c.train {
		torch.WithScope(func(*torch.Scope) { run() })
	} else {
		torch.NoGrad(func() { torch.WithScope(func(*torch.Scope) { run() }) })
	}
	return res
}

// fusedTolerance is the largest relative difference allowed between two kernels' results.
func fusedTolerance(c fusedCase) float64 {
	switch {
	case c.dtype == torch.Float64:
		return 1e-12
	case c.big:
		// A weight gradient sums 100+ steps' products: one product over all steps here,
		// a sum of per-step products in libtorch; float32 rounding differs by ~1e-5.
		return 2e-5
	}
	return 2e-6
}

// compareRuns fails t where got and want differ by more than tol (relative to values above 1).
func compareRuns(t *testing.T, got, want fusedRun, tol float64, other string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("fused kernel produced %d results, %s %d", len(got), other, len(want))
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, %s %d", name, len(g), other, len(w))
		}
		for i := range w {
			d := math.Abs(g[i] - w[i])
			if math.IsNaN(g[i]) || d > tol*max(1, math.Abs(w[i])) {
				t.Fatalf("%s[%d] = %g, %s %g (difference %g > %g)", name, i, g[i], other, w[i], d, tol)
			}
		}
	}
}

func TestFusedMatchesLibtorch(t *testing.T) {
	for _, c := range fusedCases() {
		t.Run(c.String(), func(t *testing.T) {
			torchtest.CheckLive(t)
			torchtest.Scope(t)
			compareRuns(t, runFusedKernel(t, c, false), runFusedKernel(t, c, true), fusedTolerance(c), "libtorch")
		})
	}
}

// TestFusedThreads checks that the fused kernels agree on one intra-op thread and on two, where
// the large matrix products are split between the threads.
func TestFusedThreads(t *testing.T) {
	prev := torch.NumThreads()
	defer torch.SetNumThreads(prev)
	for _, c := range fusedCases() {
		if !c.big {
			continue
		}
		t.Run(c.String(), func(t *testing.T) {
			torchtest.CheckLive(t)
			torchtest.Scope(t)
			if err := torch.SetNumThreads(1); err != nil {
				t.Fatal(err)
			}
			one := runFusedKernel(t, c, false)
			if err := torch.SetNumThreads(2); err != nil {
				t.Fatal(err)
			}
			two := runFusedKernel(t, c, false)
			// Each part is its own BLAS call, whose kernels may round rows at the edge of a
			// part differently; a part given the wrong rows would differ by far more.
			compareRuns(t, two, one, fusedTolerance(c), "one thread")
		})
	}
}

// TestFusedIsUsed makes sure the default LSTM and GRU on the CPU do not run libtorch's kernels:
// the two kernels' float32 results differ in the last bits somewhere (they are equal to within
// TestFusedMatchesLibtorch's tolerance).
func TestFusedIsUsed(t *testing.T) {
	for _, gru := range []bool{false, true} {
		t.Run(fmt.Sprintf("gru=%v", gru), func(t *testing.T) {
			torchtest.CheckLive(t)
			torchtest.Scope(t)
			c := fusedCase{gru: gru, opts: RNNOptions{NumLayers: 2, Bidirectional: true}, packed: true, dtype: torch.Float32, train: true}
			fused, lib := runFusedKernel(t, c, false), runFusedKernel(t, c, true)
			for name, want := range lib {
				for i := range want {
					if fused[name][i] != want[i] {
						return
					}
				}
			}
			t.Fatal("bit-identical results to libtorch's kernel: the fused kernel did not run")
		})
	}
}

// f64 returns t's values as float64s, converting float32.
func f64(t *torch.Tensor) []float64 {
	if t.DType() == torch.Float64 {
		return t.Float64s()
	}
	c := t.ToDType(torch.Float64)
	defer c.Close()
	return c.Float64s()
}
