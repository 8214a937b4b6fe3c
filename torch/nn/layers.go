package nn

import (
	"fmt"
	"math"

	"github.com/seqtorch/seqtorch/torch"
)

// newParam returns a float32 CPU tensor of the given shape that requires gradients and
// belongs to no scope (the module owns it). Its values are placeholders for the caller's
// initialisation (torch.empty in PyTorch).
func newParam(shape ...int64) *torch.Tensor {
	return NewParameter(torch.Zeros(shape))
}

// NewParameter makes t a parameter, as torch.nn.Parameter(t): it sets requires_grad and
// takes t out of any open scope (torch.Unscope), so that t lives as long as the module that
// registers it (Modules.AddParameter) and is freed by that module's Close. It returns t.
func NewParameter(t *torch.Tensor) *torch.Tensor {
	torch.Unscope(t)
	return t.SetRequiresGrad(true)
}

func checkSizes(op string, sizes ...int64) {
	for _, s := range sizes {
		if s < 0 {
			panic(&torch.Error{Op: op, Msg: fmt.Sprintf("sizes must be non-negative, got %v", sizes)})
		}
	}
}

// ---- Linear ----

// LinearOptions configures NewLinear; the zero value is PyTorch's default (bias=True).
type LinearOptions struct {
	NoBias bool // bias=False
}

// Linear applies y = x·Wᵀ + b, as torch.nn.Linear. Parameters: weight (out, in), bias (out).
type Linear struct {
	InFeatures, OutFeatures int64
	Weight                  *torch.Tensor
	Bias                    *torch.Tensor // nil with NoBias
}

// NewLinear returns a Linear layer initialised as PyTorch's reset_parameters does:
// kaiming_uniform_(weight, a=√5), i.e. U(−1/√in, 1/√in), then bias from U(−1/√in, 1/√in),
// drawn in that order from libtorch's default generator, so that after torch.ManualSeed(s) the
// weights equal PyTorch's after torch.manual_seed(s). Negative sizes panic with *torch.Error.
func NewLinear(in, out int64, opts LinearOptions) *Linear {
	checkSizes("nn.NewLinear", in, out)
	l := &Linear{InFeatures: in, OutFeatures: out, Weight: newParam(out, in)}
	if !opts.NoBias {
		l.Bias = newParam(out)
	}
	// init.kaiming_uniform_(w, a=math.sqrt(5)), computed exactly as torch/nn/init.py does so
	// the float64 bound (and hence every float32 sample) is bit-identical. PyTorch skips
	// tensors with a zero-sized dimension.
	if in > 0 && out > 0 {
		a := math.Sqrt(5)
		gain := math.Sqrt(2.0 / (1 + a*a))
		std := gain / math.Sqrt(float64(in))
		bound := math.Sqrt(3.0) * std
		torch.NoGrad(func() { l.Weight.UniformInPlace(-bound, bound) })
	}
	if l.Bias != nil {
		bound := 0.0
		if in > 0 {
			bound = 1 / math.Sqrt(float64(in))
		}
		torch.NoGrad(func() { l.Bias.UniformInPlace(-bound, bound) })
	}
	return l
}

// Forward returns x·Wᵀ + b for x of shape (*, in).
func (l *Linear) Forward(x *torch.Tensor) *torch.Tensor { return torch.Linear(x, l.Weight, l.Bias) }

// NamedParameters returns weight and bias (when present).
func (l *Linear) NamedParameters() []NamedParameter {
	ps := []NamedParameter{{"weight", l.Weight}}
	if l.Bias != nil {
		ps = append(ps, NamedParameter{"bias", l.Bias})
	}
	return ps
}

// SetTraining is a no-op: Linear behaves the same in both modes.
func (l *Linear) SetTraining(bool) {}

// ---- Embedding ----

// EmbeddingOptions configures NewEmbedding; the zero value is PyTorch's default.
type EmbeddingOptions struct {
	// PaddingIdx, when set, names a row that is initialised to zeros and gets no gradient.
	// Negative values count from the end, as in PyTorch.
	PaddingIdx *int64
}

// Embedding is a lookup table of NumEmbeddings vectors of size EmbeddingDim, as
// torch.nn.Embedding. Parameter: weight (num, dim).
type Embedding struct {
	NumEmbeddings, EmbeddingDim int64
	Weight                      *torch.Tensor
	PaddingIdx                  int64 // the padding row, or -1 for none
}

func normPadding(op string, num int64, p *int64) int64 {
	if p == nil {
		return -1
	}
	i := *p
	if i < -num || i >= num {
		panic(&torch.Error{Op: op, Msg: fmt.Sprintf("padding_idx %d must be within num_embeddings (%d)", i, num)})
	}
	if i < 0 {
		i += num
	}
	return i
}

// NewEmbedding returns an Embedding initialised from N(0, 1) with the padding row (if any)
// zeroed, as PyTorch's reset_parameters. A padding index out of range panics with *torch.Error.
func NewEmbedding(num, dim int64, opts EmbeddingOptions) *Embedding {
	checkSizes("nn.NewEmbedding", num, dim)
	pad := normPadding("nn.NewEmbedding", num, opts.PaddingIdx)
	e := &Embedding{NumEmbeddings: num, EmbeddingDim: dim, Weight: newParam(num, dim), PaddingIdx: pad}
	torch.NoGrad(func() { e.Weight.NormalInPlace(0, 1) })
	if pad >= 0 {
		torch.NoGrad(func() { // as PyTorch's _fill_padding_idx_with_zero
			row := e.Weight.Narrow(0, pad, 1) // a view: filling it zeroes the weight's row
			row.Fill(0)
			row.Close()
		})
	}
	return e
}

// PretrainedOptions are nn.Embedding.from_pretrained's keyword arguments; the zero value is
// PyTorch's defaults (freeze=True, padding_idx=None).
type PretrainedOptions struct {
	NoFreeze   bool   // freeze=False: the weight requires gradients and is trained
	PaddingIdx *int64 // the padding row (no gradient; negative counts from the end), or nil
}

// EmbeddingFromPretrained wraps a (num, dim) weight matrix, as
// nn.Embedding.from_pretrained(w, freeze, padding_idx). As in PyTorch the module's weight
// shares w's storage (the caller still owns and may close its own handle w) and the padding
// row is not zeroed. Frozen (the default) the weight does not require gradients. A w that is
// not 2-D or a padding index out of range panics with *torch.Error.
func EmbeddingFromPretrained(w *torch.Tensor, o PretrainedOptions) *Embedding {
	if w.Dim() != 2 {
		panic(&torch.Error{Op: "nn.EmbeddingFromPretrained", Msg: fmt.Sprintf("embeddings parameter is expected to be 2-dimensional, got %d dims", w.Dim())})
	}
	s := w.Shape()
	pad := normPadding("nn.EmbeddingFromPretrained", s[0], o.PaddingIdx)
	weight := w.Detach().SetRequiresGrad(o.NoFreeze)
	torch.Unscope(weight) // the module owns it
	return &Embedding{NumEmbeddings: s[0], EmbeddingDim: s[1], Weight: weight, PaddingIdx: pad}
}

// Forward looks up the rows of the int64 indices idx: shape (*) gives (*, dim).
func (e *Embedding) Forward(idx *torch.Tensor) *torch.Tensor {
	return torch.Embedding(e.Weight, idx, e.PaddingIdx)
}

// NamedParameters returns weight.
func (e *Embedding) NamedParameters() []NamedParameter {
	return []NamedParameter{{"weight", e.Weight}}
}

// SetTraining is a no-op: Embedding behaves the same in both modes.
func (e *Embedding) SetTraining(bool) {}

// ---- Dropout ----

// Dropout zeroes elements with probability P during training and scales the rest by
// 1/(1−P), as torch.nn.Dropout. The zero value (P 0) is in training mode, like a new PyTorch
// module; Dropout{P: 0.5} is usable directly.
type Dropout struct {
	P    float64
	eval bool
}

// NewDropout returns a Dropout layer in training mode. p outside [0, 1] panics with
// *torch.Error, as PyTorch raises ValueError.
func NewDropout(p float64) *Dropout {
	if p < 0 || p > 1 || math.IsNaN(p) {
		panic(&torch.Error{Op: "nn.NewDropout", Msg: fmt.Sprintf("dropout probability has to be between 0 and 1, but got %v", p)})
	}
	return &Dropout{P: p}
}

// Forward applies dropout in training mode and returns a copy of x in evaluation mode.
func (d *Dropout) Forward(x *torch.Tensor) *torch.Tensor { return torch.Dropout(x, d.P, !d.eval) }

// NamedParameters returns nothing: Dropout has no parameters.
func (d *Dropout) NamedParameters() []NamedParameter { return nil }

// SetTraining switches dropout on (training) or off (evaluation).
func (d *Dropout) SetTraining(train bool) { d.eval = !train }

// Training reports whether dropout is active.
func (d *Dropout) Training() bool { return !d.eval }
