package nn

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

type rnnCase struct {
	kind       string // "tanh", "relu", "lstm", "gru"
	layers     int64
	bi         bool
	batchFirst bool
}

func (c rnnCase) String() string {
	return fmt.Sprintf("%s/layers=%d/bi=%v/batch_first=%v", c.kind, c.layers, c.bi, c.batchFirst)
}

func rnnCases() []rnnCase {
	var cs []rnnCase
	for _, k := range []string{"tanh", "relu", "lstm", "gru"} {
		for _, l := range []int64{1, 2} {
			for _, bi := range []bool{false, true} {
				for _, bf := range []bool{false, true} {
					cs = append(cs, rnnCase{k, l, bi, bf})
				}
			}
		}
	}
	return cs
}

func newRNNCase(t *testing.T, c rnnCase, in, hidden int64) *RNNBase {
	t.Helper()
	opts := RNNOptions{NumLayers: c.layers, Bidirectional: c.bi, BatchFirst: c.batchFirst}
	switch c.kind {
	case "relu":
		opts.Nonlinearity = "relu"
		return NewRNN(in, hidden, opts)
	case "lstm":
		return NewLSTM(in, hidden, opts)
	case "gru":
		return NewGRU(in, hidden, opts)
	}
	return NewRNN(in, hidden, opts)
}

func TestRNNShapes(t *testing.T) {
	const in, hidden, steps, batch = 3, 4, 5, 2
	for _, c := range rnnCases() {
		t.Run(c.String(), func(t *testing.T) {
			torchtest.CheckLive(t)
			torchtest.Scope(t)
			r := newRNNCase(t, c, in, hidden)
			defer Close(r)
			dirs := int64(1)
			if c.bi {
				dirs = 2
			}
			shape := []int64{steps, batch, in}
			wantOut := []int64{steps, batch, dirs * hidden}
			if c.batchFirst {
				shape = []int64{batch, steps, in}
				wantOut = []int64{batch, steps, dirs * hidden}
			}
			wantH := []int64{c.layers * dirs, batch, hidden}
			x := torch.Randn(shape)
			out, hn := r.Forward(x, nil)
			if got := out.Shape(); !slices.Equal(got, wantOut) {
				t.Errorf("padded out shape = %v, want %v", got, wantOut)
			}
			if got := hn.H.Shape(); !slices.Equal(got, wantH) {
				t.Errorf("padded h shape = %v, want %v", got, wantH)
			}
			if (hn.C != nil) != (c.kind == "lstm") {
				t.Errorf("C = %v for %s", hn.C, c.kind)
			}
			if hn.C != nil && !slices.Equal(hn.C.Shape(), wantH) {
				t.Errorf("padded c shape = %v, want %v", hn.C.Shape(), wantH)
			}
			// Passing hn back as h0 works.
			if err := torch.Try(func() { r.Forward(x, &hn) }); err != nil {
				t.Errorf("Forward with h0: %v", err)
			}

			lengths := []int64{3, 5}
			p := PackPaddedSequence(x, lengths, PackPaddedOptions{BatchFirst: c.batchFirst, NoEnforceSorted: true})
			defer p.Close()
			pout, phn := r.ForwardPacked(p, nil)
			defer pout.Close()
			if got := pout.Data.Shape(); !slices.Equal(got, []int64{8, dirs * hidden}) {
				t.Errorf("packed out data shape = %v", got)
			}
			if !slices.Equal(pout.BatchSizes.Int64s(), p.BatchSizes.Int64s()) || !slices.Equal(pout.UnsortedIndices.Int64s(), []int64{1, 0}) {
				t.Error("packed output lost the batch sizes or indices")
			}
			if got := phn.H.Shape(); !slices.Equal(got, wantH) {
				t.Errorf("packed h shape = %v, want %v", got, wantH)
			}
			if (phn.C != nil) != (c.kind == "lstm") {
				t.Errorf("packed C = %v for %s", phn.C, c.kind)
			}
			padded, lens := PadPackedSequence(pout, PadPackedOptions{BatchFirst: c.batchFirst})
			if !slices.Equal(padded.Shape(), wantOut) || !slices.Equal(lens, lengths) {
				t.Errorf("unpacked shape %v lengths %v", padded.Shape(), lens)
			}
		})
	}
}

// TestPackedMatchesSingleSequences checks that running an unsorted packed batch (with a
// given initial state) gives, for every sequence, the outputs and final state of running that
// sequence alone at its true length: packing, permute_hidden and unpacking all line up.
func TestPackedMatchesSingleSequences(t *testing.T) {
	const in, hidden = 3, 4
	lengths := []int64{2, 5, 3, 5} // unsorted, with a tie
	for _, c := range rnnCases() {
		for _, withH0 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/h0=%v", c, withH0), func(t *testing.T) {
				torchtest.CheckLive(t)
				torchtest.Scope(t)
				torch.ManualSeed(1)
				r := newRNNCase(t, c, in, hidden)
				defer Close(r)
				dirs := int64(1)
				if c.bi {
					dirs = 2
				}
				B := int64(len(lengths))
				T := int64(5)
				x := torch.Randn([]int64{T, B, in}) // time-major
				var h0 *State
				if withH0 {
					h0 = &State{H: torch.Randn([]int64{c.layers * dirs, B, hidden})}
					if c.kind == "lstm" {
						h0.C = torch.Randn([]int64{c.layers * dirs, B, hidden})
					}
				}
				src := x
				if c.batchFirst {
					src = x.Transpose(0, 1)
				}
				p := PackPaddedSequence(src, lengths, PackPaddedOptions{BatchFirst: c.batchFirst, NoEnforceSorted: true})
				defer p.Close()
				pout, hn := r.ForwardPacked(p, h0)
				defer pout.Close()
				out, _ := PadPackedSequence(pout, PadPackedOptions{})
				for b := range B {
					l := lengths[b]
					seq := x.Narrow(1, b, 1).Narrow(0, 0, l) // (l, 1, in)
					if c.batchFirst {
						seq = seq.Transpose(0, 1)
					}
					var sh0 *State
					if withH0 {
						sh0 = &State{H: h0.H.Narrow(1, b, 1).Contiguous()}
						if h0.C != nil {
							sh0.C = h0.C.Narrow(1, b, 1).Contiguous()
						}
					}
					sout, shn := r.Forward(seq, sh0)
					if c.batchFirst {
						sout = sout.Transpose(0, 1)
					}
					got := f32(out.Narrow(1, b, 1).Narrow(0, 0, l).Contiguous())
					if !near32(got, f32(sout.Contiguous()), 1e-5) {
						t.Errorf("sequence %d: packed outputs differ from the single-sequence run", b)
					}
					if !near32(f32(hn.H.Narrow(1, b, 1).Contiguous()), f32(shn.H), 1e-5) {
						t.Errorf("sequence %d: packed h_n differs from the single-sequence run", b)
					}
					if hn.C != nil && !near32(f32(hn.C.Narrow(1, b, 1).Contiguous()), f32(shn.C), 1e-5) {
						t.Errorf("sequence %d: packed c_n differs from the single-sequence run", b)
					}
					// Past a sequence's end the unpacked output is padding.
					if l < T {
						for _, v := range f32(out.Narrow(1, b, 1).Narrow(0, l, T-l).Contiguous()) {
							if v != 0 {
								t.Fatalf("sequence %d: non-zero padding %v", b, v)
							}
						}
					}
				}
			})
		}
	}
}

// TestPaddedMatchesPackedUnidirectional compares, for full-batch sorted lengths, the padded
// run's outputs at each sequence's last valid step with the packed run's h_n.
func TestPaddedMatchesPackedUnidirectional(t *testing.T) {
	for _, kind := range []string{"tanh", "relu", "lstm", "gru"} {
		t.Run(kind, func(t *testing.T) {
			torchtest.CheckLive(t)
			torchtest.Scope(t)
			r := newRNNCase(t, rnnCase{kind: kind, layers: 1}, 2, 3)
			defer Close(r)
			lengths := []int64{4, 2, 1}
			x := torch.Randn([]int64{4, 3, 2})
			out, _ := r.Forward(x, nil)
			p := PackPaddedSequence(x, lengths, PackPaddedOptions{})
			defer p.Close()
			pout, hn := r.ForwardPacked(p, nil)
			defer pout.Close()
			if pout.SortedIndices != nil {
				t.Error("enforce_sorted packing produced sorted indices")
			}
			for b, l := range lengths {
				last := f32(out.Narrow(0, l-1, 1).Narrow(1, int64(b), 1).Contiguous())
				if !near32(last, f32(hn.H.Narrow(1, int64(b), 1).Contiguous()), 1e-6) {
					t.Errorf("sequence %d: padded output at step %d != packed h_n", b, l-1)
				}
			}
		})
	}
}

func TestLSTMParameterNames(t *testing.T) {
	torchtest.CheckLive(t)
	r := NewLSTM(10, 20, RNNOptions{NumLayers: 2, Bidirectional: true})
	defer Close(r)
	// list(dict(nn.LSTM(10, 20, num_layers=2, bidirectional=True).named_parameters()).items())
	want := []struct {
		name  string
		shape []int64
	}{
		{"weight_ih_l0", []int64{80, 10}}, {"weight_hh_l0", []int64{80, 20}}, {"bias_ih_l0", []int64{80}}, {"bias_hh_l0", []int64{80}},
		{"weight_ih_l0_reverse", []int64{80, 10}}, {"weight_hh_l0_reverse", []int64{80, 20}}, {"bias_ih_l0_reverse", []int64{80}}, {"bias_hh_l0_reverse", []int64{80}},
		{"weight_ih_l1", []int64{80, 40}}, {"weight_hh_l1", []int64{80, 20}}, {"bias_ih_l1", []int64{80}}, {"bias_hh_l1", []int64{80}},
		{"weight_ih_l1_reverse", []int64{80, 40}}, {"weight_hh_l1_reverse", []int64{80, 20}}, {"bias_ih_l1_reverse", []int64{80}}, {"bias_hh_l1_reverse", []int64{80}},
	}
	ps := r.NamedParameters()
	if len(ps) != len(want) {
		t.Fatalf("%d parameters, want %d", len(ps), len(want))
	}
	for i, w := range want {
		if ps[i].Name != w.name || !slices.Equal(ps[i].Value.Shape(), w.shape) {
			t.Errorf("parameter %d = %s %v, want %s %v", i, ps[i].Name, ps[i].Value.Shape(), w.name, w.shape)
		}
	}
	if r.Parameter("bias_hh_l1_reverse") != ps[15].Value || r.Parameter("nope") != nil {
		t.Error("Parameter lookup")
	}
	gru := NewGRU(3, 5, RNNOptions{NoBias: true})
	defer Close(gru)
	names, _ := StateDict(gru)
	if !slices.Equal(names, []string{"weight_ih_l0", "weight_hh_l0"}) || !slices.Equal(gru.Parameter("weight_ih_l0").Shape(), []int64{15, 3}) {
		t.Errorf("GRU without bias: %v", names)
	}
}

func TestRNNInit(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	torch.ManualSeed(42)
	r := NewLSTM(6, 9, RNNOptions{NumLayers: 2, Bidirectional: true})
	defer Close(r)
	stdv := 1 / math.Sqrt(9)
	// reset_parameters draws every parameter from U(-stdv, stdv) in parameter order.
	torch.ManualSeed(42)
	for _, p := range r.NamedParameters() {
		ref := torch.Zeros(p.Value.Shape())
		ref.UniformInPlace(-stdv, stdv)
		if !near32(p.Value.Float32s(), ref.Float32s(), 0) {
			t.Errorf("%s is not the next U(-1/sqrt(H), 1/sqrt(H)) draw", p.Name)
		}
		if !p.Value.RequiresGrad() {
			t.Errorf("%s does not require grad", p.Name)
		}
	}
}

func TestRNNDropoutFollowsTrainingMode(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	r := NewGRU(4, 16, RNNOptions{NumLayers: 2, Dropout: 0.5})
	defer Close(r)
	x := torch.Randn([]int64{6, 3, 4})
	run := func() []float32 {
		out, _ := r.Forward(x, nil)
		return out.Float32s()
	}
	if a, b := run(), run(); near32(a, b, 0) {
		t.Error("training-mode dropout between layers had no effect")
	}
	r.SetTraining(false)
	if a, b := run(), run(); !near32(a, b, 0) {
		t.Error("eval mode is not deterministic")
	}
}

func TestRNNConstructorErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func() *RNNBase
		want string
	}{
		{"hidden 0", func() *RNNBase { return NewLSTM(3, 0, RNNOptions{}) }, "nn.NewLSTM: hidden_size must be greater than zero"},
		{"negative input", func() *RNNBase { return NewGRU(-1, 2, RNNOptions{}) }, "nn.NewGRU: input_size must be non-negative"},
		{"negative layers", func() *RNNBase { return NewRNN(3, 2, RNNOptions{NumLayers: -2}) }, "nn.NewRNN: num_layers must be greater than zero"},
		{"dropout", func() *RNNBase { return NewRNN(3, 2, RNNOptions{Dropout: 1.5}) }, "dropout should be a number in range [0, 1]"},
		{"nonlinearity", func() *RNNBase { return NewRNN(3, 2, RNNOptions{Nonlinearity: "sigmoid"}) }, `unknown nonlinearity "sigmoid"`},
		{"lstm nonlinearity", func() *RNNBase { return NewLSTM(3, 2, RNNOptions{Nonlinearity: "relu"}) }, "nn.NewLSTM: Nonlinearity is an RNN option"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.CheckLive(t)
			var r *RNNBase
			err := torch.Try(func() { r = tc.f() })
			if r != nil {
				t.Errorf("got a module with error %v", err)
			}
			var te *torch.Error
			if !errors.As(err, &te) {
				t.Errorf("error %v is not a *torch.Error", err)
			}
			wantErr(t, err, tc.want)
		})
	}
}

func TestRNNForwardErrors(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	lstm := NewLSTM(300, 50, RNNOptions{NumLayers: 2, BatchFirst: true})
	defer Close(lstm)
	gru := NewGRU(3, 5, RNNOptions{})
	defer Close(gru)
	good := torch.Zeros([]int64{4, 7, 300})
	h := func(shape ...int64) *torch.Tensor { return torch.Zeros(shape) }
	closed := torch.Zeros([]int64{1})
	closed.Close()
	for _, tc := range []struct {
		name string
		r    *RNNBase
		x    *torch.Tensor
		h0   *State
		want string
	}{
		{"2-D input", lstm, torch.Zeros([]int64{7, 300}), nil, "nn.LSTM.Forward: expected input with 3 dims (batch, seq, feature), got 2"},
		{"4-D input", gru, torch.Zeros([]int64{2, 2, 2, 3}), nil, "nn.GRU.Forward: expected input with 3 dims (seq, batch, feature), got 4"},
		{"feature size", lstm, torch.Zeros([]int64{4, 7, 299}), nil, "nn.LSTM.Forward: expected input feature size 300, got 299"},
		{"dtype", lstm, torch.Zeros([]int64{4, 7, 300}, torch.WithDType(torch.Float64)), nil, "nn.LSTM.Forward: input must have the type float32"},
		{"int input", gru, torch.Zeros([]int64{2, 2, 3}, torch.WithDType(torch.Int64)), nil, "nn.GRU.Forward: input must have the type float32"},
		{"nil input", gru, nil, nil, "nn.GRU.Forward: input is nil or closed"},
		{"closed input", gru, closed, nil, "nn.GRU.Forward: input is nil or closed"},
		{"hidden layers", lstm, good, &State{H: h(1, 4, 50), C: h(2, 4, 50)}, "nn.LSTM.Forward: expected hidden size (2, 4, 50), got (1, 4, 50)"},
		{"hidden batch", lstm, good, &State{H: h(2, 7, 50), C: h(2, 4, 50)}, "nn.LSTM.Forward: expected hidden size (2, 4, 50), got (2, 7, 50)"},
		{"cell size", lstm, good, &State{H: h(2, 4, 50), C: h(2, 4, 5)}, "nn.LSTM.Forward: expected cell size (2, 4, 50), got (2, 4, 5)"},
		{"missing cell", lstm, good, &State{H: h(2, 4, 50)}, "nn.LSTM.Forward: cell is nil or closed"},
		{"missing hidden", lstm, good, &State{C: h(2, 4, 50)}, "nn.LSTM.Forward: hidden is nil or closed"},
		{"gru with cell", gru, torch.Zeros([]int64{2, 2, 3}), &State{H: h(1, 2, 5), C: h(1, 2, 5)}, "nn.GRU.Forward: the initial state has a cell state C, which only LSTM uses"},
		{"hidden dtype", gru, torch.Zeros([]int64{2, 2, 3}), &State{H: torch.Zeros([]int64{1, 2, 5}, torch.WithDType(torch.Float64))}, "nn.GRU.Forward: expected hidden with dtype float32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.Scope(t)
			var out *torch.Tensor
			var hn State
			err := torch.Try(func() { out, hn = tc.r.Forward(tc.x, tc.h0) })
			if out != nil || hn.H != nil || hn.C != nil {
				t.Error("results returned with an error")
			}
			var te *torch.Error
			if !errors.As(err, &te) {
				t.Fatalf("Forward did not panic with a *torch.Error (err %v)", err)
			}
			wantErr(t, err, "torch: "+tc.want)
		})
	}
}

func TestRNNForwardPackedErrors(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	lstm := NewLSTM(3, 4, RNNOptions{Bidirectional: true, NumLayers: 2})
	defer Close(lstm)
	x := torch.Randn([]int64{5, 2, 3})
	p := PackPaddedSequence(x, []int64{5, 3}, PackPaddedOptions{NoEnforceSorted: true})
	defer p.Close()
	floatSizes := torch.FromSlice([]float32{1, 1})
	for _, tc := range []struct {
		name string
		p    PackedSequence
		h0   *State
		want string
	}{
		{"empty", PackedSequence{}, nil, "nn.LSTM.ForwardPacked: packed sequence has a nil or closed Data or BatchSizes"},
		{"float batch sizes", PackedSequence{Data: p.Data, BatchSizes: floatSizes}, nil, "batch_sizes must be a non-empty 1-D int64 tensor"},
		{"half indices", PackedSequence{Data: p.Data, BatchSizes: p.BatchSizes, SortedIndices: p.SortedIndices}, nil, "both SortedIndices and UnsortedIndices or neither"},
		{"feature size", PackedSequence{Data: torch.Zeros([]int64{8, 4}), BatchSizes: p.BatchSizes}, nil, "nn.LSTM.ForwardPacked: expected input feature size 3, got 4"},
		{"padded data", PackedSequence{Data: x, BatchSizes: p.BatchSizes}, nil, "nn.LSTM.ForwardPacked: expected input with 2 dims"},
		{"hidden", p, &State{H: torch.Zeros([]int64{4, 3, 4}), C: torch.Zeros([]int64{4, 2, 4})}, "nn.LSTM.ForwardPacked: expected hidden size (4, 2, 4), got (4, 3, 4)"},
		{"kernel rejects", PackedSequence{Data: torch.Zeros([]int64{3, 3}), BatchSizes: torch.FromSlice([]int64{2, 2})}, nil, "nn.LSTM.ForwardPacked: RNNForward"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.Scope(t)
			var out PackedSequence
			var hn State
			err := torch.Try(func() { out, hn = lstm.ForwardPacked(tc.p, tc.h0) })
			if out.Data != nil || hn.H != nil {
				t.Error("results returned with an error")
			}
			var te *torch.Error
			if !errors.As(err, &te) || te.Op != "nn.LSTM.ForwardPacked" {
				t.Fatalf("ForwardPacked did not panic with a *torch.Error naming it (err %v)", err)
			}
			wantErr(t, err, tc.want)
		})
	}
}
