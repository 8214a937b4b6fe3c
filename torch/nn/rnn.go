package nn

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
)

// RNNOptions configures NewRNN, NewLSTM and NewGRU. Its zero value is PyTorch's defaults:
// num_layers=1, nonlinearity='tanh', bias=True, batch_first=False, dropout=0,
// bidirectional=False.
type RNNOptions struct {
	NumLayers     int64   // 0 means 1
	Nonlinearity  string  // "tanh" (or "") or "relu"; RNN only
	NoBias        bool    // bias=False
	BatchFirst    bool    // input and output are (batch, seq, feature)
	Dropout       float64 // dropout on the outputs of each layer except the last, in training
	Bidirectional bool
	// LibtorchKernel runs an LSTM or GRU on the CPU through libtorch's at::lstm / at::gru, op
	// by op, as PyTorch does (bit-identical to PyTorch), instead of seqtorch's fused kernels
	// (see torch.RNNConfig.Fused: the same results to float rounding, several times faster for
	// small hidden sizes). No effect on RNN cells or on CUDA.
	LibtorchKernel bool
}

// State is a recurrent state: H is (num_layers·num_directions, batch, hidden); C, the LSTM
// cell state, has the same shape and is nil for RNN and GRU.
type State struct {
	H, C *torch.Tensor
	// carried marks a state returned by Detach; from is the carried state a forward pass
	// started from, which Detach on that pass's final state closes (see Detach).
	carried bool
	from    [2]*torch.Tensor
}

// Close frees the state's tensors.
func (s State) Close() {
	s.H.Close()
	s.C.Close()
}

// RNNBase is a stack of recurrent layers, as torch.nn.RNNBase: RNN (tanh or ReLU), LSTM or
// GRU, chosen by Mode. Its parameters, in PyTorch's order (self._flat_weights), are for each
// layer k and direction (suffix "" then "_reverse"): weight_ih_lk (G·H, in), weight_hh_lk
// (G·H, H), and unless NoBias bias_ih_lk (G·H) and bias_hh_lk (G·H), with G = 1 (RNN),
// 4 (LSTM) or 3 (GRU), and in = InputSize for layer 0, H·num_directions above.
//
// On CUDA PyTorch flattens the weights into one contiguous buffer for cuDNN; RNNBase does not
// (the kernels accept unflattened weights, at some speed cost; PyTorch warns in that case).
type RNNBase struct {
	Mode                  torch.RNNMode
	InputSize, HiddenSize int64
	Options               RNNOptions // normalised: NumLayers >= 1, Nonlinearity set for RNN
	params                []NamedParameter
	eval                  bool
}

// NewRNN returns an Elman RNN with tanh or ReLU nonlinearity, as torch.nn.RNN. Invalid
// arguments panic with *torch.Error (see the package documentation).
func NewRNN(inputSize, hiddenSize int64, opts RNNOptions) *RNNBase {
	switch opts.Nonlinearity {
	case "", "tanh":
		opts.Nonlinearity = "tanh"
		return newRNNBase(torch.ModeRNNTanh, inputSize, hiddenSize, opts)
	case "relu":
		return newRNNBase(torch.ModeRNNReLU, inputSize, hiddenSize, opts)
	}
	panic(&torch.Error{Op: "nn.NewRNN", Msg: fmt.Sprintf("unknown nonlinearity %q; select from 'tanh' or 'relu'", opts.Nonlinearity)})
}

// NewLSTM returns a long short-term memory network, as torch.nn.LSTM (proj_size is not
// supported). Invalid arguments panic with *torch.Error (see the package documentation).
func NewLSTM(inputSize, hiddenSize int64, opts RNNOptions) *RNNBase {
	if opts.Nonlinearity != "" {
		panic(&torch.Error{Op: "nn.NewLSTM", Msg: fmt.Sprintf("Nonlinearity is an RNN option, got %q", opts.Nonlinearity)})
	}
	return newRNNBase(torch.ModeLSTM, inputSize, hiddenSize, opts)
}

// NewGRU returns a gated recurrent unit network, as torch.nn.GRU. Invalid arguments panic
// with *torch.Error (see the package documentation).
func NewGRU(inputSize, hiddenSize int64, opts RNNOptions) *RNNBase {
	if opts.Nonlinearity != "" {
		panic(&torch.Error{Op: "nn.NewGRU", Msg: fmt.Sprintf("Nonlinearity is an RNN option, got %q", opts.Nonlinearity)})
	}
	return newRNNBase(torch.ModeGRU, inputSize, hiddenSize, opts)
}

func gates(m torch.RNNMode) int64 {
	switch m {
	case torch.ModeLSTM:
		return 4
	case torch.ModeGRU:
		return 3
	}
	return 1
}

func newRNNBase(mode torch.RNNMode, inputSize, hiddenSize int64, opts RNNOptions) *RNNBase {
	name := mode.Class()
	if opts.NumLayers == 0 {
		opts.NumLayers = 1
	}
	fail := func(format string, a ...any) {
		panic(&torch.Error{Op: "nn.New" + name, Msg: fmt.Sprintf(format, a...)})
	}
	switch {
	case inputSize < 0:
		fail("input_size must be non-negative, got %d", inputSize)
	case hiddenSize <= 0:
		fail("hidden_size must be greater than zero, got %d", hiddenSize)
	case opts.NumLayers < 0:
		fail("num_layers must be greater than zero, got %d", opts.NumLayers)
	case !(opts.Dropout >= 0 && opts.Dropout <= 1):
		fail("dropout should be a number in range [0, 1] representing the probability of an element being zeroed, got %v", opts.Dropout)
	}
	r := &RNNBase{Mode: mode, InputSize: inputSize, HiddenSize: hiddenSize, Options: opts}
	g := gates(mode) * hiddenSize
	dirs := r.numDirections()
	for layer := int64(0); layer < opts.NumLayers; layer++ {
		in := inputSize
		if layer > 0 {
			in = hiddenSize * dirs
		}
		for d := int64(0); d < dirs; d++ {
			suffix := fmt.Sprintf("_l%d", layer)
			if d == 1 {
				suffix += "_reverse"
			}
			r.params = append(r.params,
				NamedParameter{"weight_ih" + suffix, newParam(g, in)},
				NamedParameter{"weight_hh" + suffix, newParam(g, hiddenSize)})
			if !opts.NoBias {
				r.params = append(r.params,
					NamedParameter{"bias_ih" + suffix, newParam(g)},
					NamedParameter{"bias_hh" + suffix, newParam(g)})
			}
		}
	}
	r.ResetParameters()
	return r
}

// ResetParameters draws every parameter from U(−1/√H, 1/√H) in parameter order, as
// RNNBase.reset_parameters, so that after torch.ManualSeed(s) the weights equal PyTorch's
// after torch.manual_seed(s).
func (r *RNNBase) ResetParameters() {
	stdv := 1.0 / math.Sqrt(float64(r.HiddenSize))
	torch.NoGrad(func() {
		for _, p := range r.params {
			p.Value.UniformInPlace(-stdv, stdv)
		}
	})
}

func (r *RNNBase) numDirections() int64 {
	if r.Options.Bidirectional {
		return 2
	}
	return 1
}

// Name returns PyTorch's class name for the module: "RNN", "LSTM" or "GRU".
func (r *RNNBase) Name() string { return r.Mode.Class() }

// NamedParameters returns the parameters in PyTorch's order (see RNNBase).
func (r *RNNBase) NamedParameters() []NamedParameter {
	return append([]NamedParameter(nil), r.params...)
}

// Parameter returns the parameter called name (e.g. "weight_hh_l1_reverse"), or nil.
func (r *RNNBase) Parameter(name string) *torch.Tensor {
	for _, p := range r.params {
		if p.Name == name {
			return p.Value
		}
	}
	return nil
}

// SetTraining switches dropout between layers on (training) or off.
func (r *RNNBase) SetTraining(train bool) { r.eval = !train }

// Training reports whether the module is in training mode (the default).
func (r *RNNBase) Training() bool { return !r.eval }

func (r *RNNBase) flatWeights() []*torch.Tensor {
	ws := make([]*torch.Tensor, len(r.params))
	for i, p := range r.params {
		ws[i] = p.Value
	}
	return ws
}

func (r *RNNBase) config() torch.RNNConfig {
	return torch.RNNConfig{
		HasBiases:     !r.Options.NoBias,
		NumLayers:     r.Options.NumLayers,
		Dropout:       r.Options.Dropout,
		Train:         !r.eval,
		Bidirectional: r.Options.Bidirectional,
		BatchFirst:    r.Options.BatchFirst,
		Fused:         !r.Options.LibtorchKernel,
	}
}

func fmtShape(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// checkInput validates the input's feature size, dtype and device against the parameters; it
// panics with a *torch.Error naming op.
func (r *RNNBase) checkInput(op string, x *torch.Tensor, wantDims int, dimNames string) {
	if len(r.params) == 0 || r.params[0].Value.Closed() {
		fail(op, "the module's parameters are closed")
	}
	if got := x.Dim(); got != wantDims {
		fail(op, "expected input with %d dims (%s), got %d", wantDims, dimNames, got)
	}
	if got := x.Size(-1); got != r.InputSize {
		fail(op, "expected input feature size %d, got %d", r.InputSize, got)
	}
	w := r.params[0].Value
	if got, want := x.DType(), w.DType(); got != want {
		fail(op, "input must have the type %v (the parameters' dtype), got type %v", want, got)
	}
	if got, want := x.Device(), w.Device(); got != want {
		fail(op, "input is on %v but the parameters are on %v", got, want)
	}
}

// hidden returns the initial state tensors for the kernel: zeros when h0 is nil, else h0's
// tensors after validation (a *torch.Error naming op if invalid). The returned tensors
// flagged as owned must be closed by the caller.
func (r *RNNBase) hidden(op string, h0 *State, batch int64, x *torch.Tensor) (hx []*torch.Tensor, owned bool) {
	want := []int64{r.Options.NumLayers * r.numDirections(), batch, r.HiddenSize}
	isLSTM := r.Mode == torch.ModeLSTM
	if h0 == nil {
		opts := []torch.Option{torch.WithDType(x.DType()), torch.WithDevice(x.Device())}
		hx = []*torch.Tensor{torch.Zeros(want, opts...)}
		if isLSTM {
			hx = append(hx, torch.Zeros(want, opts...))
		}
		return hx, true
	}
	check := func(what string, t *torch.Tensor) {
		if t.Closed() {
			fail(op, "%s is nil or closed%s", what, closedHow(t))
		}
		if got := t.Shape(); !slices.Equal(got, want) {
			fail(op, "expected %s size %s, got %s", what, fmtShape(want), fmtShape(got))
		}
		if got, w := t.DType(), x.DType(); got != w {
			fail(op, "expected %s with dtype %v (the input's), got %v", what, w, got)
		}
		if got, w := t.Device(), x.Device(); got != w {
			fail(op, "expected %s on %v (the input's device), got %v", what, w, got)
		}
	}
	check("hidden", h0.H)
	hx = []*torch.Tensor{h0.H}
	if isLSTM {
		check("cell", h0.C)
		hx = append(hx, h0.C)
	} else if h0.C != nil {
		fail(op, "the initial state has a cell state C, which only LSTM uses")
	}
	return hx, false
}

// Forward runs the layers over a padded batch x of shape (seq, batch, InputSize) or, with
// BatchFirst, (batch, seq, InputSize), as module(x, h0). h0 nil means zeros. It returns the
// last layer's outputs, (seq, batch, D·HiddenSize) (batch first with BatchFirst), and the
// final state, (L·D, batch, HiddenSize) each. The caller owns out and hn. Unbatched (2-D)
// input is rejected. Invalid input or state panics with a *torch.Error whose Op is
// "nn.<Name>.Forward" (nn.LSTM.Forward, say), as PyTorch raises; so does a failure of the
// kernel, with the kernel's message.
func (r *RNNBase) Forward(x *torch.Tensor, h0 *State) (out *torch.Tensor, hn State) {
	op := "nn." + r.Name() + ".Forward"
	if x.Closed() {
		fail(op, "input is nil or closed")
	}
	names := "seq, batch, feature"
	batchDim := 1
	if r.Options.BatchFirst {
		names, batchDim = "batch, seq, feature", 0
	}
	r.checkInput(op, x, 3, names)
	hx, owned := r.hidden(op, h0, x.Size(batchDim), x)
	if owned {
		defer closeAll(hx)
	}
	defer func() {
		if p := recover(); p != nil {
			panic(renamed(op, p))
		}
	}()
	out, hn.H, hn.C = torch.RNNForward(r.Mode, x, hx, r.flatWeights(), r.config())
	hn.startedFrom(h0)
	return out, hn
}

// ForwardPacked runs the layers over a packed batch, as module(packed, h0). h0 (nil means
// zeros) and the returned hn are in the caller's batch order: when x has SortedIndices, h0 is
// permuted into packed order before the kernel and hn back afterwards (PyTorch's
// permute_hidden). out shares x's BatchSizes and indices (as new handles); the caller owns out
// and hn and still owns x. Invalid input or state panics with a *torch.Error whose Op is
// "nn.<Name>.ForwardPacked".
func (r *RNNBase) ForwardPacked(x PackedSequence, h0 *State) (out PackedSequence, hn State) {
	op := "nn." + r.Name() + ".ForwardPacked"
	checkPacked(op, x)
	r.checkInput(op, x.Data, 2, "packed data: sum of lengths, feature")
	defer func() {
		if p := recover(); p != nil {
			out.Close()
			hn.Close()
			panic(renamed(op, p))
		}
	}()
	batch := x.BatchSizes.Int64s()[0]
	if x.SortedIndices != nil && x.SortedIndices.Numel() != batch {
		fail(op, "packed sequence has %d sorted indices for a batch of %d", x.SortedIndices.Numel(), batch)
	}
	hx, owned := r.hidden(op, h0, batch, x.Data)
	if owned {
		defer closeAll(hx)
	}
	if x.SortedIndices != nil && !owned { // zeros need no permuting
		permuted := make([]*torch.Tensor, len(hx))
		defer closeAll(permuted)
		for i, h := range hx {
			permuted[i] = h.IndexSelect(1, x.SortedIndices)
		}
		hx = permuted
	}
	data, h, c := torch.RNNForwardPacked(r.Mode, x.Data, x.BatchSizes, hx, r.flatWeights(), r.config())
	out = PackedSequence{Data: data, BatchSizes: x.BatchSizes.Detach(),
		SortedIndices: detachOpt(x.SortedIndices), UnsortedIndices: detachOpt(x.UnsortedIndices)}
	hn = State{H: h, C: c}
	if x.UnsortedIndices != nil {
		hn = State{}
		defer h.Close()
		defer c.Close()
		hn.H = h.IndexSelect(1, x.UnsortedIndices)
		if c != nil {
			hn.C = c.IndexSelect(1, x.UnsortedIndices)
		}
	}
	hn.startedFrom(h0)
	return out, hn
}

func closeAll(ts []*torch.Tensor) {
	for _, t := range ts {
		t.Close()
	}
}
