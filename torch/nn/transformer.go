package nn

import (
	"fmt"
	"strconv"

	"github.com/seqtorch/seqtorch/torch"
)

// TransformerEncoderLayerOptions are torch.nn.TransformerEncoderLayer's keyword arguments;
// the zero value is PyTorch's defaults (dim_feedforward=2048, dropout=0.1, activation=relu,
// layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True).
type TransformerEncoderLayerOptions struct {
	DimFeedforward int64    // 0 means 2048
	Dropout        *float64 // nil means 0.1; point at 0 for none
	// Activation is "relu" (or "") or "gelu"; ActivationFunc, when set, is used instead (a
	// callable activation in PyTorch).
	Activation     string
	ActivationFunc func(x *torch.Tensor) *torch.Tensor
	LayerNormEps   float64 // 0 means 1e-5
	BatchFirst     bool    // src and output are (batch, seq, feature)
	NormFirst      bool    // pre-norm: LayerNorm before attention and feed-forward
	NoBias         bool    // bias=False (PyTorch 2.1 and later): no bias in the linear and norm layers
}

// TransformerEncoderLayer is self-attention followed by a feed-forward network, each with a
// residual connection and layer normalisation, as torch.nn.TransformerEncoderLayer:
//
//	post-norm (default):  x = norm1(x + SA(x));  x = norm2(x + FF(x))
//	pre-norm (NormFirst): x = x + SA(norm1(x));  x = x + FF(norm2(x))
//	SA(x) = dropout1(self_attn(x, x, x))
//	FF(x) = dropout2(linear2(dropout(activation(linear1(x)))))
//
// Children, in PyTorch's order (state_dict names self_attn.*, linear1.*, linear2.*, norm1.*,
// norm2.*): self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2.
//
// PyTorch (1.12 and later) runs a fused kernel (torch._transformer_encoder_layer_fwd) in
// evaluation without gradients when the inputs allow it; it computes the same function to
// float rounding. seqtorch always runs the layers above.
type TransformerEncoderLayer struct {
	Modules
	SelfAttn                    *MultiheadAttention
	Linear1, Linear2            *Linear
	Norm1, Norm2                *LayerNorm
	Dropout, Dropout1, Dropout2 *Dropout
	NormFirst                   bool
	activation                  func(x *torch.Tensor) *torch.Tensor
	dModel, nhead               int64
	opts                        TransformerEncoderLayerOptions
}

// NewTransformerEncoderLayer returns a layer for inputs of dModel features with nhead heads,
// initialised as PyTorch's: self_attn (see NewMultiheadAttention), then linear1 and linear2
// (see NewLinear); the norms start at weight 1, bias 0. Invalid arguments panic with
// *torch.Error.
func NewTransformerEncoderLayer(dModel, nhead int64, opts TransformerEncoderLayerOptions) *TransformerEncoderLayer {
	return newEncoderLayer(dModel, nhead, opts, true)
}

// newEncoderLayer builds the layer; without draw it draws no random numbers and leaves the
// parameters zero (for copies).
func newEncoderLayer(dModel, nhead int64, opts TransformerEncoderLayerOptions, draw bool) *TransformerEncoderLayer {
	if opts.DimFeedforward == 0 {
		opts.DimFeedforward = 2048
	}
	p := 0.1
	if opts.Dropout != nil {
		p = *opts.Dropout
	}
	opts.Dropout = &p
	if opts.LayerNormEps == 0 {
		opts.LayerNormEps = 1e-5
	}
	l := &TransformerEncoderLayer{NormFirst: opts.NormFirst, dModel: dModel, nhead: nhead, opts: opts}
	switch {
	case opts.ActivationFunc != nil:
		l.activation = opts.ActivationFunc
	case opts.Activation == "" || opts.Activation == "relu":
		l.activation = (*torch.Tensor).Relu
	case opts.Activation == "gelu":
		l.activation = func(x *torch.Tensor) *torch.Tensor { return x.Gelu("none") }
	default:
		panic(&torch.Error{Op: "nn.NewTransformerEncoderLayer", Msg: fmt.Sprintf("activation should be relu/gelu, not %s", opts.Activation)})
	}
	mha := MultiheadAttentionOptions{Dropout: p, NoBias: opts.NoBias, BatchFirst: opts.BatchFirst}
	l.SelfAttn = newMultiheadAttention(dModel, nhead, mha, draw)
	if draw {
		l.SelfAttn.resetParameters()
	}
	l.Linear1 = newLinear(dModel, opts.DimFeedforward, opts.NoBias, draw)
	l.Dropout = NewDropout(p)
	l.Linear2 = newLinear(opts.DimFeedforward, dModel, opts.NoBias, draw)
	norm := LayerNormOptions{Eps: opts.LayerNormEps, NoBias: opts.NoBias}
	l.Norm1 = NewLayerNorm([]int64{dModel}, norm)
	l.Norm2 = NewLayerNorm([]int64{dModel}, norm)
	l.Dropout1, l.Dropout2 = NewDropout(p), NewDropout(p)
	l.Add("self_attn", l.SelfAttn)
	l.Add("linear1", l.Linear1)
	l.Add("dropout", l.Dropout)
	l.Add("linear2", l.Linear2)
	l.Add("norm1", l.Norm1)
	l.Add("norm2", l.Norm2)
	l.Add("dropout1", l.Dropout1)
	l.Add("dropout2", l.Dropout2)
	return l
}

// newLinear is NewLinear with draw, and without it a Linear of zeros that draws no random
// numbers (for copies).
func newLinear(in, out int64, noBias, draw bool) *Linear {
	if draw {
		return NewLinear(in, out, LinearOptions{NoBias: noBias})
	}
	checkSizes("nn.NewLinear", in, out)
	l := &Linear{InFeatures: in, OutFeatures: out, Weight: newParam(out, in)}
	if !noBias {
		l.Bias = newParam(out)
	}
	return l
}

// Copy returns a deep copy of the layer, as copy.deepcopy: new parameters holding the same
// values (and requires_grad flags), the same options and training mode. It draws no random
// numbers.
func (l *TransformerEncoderLayer) Copy() *TransformerEncoderLayer {
	c := newEncoderLayer(l.dModel, l.nhead, l.opts, false)
	copyParameters(c, l)
	c.SetTraining(l.Training())
	return c
}

// Forward encodes src, (S, N, E) — (N, S, E) with BatchFirst, or unbatched (S, E) — with the
// optional srcMask (S, S) or (N·nhead, S, S) and srcKeyPaddingMask (N, S) (bool: true marks a
// position to ignore; floating point: added to the attention scores); nil means none.
// Invalid shapes panic with *torch.Error.
func (l *TransformerEncoderLayer) Forward(src, srcMask, srcKeyPaddingMask *torch.Tensor) *torch.Tensor {
	s := torch.NewScope()
	defer s.Close()
	sa := func(x *torch.Tensor) *torch.Tensor {
		a, _ := l.SelfAttn.Forward(x, x, x, AttentionOptions{AttnMask: srcMask, KeyPaddingMask: srcKeyPaddingMask, NoNeedWeights: true})
		return l.Dropout1.Forward(a)
	}
	ff := func(x *torch.Tensor) *torch.Tensor {
		return l.Dropout2.Forward(l.Linear2.Forward(l.Dropout.Forward(l.activation(l.Linear1.Forward(x)))))
	}
	x := src
	if l.NormFirst {
		x = x.Add(sa(l.Norm1.Forward(x)))
		x = x.Add(ff(l.Norm2.Forward(x)))
	} else {
		x = l.Norm1.Forward(x.Add(sa(x)))
		x = l.Norm2.Forward(x.Add(ff(x)))
	}
	return s.Escape(x)
}

// TransformerEncoder is a stack of encoder layers with an optional final normalisation, as
// torch.nn.TransformerEncoder. Children: layers (registered "layers.0", "layers.1", ...) and
// norm, so parameter names are PyTorch's ("layers.1.self_attn.in_proj_weight", "norm.weight").
//
// PyTorch (1.13 and later) converts a padded batch into a nested tensor in evaluation without
// gradients (enable_nested_tensor, with a src_key_padding_mask and the fast path's
// conditions): the outputs at padded positions are then zeros, where seqtorch, as PyTorch's
// general path, computes them like any other position. The outputs at unpadded positions
// agree.
type TransformerEncoder struct {
	Modules
	Layers []*TransformerEncoderLayer
	Norm   *LayerNorm // nil for none
}

// NewTransformerEncoder returns numLayers copies of layer, as PyTorch's _get_clones
// (copy.deepcopy): every layer starts from layer's weights, and building draws no random
// numbers. The caller keeps layer (it is not part of the encoder, as in PyTorch) and closes
// it; norm, when not nil, becomes the encoder's, applied after the last layer and closed with
// it. A negative numLayers panics with *torch.Error.
func NewTransformerEncoder(layer *TransformerEncoderLayer, numLayers int, norm *LayerNorm) *TransformerEncoder {
	if numLayers < 0 || layer == nil {
		panic(&torch.Error{Op: "nn.NewTransformerEncoder", Msg: fmt.Sprintf("need an encoder layer and num_layers ≥ 0, got %d", numLayers)})
	}
	e := &TransformerEncoder{Norm: norm}
	list := &Modules{}
	for i := 0; i < numLayers; i++ {
		c := layer.Copy()
		e.Layers = append(e.Layers, c)
		list.Add(strconv.Itoa(i), c)
	}
	e.Add("layers", list)
	if norm != nil {
		e.Add("norm", norm)
	}
	return e
}

// Forward runs src through every layer with the same masks (see
// TransformerEncoderLayer.Forward), then through Norm when set.
func (e *TransformerEncoder) Forward(src, mask, srcKeyPaddingMask *torch.Tensor) *torch.Tensor {
	s := torch.NewScope()
	defer s.Close()
	x := src
	for _, l := range e.Layers {
		x = l.Forward(x, mask, srcKeyPaddingMask)
	}
	if e.Norm != nil {
		x = e.Norm.Forward(x)
	} else if x == src {
		x = src.Alias()
	}
	return s.Escape(x)
}

// copyParameters copies src's parameter values and requires_grad flags into dst, which has the
// same structure.
func copyParameters(dst, src Module) {
	d, s := dst.NamedParameters(), src.NamedParameters()
	torch.NoGrad(func() {
		for i := range d {
			d[i].Value.CopyFrom(s[i].Value)
			d[i].Value.SetRequiresGrad(s[i].Value.RequiresGrad())
		}
	})
}
