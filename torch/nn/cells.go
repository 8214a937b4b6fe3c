package nn

import (
	"fmt"
	"math"

	"github.com/seqtorch/seqtorch/torch"
)

// CellOptions configures NewRNNCell, NewLSTMCell and NewGRUCell; the zero value is PyTorch's
// defaults (bias=True, nonlinearity='tanh').
type CellOptions struct {
	NoBias       bool   // bias=False
	Nonlinearity string // "tanh" (or "") or "relu"; RNNCell only
}

// RNNCellBase holds the parameters of one recurrent cell, as torch.nn.RNNCellBase: weight_ih
// (G·H, in), weight_hh (G·H, H) and, unless NoBias, bias_ih (G·H) and bias_hh (G·H), with
// G = 1 (RNNCell), 4 (LSTMCell) or 3 (GRUCell). RNNCell, LSTMCell and GRUCell embed it.
type RNNCellBase struct {
	InputSize, HiddenSize int64
	WeightIH, WeightHH    *torch.Tensor
	BiasIH, BiasHH        *torch.Tensor // nil with NoBias
}

func newCellBase(op string, in, hidden, chunks int64, noBias bool) RNNCellBase {
	checkSizes(op, in, hidden)
	c := RNNCellBase{InputSize: in, HiddenSize: hidden,
		WeightIH: newParam(chunks*hidden, in), WeightHH: newParam(chunks*hidden, hidden)}
	if !noBias {
		c.BiasIH, c.BiasHH = newParam(chunks*hidden), newParam(chunks*hidden)
	}
	c.ResetParameters()
	return c
}

// ResetParameters draws every parameter from U(−1/√H, 1/√H) in parameter order (U(0, 0)
// when H is 0), as RNNCellBase.reset_parameters, so that after torch.ManualSeed(s) the
// weights equal PyTorch's after torch.manual_seed(s).
func (c *RNNCellBase) ResetParameters() {
	stdv := 0.0
	if c.HiddenSize > 0 {
		stdv = 1.0 / math.Sqrt(float64(c.HiddenSize))
	}
	for _, p := range c.NamedParameters() {
		InitUniform(p.Value, -stdv, stdv)
	}
}

// NamedParameters returns weight_ih, weight_hh, bias_ih, bias_hh (the biases unless NoBias).
func (c *RNNCellBase) NamedParameters() []NamedParameter {
	ps := []NamedParameter{{"weight_ih", c.WeightIH}, {"weight_hh", c.WeightHH}}
	if c.BiasIH != nil {
		ps = append(ps, NamedParameter{"bias_ih", c.BiasIH}, NamedParameter{"bias_hh", c.BiasHH})
	}
	return ps
}

// SetTraining is a no-op: cells behave the same in both modes.
func (c *RNNCellBase) SetTraining(bool) {}

// cellInput checks input (1-D unbatched or 2-D batched, as PyTorch asserts) and returns it
// batched, with whether it was.
func (c *RNNCellBase) cellInput(op string, input *torch.Tensor) (*torch.Tensor, bool) {
	switch input.Dim() {
	case 1:
		return input.Unsqueeze(0), false
	case 2:
		return input.Alias(), true
	}
	panic(&torch.Error{Op: op, Msg: fmt.Sprintf("Expected input to be 1-D or 2-D but received %d-D tensor", input.Dim())})
}

// state returns h batched: zeros (batch, H) of the input's dtype and device when h is nil.
func (c *RNNCellBase) state(h, input *torch.Tensor, batched bool) *torch.Tensor {
	if h == nil {
		return torch.Zeros([]int64{input.Size(0), c.HiddenSize}, torch.WithDType(input.DType()), torch.WithDevice(input.Device()))
	}
	if !batched {
		return h.Unsqueeze(0)
	}
	return h.Alias()
}

func unbatch(t *torch.Tensor, batched bool) *torch.Tensor {
	if batched {
		return t
	}
	return t.SqueezeDim(0)
}

// ---- RNNCell ----

// RNNCell is an Elman RNN cell, as torch.nn.RNNCell:
//
//	h' = tanh(W_ih·x + b_ih + W_hh·h + b_hh)    (ReLU instead of tanh with Nonlinearity "relu")
type RNNCell struct {
	RNNCellBase
	Nonlinearity string // "tanh" or "relu"
}

// NewRNNCell returns an RNNCell initialised as PyTorch's (see RNNCellBase.ResetParameters).
// Negative sizes or an unknown nonlinearity panic with *torch.Error.
func NewRNNCell(inputSize, hiddenSize int64, opts CellOptions) *RNNCell {
	nl := opts.Nonlinearity
	switch nl {
	case "":
		nl = "tanh"
	case "tanh", "relu":
	default:
		panic(&torch.Error{Op: "nn.NewRNNCell", Msg: fmt.Sprintf("Unknown nonlinearity: %s", nl)})
	}
	return &RNNCell{RNNCellBase: newCellBase("nn.NewRNNCell", inputSize, hiddenSize, 1, opts.NoBias), Nonlinearity: nl}
}

// Forward returns the next hidden state h' for input x (batch, in) and state h (batch, H),
// or unbatched x (in) and h (H); a nil h is zeros. Invalid inputs panic with *torch.Error.
func (c *RNNCell) Forward(x, h *torch.Tensor) *torch.Tensor {
	s := torch.NewScope()
	defer s.Close()
	in, batched := c.cellInput("nn.RNNCell.Forward", x)
	hx := c.state(h, in, batched)
	var out *torch.Tensor
	if c.Nonlinearity == "relu" {
		out = torch.RnnReluCell(in, hx, c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH)
	} else {
		out = torch.RnnTanhCell(in, hx, c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH)
	}
	return s.Escape(unbatch(out, batched))
}

// ---- LSTMCell ----

// LSTMCell is a long short-term memory cell, as torch.nn.LSTMCell; the four gate blocks of
// the weights are stacked in PyTorch's order i, f, g, o:
//
//	i = σ(W_ii·x + b_ii + W_hi·h + b_hi)
//	f = σ(W_if·x + b_if + W_hf·h + b_hf)
//	g = tanh(W_ig·x + b_ig + W_hg·h + b_hg)
//	o = σ(W_io·x + b_io + W_ho·h + b_ho)
//	c' = f ⊙ c + i ⊙ g
//	h' = o ⊙ tanh(c')
type LSTMCell struct{ RNNCellBase }

// NewLSTMCell returns an LSTMCell initialised as PyTorch's (see RNNCellBase.ResetParameters).
// Negative sizes or a Nonlinearity panic with *torch.Error.
func NewLSTMCell(inputSize, hiddenSize int64, opts CellOptions) *LSTMCell {
	if opts.Nonlinearity != "" {
		panic(&torch.Error{Op: "nn.NewLSTMCell", Msg: fmt.Sprintf("Nonlinearity is an RNNCell option, got %q", opts.Nonlinearity)})
	}
	return &LSTMCell{newCellBase("nn.NewLSTMCell", inputSize, hiddenSize, 4, opts.NoBias)}
}

// Forward returns the next state (h', c') for input x (batch, in) and state hx (H and C,
// each (batch, H)), or unbatched x (in) and states (H); a zero State (nil H and C) is zeros.
// Invalid inputs panic with *torch.Error.
func (c *LSTMCell) Forward(x *torch.Tensor, hx State) State {
	s := torch.NewScope()
	defer s.Close()
	in, batched := c.cellInput("nn.LSTMCell.Forward", x)
	if (hx.H == nil) != (hx.C == nil) {
		panic(&torch.Error{Op: "nn.LSTMCell.Forward", Msg: "the state needs both H and C, or neither"})
	}
	h := c.state(hx.H, in, batched)
	cc := c.state(hx.C, in, batched)
	h1, c1 := torch.LstmCell(in, []*torch.Tensor{h, cc}, c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH)
	return State{H: s.Escape(unbatch(h1, batched)), C: s.Escape(unbatch(c1, batched))}
}

// ---- GRUCell ----

// GRUCell is a gated recurrent unit cell, as torch.nn.GRUCell; the three gate blocks of the
// weights are stacked in PyTorch's order r, z, n:
//
//	r = σ(W_ir·x + b_ir + W_hr·h + b_hr)
//	z = σ(W_iz·x + b_iz + W_hz·h + b_hz)
//	n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))
//	h' = (1 − z) ⊙ n + z ⊙ h
type GRUCell struct{ RNNCellBase }

// NewGRUCell returns a GRUCell initialised as PyTorch's (see RNNCellBase.ResetParameters).
// Negative sizes or a Nonlinearity panic with *torch.Error.
func NewGRUCell(inputSize, hiddenSize int64, opts CellOptions) *GRUCell {
	if opts.Nonlinearity != "" {
		panic(&torch.Error{Op: "nn.NewGRUCell", Msg: fmt.Sprintf("Nonlinearity is an RNNCell option, got %q", opts.Nonlinearity)})
	}
	return &GRUCell{newCellBase("nn.NewGRUCell", inputSize, hiddenSize, 3, opts.NoBias)}
}

// Forward returns the next hidden state h' for input x (batch, in) and state h (batch, H),
// or unbatched x (in) and h (H); a nil h is zeros. Invalid inputs panic with *torch.Error.
func (c *GRUCell) Forward(x, h *torch.Tensor) *torch.Tensor {
	s := torch.NewScope()
	defer s.Close()
	in, batched := c.cellInput("nn.GRUCell.Forward", x)
	hx := c.state(h, in, batched)
	out := torch.GruCell(in, hx, c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH)
	return s.Escape(unbatch(out, batched))
}
