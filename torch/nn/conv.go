package nn

import (
	"fmt"
	"math"

	"github.com/seqtorch/seqtorch/torch"
)

// Conv1dOptions are torch.nn.Conv1d's keyword arguments; the zero value is PyTorch's
// defaults (stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros').
type Conv1dOptions struct {
	Stride  int64 // 0 means 1
	Padding int64 // implicit padding on both sides
	// PaddingString is PyTorch's string form of padding, "same" or "valid", and takes the place
	// of Padding when set. "same" pads so that the output has the input's length (stride 1
	// only; for an even total padding d·(k−1) the extra element goes on the right).
	PaddingString string
	Dilation      int64  // 0 means 1
	Groups        int64  // 0 means 1
	NoBias        bool   // bias=False
	PaddingMode   string // "zeros" (or ""), "reflect", "replicate" or "circular"
}

// Conv1d is a 1-d convolution over an input (N, C_in, L) or (C_in, L), as torch.nn.Conv1d:
//
//	out(n, j) = bias(j) + Σ_{c in group(j)} Σ_k weight(j, c, k) · x(n, c, stride·t + dilation·k − padding)
//
// Parameters: weight (out, in/groups, kernel) and, unless NoBias, bias (out). The output length
// is ⌊(L + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1. With a PaddingMode other than
// "zeros" the input is padded by that mode (torch.nn.functional.pad) and convolved without
// implicit padding, as PyTorch does.
type Conv1d struct {
	InChannels, OutChannels, KernelSize int64
	Options                             Conv1dOptions // normalised: Stride, Dilation, Groups ≥ 1, PaddingMode set
	Weight                              *torch.Tensor
	Bias                                *torch.Tensor // nil with NoBias
	pad                                 [2]int64      // _reversed_padding_repeated_twice
}

// NewConv1d returns a Conv1d initialised as PyTorch's reset_parameters: weight from
// kaiming_uniform_(a=√5), i.e. U(−1/√fan_in, 1/√fan_in) with fan_in = in/groups·kernel, then
// bias from U(−1/√fan_in, 1/√fan_in), drawn in that order. Invalid arguments (groups not
// dividing the channels, an unknown padding string or mode, "same" with a stride) panic with
// *torch.Error, as PyTorch raises ValueError.
func NewConv1d(inChannels, outChannels, kernelSize int64, opts Conv1dOptions) *Conv1d {
	const op = "nn.NewConv1d"
	fail := func(format string, a ...any) { panic(&torch.Error{Op: op, Msg: fmt.Sprintf(format, a...)}) }
	checkSizes(op, inChannels, outChannels, kernelSize, opts.Padding)
	for _, p := range []*int64{&opts.Stride, &opts.Dilation, &opts.Groups} {
		if *p == 0 {
			*p = 1
		}
	}
	if opts.PaddingMode == "" {
		opts.PaddingMode = "zeros"
	}
	switch {
	case opts.Groups < 0:
		fail("groups must be a positive integer")
	case inChannels%opts.Groups != 0:
		fail("in_channels must be divisible by groups")
	case outChannels%opts.Groups != 0:
		fail("out_channels must be divisible by groups")
	case opts.Stride < 0 || opts.Dilation < 0:
		fail("stride and dilation must be positive, got %d and %d", opts.Stride, opts.Dilation)
	}
	c := &Conv1d{InChannels: inChannels, OutChannels: outChannels, KernelSize: kernelSize}
	switch opts.PaddingString {
	case "":
		c.pad = [2]int64{opts.Padding, opts.Padding}
	case "valid":
	case "same":
		if opts.Stride != 1 {
			fail("padding='same' is not supported for strided convolutions")
		}
		total := opts.Dilation * (kernelSize - 1)
		c.pad = [2]int64{total / 2, total - total/2}
	default:
		fail("Invalid padding string %q, should be one of {'same', 'valid'}", opts.PaddingString)
	}
	switch opts.PaddingMode {
	case "zeros", "reflect", "replicate", "circular":
	default:
		fail("padding_mode must be one of {'zeros', 'reflect', 'replicate', 'circular'}, but got padding_mode='%s'", opts.PaddingMode)
	}
	c.Options = opts
	c.Weight = newParam(outChannels, inChannels/opts.Groups, kernelSize)
	if !opts.NoBias {
		c.Bias = newParam(outChannels)
	}
	c.ResetParameters()
	return c
}

// ResetParameters redraws the parameters as NewConv1d does.
func (c *Conv1d) ResetParameters() {
	InitKaimingUniform(c.Weight, KaimingOptions{A: math.Sqrt(5)})
	if c.Bias != nil {
		fanIn, _ := CalculateFanInAndFanOut(c.Weight)
		if fanIn != 0 {
			bound := 1 / math.Sqrt(float64(fanIn))
			InitUniform(c.Bias, -bound, bound)
		}
	}
}

// Forward convolves x, (N, C_in, L) or unbatched (C_in, L), into (N, C_out, L_out) or
// (C_out, L_out). Invalid shapes panic with *torch.Error.
func (c *Conv1d) Forward(x *torch.Tensor) *torch.Tensor {
	o := c.Options
	stride, dil := []int64{o.Stride}, []int64{o.Dilation}
	if o.PaddingMode != "zeros" {
		s := torch.NewScope()
		defer s.Close()
		padded := x.Pad(c.pad[:], o.PaddingMode, nil)
		return s.Escape(torch.Conv1d(padded, c.Weight, c.Bias, stride, []int64{0}, dil, o.Groups))
	}
	if o.PaddingString != "" {
		return torch.Conv1dPadding(x, c.Weight, c.Bias, stride, o.PaddingString, dil, o.Groups)
	}
	return torch.Conv1d(x, c.Weight, c.Bias, stride, []int64{o.Padding}, dil, o.Groups)
}

// NamedParameters returns weight and bias (when present).
func (c *Conv1d) NamedParameters() []NamedParameter {
	ps := []NamedParameter{{"weight", c.Weight}}
	if c.Bias != nil {
		ps = append(ps, NamedParameter{"bias", c.Bias})
	}
	return ps
}

// SetTraining is a no-op: Conv1d behaves the same in both modes.
func (c *Conv1d) SetTraining(bool) {}
