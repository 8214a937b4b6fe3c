package nn

import (
	"slices"

	"github.com/seqtorch/seqtorch/torch"
)

// LayerNormOptions configures NewLayerNorm; the zero value is PyTorch's defaults (eps=1e-5,
// elementwise_affine=True, bias=True).
type LayerNormOptions struct {
	// Eps is added to the variance for numerical stability; 0 means PyTorch's 1e-5 (an eps of
	// exactly zero, which PyTorch accepts, is not expressible).
	Eps                 float64
	NoElementwiseAffine bool // elementwise_affine=False: no weight and no bias
	NoBias              bool // bias=False (PyTorch 2.1 and later): a weight but no bias
}

// LayerNorm normalises over the trailing dimensions NormalizedShape, as torch.nn.LayerNorm
// (Ba et al., 2016):
//
//	y = (x − E[x]) / √(Var[x] + ε) · γ + β
//
// with the mean and the biased variance taken over the last len(NormalizedShape) dimensions.
// Parameters: weight γ (NormalizedShape, initialised to ones) and bias β (zeros), unless
// NoElementwiseAffine (neither) or NoBias (no β).
type LayerNorm struct {
	NormalizedShape []int64
	Eps             float64
	Weight, Bias    *torch.Tensor // nil when absent
}

// NewLayerNorm returns a LayerNorm over the trailing dimensions normalizedShape (one size,
// []int64{d}, for the usual last-dimension normalisation). Negative sizes panic with
// *torch.Error.
func NewLayerNorm(normalizedShape []int64, opts LayerNormOptions) *LayerNorm {
	checkSizes("nn.NewLayerNorm", normalizedShape...)
	l := &LayerNorm{NormalizedShape: slices.Clone(normalizedShape), Eps: opts.Eps}
	if l.Eps == 0 {
		l.Eps = 1e-5
	}
	if !opts.NoElementwiseAffine {
		l.Weight = newParam(normalizedShape...)
		InitOnes(l.Weight)
		if !opts.NoBias {
			l.Bias = newParam(normalizedShape...) // zeros, as init.zeros_
		}
	}
	return l
}

// Forward normalises x, of shape (*, NormalizedShape...). A mismatching shape panics with
// *torch.Error.
func (l *LayerNorm) Forward(x *torch.Tensor) *torch.Tensor {
	return torch.LayerNorm(x, l.NormalizedShape, l.Weight, l.Bias, l.Eps, true)
}

// NamedParameters returns weight and bias (those present).
func (l *LayerNorm) NamedParameters() []NamedParameter {
	var ps []NamedParameter
	if l.Weight != nil {
		ps = append(ps, NamedParameter{"weight", l.Weight})
	}
	if l.Bias != nil {
		ps = append(ps, NamedParameter{"bias", l.Bias})
	}
	return ps
}

// SetTraining is a no-op: LayerNorm behaves the same in both modes.
func (l *LayerNorm) SetTraining(bool) {}
