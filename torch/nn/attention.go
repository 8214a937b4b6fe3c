package nn

import (
	"fmt"
	"math"

	"github.com/seqtorch/seqtorch/torch"
)

// MultiheadAttentionOptions are torch.nn.MultiheadAttention's keyword arguments; the zero
// value is PyTorch's defaults (dropout=0, bias=True, add_bias_kv=False, add_zero_attn=False,
// kdim=vdim=embed_dim, batch_first=False).
type MultiheadAttentionOptions struct {
	Dropout     float64 // dropout on the attention weights, in training
	NoBias      bool    // bias=False: no in_proj_bias and no out_proj.bias
	AddBiasKV   bool    // add_bias_kv: learnt bias_k and bias_v appended to the key and value sequences
	AddZeroAttn bool    // add_zero_attn: a zero key and value appended after the projections
	KDim, VDim  int64   // features of key and value; 0 means embed_dim
	BatchFirst  bool    // query, key, value and output are (batch, seq, feature)
}

// MultiheadAttention is multi-head scaled dot-product attention, as
// torch.nn.MultiheadAttention (Vaswani et al., 2017):
//
//	MultiHead(Q, K, V) = Concat(head₁, …, head_h)·W_Oᵀ + b_O
//	head_i = softmax(Q_i·K_iᵀ / √d + M)·V_i,  Q_i = Q·W_Qiᵀ + b_Qi (K_i, V_i alike)
//
// with d = embed_dim/num_heads and M the additive mask (−∞ where a bool mask is true).
//
// Parameters, with PyTorch's state_dict names and order: in_proj_weight (3E, E), the query,
// key and value projections stacked (or q_proj_weight (E, E), k_proj_weight (E, kdim) and
// v_proj_weight (E, vdim) when KDim or VDim differ from E), in_proj_bias (3E), bias_k and
// bias_v (1, 1, E) with AddBiasKV, out_proj.weight (E, E) and out_proj.bias (E).
//
// The forward pass is PyTorch's multi_head_attention_forward, op for op, on every version and
// in every mode. PyTorch also has fused fast paths (torch._native_multi_head_attention; 1.12
// and later, for self-attention in evaluation without gradients, batch_first; 2.x also runs
// need_weights=False through scaled_dot_product_attention): they compute the same function to
// float rounding, except that on a nested-tensor input (which Go does not have) padded
// positions come out as zeros. seqtorch always takes the general path.
type MultiheadAttention struct {
	Modules
	EmbedDim, NumHeads, HeadDim int64
	Options                     MultiheadAttentionOptions // normalised: KDim and VDim set
	InProjWeight                *torch.Tensor             // nil when KDim or VDim differ from EmbedDim
	QProjWeight, KProjWeight    *torch.Tensor             // set when KDim or VDim differ from EmbedDim
	VProjWeight                 *torch.Tensor
	InProjBias                  *torch.Tensor // nil with NoBias
	BiasK, BiasV                *torch.Tensor // set with AddBiasKV
	OutProj                     *Linear
}

// NewMultiheadAttention returns a MultiheadAttention initialised as PyTorch's: out_proj is
// built first (a Linear: weight and bias drawn as NewLinear), then _reset_parameters draws
// in_proj_weight (or q, k, v_proj_weight in that order) from xavier_uniform_, zeroes
// in_proj_bias and out_proj.bias, and draws bias_k then bias_v from xavier_normal_. An
// embed_dim not divisible by num_heads, or negative sizes, panic with *torch.Error.
func NewMultiheadAttention(embedDim, numHeads int64, opts MultiheadAttentionOptions) *MultiheadAttention {
	m := newMultiheadAttention(embedDim, numHeads, opts, true)
	m.resetParameters()
	return m
}

// newMultiheadAttention allocates the module with the parameters zero, except that with draw
// out_proj is drawn as a Linear (as PyTorch's constructor does before _reset_parameters).
func newMultiheadAttention(embedDim, numHeads int64, opts MultiheadAttentionOptions, draw bool) *MultiheadAttention {
	const op = "nn.NewMultiheadAttention"
	checkSizes(op, embedDim, numHeads, opts.KDim, opts.VDim)
	if numHeads == 0 || embedDim%numHeads != 0 {
		panic(&torch.Error{Op: op, Msg: fmt.Sprintf("embed_dim must be divisible by num_heads, got %d and %d", embedDim, numHeads)})
	}
	if !(opts.Dropout >= 0 && opts.Dropout <= 1) {
		panic(&torch.Error{Op: op, Msg: fmt.Sprintf("dropout probability has to be between 0 and 1, but got %v", opts.Dropout)})
	}
	if opts.KDim == 0 {
		opts.KDim = embedDim
	}
	if opts.VDim == 0 {
		opts.VDim = embedDim
	}
	m := &MultiheadAttention{EmbedDim: embedDim, NumHeads: numHeads, HeadDim: embedDim / numHeads, Options: opts}
	e := embedDim
	if m.sameEmbedDim() {
		m.InProjWeight = newParam(3*e, e)
		m.AddParameter("in_proj_weight", m.InProjWeight)
	} else {
		m.QProjWeight, m.KProjWeight, m.VProjWeight = newParam(e, e), newParam(e, opts.KDim), newParam(e, opts.VDim)
		m.AddParameter("q_proj_weight", m.QProjWeight)
		m.AddParameter("k_proj_weight", m.KProjWeight)
		m.AddParameter("v_proj_weight", m.VProjWeight)
	}
	if !opts.NoBias {
		m.InProjBias = newParam(3 * e)
		m.AddParameter("in_proj_bias", m.InProjBias)
	}
	// PyTorch registers out_proj (a module) before bias_k and bias_v; a module's own
	// parameters come first in its state_dict all the same.
	m.OutProj = newLinear(e, e, opts.NoBias, draw)
	m.Add("out_proj", m.OutProj)
	if opts.AddBiasKV {
		m.BiasK, m.BiasV = newParam(1, 1, e), newParam(1, 1, e)
		m.AddParameter("bias_k", m.BiasK)
		m.AddParameter("bias_v", m.BiasV)
	}
	return m
}

func (m *MultiheadAttention) sameEmbedDim() bool {
	return m.Options.KDim == m.EmbedDim && m.Options.VDim == m.EmbedDim
}

// resetParameters is MultiheadAttention._reset_parameters.
func (m *MultiheadAttention) resetParameters() {
	if m.InProjWeight != nil {
		InitXavierUniform(m.InProjWeight, 1)
	} else {
		InitXavierUniform(m.QProjWeight, 1)
		InitXavierUniform(m.KProjWeight, 1)
		InitXavierUniform(m.VProjWeight, 1)
	}
	if m.InProjBias != nil {
		InitZeros(m.InProjBias)
		InitZeros(m.OutProj.Bias)
	}
	if m.BiasK != nil {
		InitXavierNormal(m.BiasK, 1)
		InitXavierNormal(m.BiasV, 1)
	}
}

// AttentionOptions are MultiheadAttention.forward's keyword arguments after query, key and
// value; the zero value is PyTorch's defaults (key_padding_mask=None, need_weights=True,
// attn_mask=None, average_attn_weights=True).
type AttentionOptions struct {
	// KeyPaddingMask (N, S), or (S) for unbatched input, marks keys to ignore: true where a
	// bool mask is, or added to the scores when it is floating point.
	KeyPaddingMask *torch.Tensor
	// NoNeedWeights (need_weights=False) skips returning the attention weights.
	NoNeedWeights bool
	// AttnMask (L, S) or (N·num_heads, L, S) masks query-key pairs: true where a bool mask
	// is means "not allowed"; a floating-point mask is added to the scores.
	AttnMask *torch.Tensor
	// NoAverageAttnWeights (average_attn_weights=False) returns the weights per head,
	// (N, num_heads, L, S), instead of their mean over heads, (N, L, S).
	NoAverageAttnWeights bool
}

// Forward attends from query (L, N, E) to key (S, N, kdim) and value (S, N, vdim) — (N, L, E)
// etc. with BatchFirst, or unbatched (L, E), (S, kdim), (S, vdim) — and returns the output
// (shaped as query) and, unless o.NoNeedWeights, the attention weights (N, L, S), or
// (N, num_heads, L, S) with o.NoAverageAttnWeights (without N for unbatched input); weights
// is nil otherwise. Passing the same tensor as query, key and value (self-attention) computes
// the three projections in one matrix product, as PyTorch does. Dropout on the weights applies
// in training mode. Both masks may be given (bool or floating point each): they are merged as
// PyTorch 2.x does (a bool mask becomes −∞ where true, then the masks add), which equals
// PyTorch 1.13's result wherever 1.13 accepts the combination. Invalid shapes panic with
// *torch.Error.
func (m *MultiheadAttention) Forward(query, key, value *torch.Tensor, o AttentionOptions) (out, weights *torch.Tensor) {
	const op = "nn.MultiheadAttention.Forward"
	fail := func(format string, a ...any) { panic(&torch.Error{Op: op, Msg: fmt.Sprintf(format, a...)}) }
	s := torch.NewScope()
	defer s.Close()

	selfAttn, kvSame := query == key && key == value, key == value
	batched := query.Dim() == 3
	switch {
	case query.Dim() != 2 && query.Dim() != 3:
		fail("query should be unbatched 2D or batched 3D tensor but received %d-D query tensor", query.Dim())
	case key.Dim() != query.Dim() || value.Dim() != query.Dim():
		fail("key and value should be %d-D as query, got %d-D and %d-D", query.Dim(), key.Dim(), value.Dim())
	}
	kpm, mask := o.KeyPaddingMask, o.AttnMask
	if !batched {
		query, key, value = query.Unsqueeze(1), key.Unsqueeze(1), value.Unsqueeze(1)
		if kpm != nil {
			kpm = kpm.Unsqueeze(0)
		}
	} else if m.Options.BatchFirst {
		query, key, value = query.Transpose(0, 1), key.Transpose(0, 1), value.Transpose(0, 1)
	}
	qs, ks := query.Shape(), key.Shape()
	tgtLen, bsz, embed := qs[0], qs[1], qs[2]
	srcLen := ks[0]
	E, H, hd := m.EmbedDim, m.NumHeads, m.HeadDim
	if embed != E {
		fail("was expecting embedding dimension of %d, but got %d", E, embed)
	}
	if vs := value.Shape(); vs[0] != ks[0] || vs[1] != ks[1] {
		fail("key's sequence and batch dims %v do not match value's %v", ks[:2], vs[:2])
	}

	// In-projection (_in_projection_packed / _in_projection).
	var q, k, v *torch.Tensor
	if m.InProjWeight != nil {
		w, b := m.InProjWeight, m.InProjBias
		part := func(t *torch.Tensor, start, n int64) *torch.Tensor {
			if t == nil {
				return nil
			}
			return t.Narrow(0, start*E, n*E)
		}
		switch {
		case selfAttn:
			qkv := torch.Linear(query, w, b).Chunk(3, -1)
			q, k, v = qkv[0], qkv[1], qkv[2]
		case kvSame:
			q = torch.Linear(query, part(w, 0, 1), part(b, 0, 1))
			kv := torch.Linear(key, part(w, 1, 2), part(b, 1, 2)).Chunk(2, -1)
			k, v = kv[0], kv[1]
		default:
			q = torch.Linear(query, part(w, 0, 1), part(b, 0, 1))
			k = torch.Linear(key, part(w, 1, 1), part(b, 1, 1))
			v = torch.Linear(value, part(w, 2, 1), part(b, 2, 1))
		}
	} else {
		var bq, bk, bv *torch.Tensor
		if b := m.InProjBias; b != nil {
			bq, bk, bv = b.Narrow(0, 0, E), b.Narrow(0, E, E), b.Narrow(0, 2*E, E)
		}
		q = torch.Linear(query, m.QProjWeight, bq)
		k = torch.Linear(key, m.KProjWeight, bk)
		v = torch.Linear(value, m.VProjWeight, bv)
	}

	if mask != nil {
		if !mask.IsFloatingPoint() && mask.DType() != torch.Bool {
			fail("Only float and bool types are supported for attn_mask, not %v", mask.DType())
		}
		switch mask.Dim() {
		case 2:
			if ms := mask.Shape(); ms[0] != tgtLen || ms[1] != srcLen {
				fail("The shape of the 2D attn_mask is %v, but should be [%d %d].", ms, tgtLen, srcLen)
			}
			mask = mask.Unsqueeze(0)
		case 3:
			if ms := mask.Shape(); ms[0] != bsz*H || ms[1] != tgtLen || ms[2] != srcLen {
				fail("The shape of the 3D attn_mask is %v, but should be [%d %d %d].", ms, bsz*H, tgtLen, srcLen)
			}
		default:
			fail("attn_mask's dimension %d is not supported", mask.Dim())
		}
		mask = floatMask(mask, q.DType())
	}
	if kpm != nil {
		if !kpm.IsFloatingPoint() && kpm.DType() != torch.Bool {
			fail("only bool and floating types of key_padding_mask are supported")
		}
		kpm = floatMask(kpm, q.DType())
	}

	if m.BiasK != nil {
		k = torch.Cat([]*torch.Tensor{k, m.BiasK.Repeat([]int64{1, bsz, 1})}, 0)
		v = torch.Cat([]*torch.Tensor{v, m.BiasV.Repeat([]int64{1, bsz, 1})}, 0)
		mask, kpm = padLast(mask), padLast(kpm)
	}

	// (L, N, E) → (N·H, L, d)
	heads := func(t *torch.Tensor) *torch.Tensor {
		return t.Contiguous().View(t.Size(0), bsz*H, hd).Transpose(0, 1)
	}
	q, k, v = heads(q), heads(k), heads(v)
	if m.Options.AddZeroAttn {
		z := torch.Zeros([]int64{bsz * H, 1, hd}, torch.WithDType(k.DType()), torch.WithDevice(k.Device()))
		k = torch.Cat([]*torch.Tensor{k, z}, 1)
		v = torch.Cat([]*torch.Tensor{v, z}, 1)
		mask, kpm = padLast(mask), padLast(kpm)
	}
	srcLen = k.Size(1)
	if kpm != nil {
		if ps := kpm.Shape(); len(ps) != 2 || ps[0] != bsz || ps[1] != srcLen {
			fail("expecting key_padding_mask shape of [%d %d], but got %v", bsz, srcLen, ps)
		}
		kpm = kpm.View(bsz, 1, 1, srcLen).Expand(-1, H, -1, -1).Reshape(bsz*H, 1, srcLen)
		if mask == nil {
			mask = kpm
		} else {
			mask = mask.Add(kpm)
		}
	}

	p := m.Options.Dropout
	if !m.Training() {
		p = 0
	}
	qScaled := q.DivScalar(math.Sqrt(float64(hd)))
	var w *torch.Tensor
	if mask != nil {
		w = mask.Baddbmm(qScaled, k.Transpose(-2, -1), 1, 1)
	} else {
		w = qScaled.Bmm(k.Transpose(-2, -1))
	}
	w = w.Softmax(-1)
	if p > 0 {
		w = torch.Dropout(w, p, true)
	}
	a := w.Bmm(v) // (N·H, L, d)
	a = a.Transpose(0, 1).Contiguous().View(tgtLen*bsz, E)
	out = m.OutProj.Forward(a).View(tgtLen, bsz, E)
	if !batched {
		out = out.SqueezeDim(1)
	} else if m.Options.BatchFirst {
		out = out.Transpose(0, 1)
	}
	if o.NoNeedWeights {
		return s.Escape(out), nil
	}
	w = w.View(bsz, H, tgtLen, srcLen)
	if !o.NoAverageAttnWeights {
		w = w.SumDim(false, 1).DivScalar(float64(H))
	}
	if !batched {
		w = w.SqueezeDim(0)
	}
	return s.Escape(out), s.Escape(w)
}

// floatMask returns a floating-point mask: a bool mask becomes −∞ where true and 0 elsewhere
// (PyTorch's _canonical_mask), a floating-point one is converted to dtype.
func floatMask(mask *torch.Tensor, dtype torch.DType) *torch.Tensor {
	if mask.DType() == torch.Bool {
		return torch.Zeros(mask.Shape(), torch.WithDType(dtype), torch.WithDevice(mask.Device())).MaskedFill(mask, math.Inf(-1))
	}
	return mask.ToDType(dtype)
}

// padLast appends one zero (an unmasked position) to the last dimension, as F.pad(mask, (0, 1)).
func padLast(mask *torch.Tensor) *torch.Tensor {
	if mask == nil {
		return nil
	}
	return mask.Pad([]int64{0, 1}, "constant", nil)
}
