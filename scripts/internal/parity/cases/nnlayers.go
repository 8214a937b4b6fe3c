package cases

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// The modules of issue 26 (cells, LayerNorm, Conv1d, MultiheadAttention, the Transformer
// encoder) and the nn.init functions against PyTorch. A modDef pairs a module's description
// for parity_ref.py's build_module26 (PyTorch's constructor keywords) with the Go constructor
// it must equal; the mapping from Go options to PyTorch keywords is written out in the def*
// functions below, so a wrong default shows as a failing case.

type modDef struct {
	spec  map[string]any
	build func() nn.Module
}

func defLayerNorm(shape []int64, o nn.LayerNormOptions) modDef {
	eps := o.Eps
	if eps == 0 {
		eps = 1e-5
	}
	return modDef{
		spec:  map[string]any{"type": "LayerNorm", "shape": shape, "eps": eps, "elementwise_affine": !o.NoElementwiseAffine, "bias": !o.NoBias},
		build: func() nn.Module { return nn.NewLayerNorm(shape, o) },
	}
}

func defConv1d(in, out, k int64, o nn.Conv1dOptions) modDef {
	one := func(v int64) int64 {
		if v == 0 {
			return 1
		}
		return v
	}
	s := map[string]any{"type": "Conv1d", "in": in, "out": out, "kernel_size": k, "stride": one(o.Stride),
		"padding": o.Padding, "dilation": one(o.Dilation), "groups": one(o.Groups), "bias": !o.NoBias, "padding_mode": "zeros"}
	if o.PaddingString != "" {
		s["padding"] = o.PaddingString
	}
	if o.PaddingMode != "" {
		s["padding_mode"] = o.PaddingMode
	}
	return modDef{spec: s, build: func() nn.Module { return nn.NewConv1d(in, out, k, o) }}
}

func defCell(typ string, in, hidden int64, o nn.CellOptions) modDef {
	s := map[string]any{"type": typ, "in": in, "hidden": hidden, "bias": !o.NoBias}
	if typ == "RNNCell" {
		s["nonlinearity"] = "tanh"
		if o.Nonlinearity != "" {
			s["nonlinearity"] = o.Nonlinearity
		}
	}
	return modDef{spec: s, build: func() nn.Module {
		switch typ {
		case "RNNCell":
			return nn.NewRNNCell(in, hidden, o)
		case "LSTMCell":
			return nn.NewLSTMCell(in, hidden, o)
		}
		return nn.NewGRUCell(in, hidden, o)
	}}
}

func mhaKwargs(o nn.MultiheadAttentionOptions) map[string]any {
	kw := map[string]any{"dropout": o.Dropout, "bias": !o.NoBias, "add_bias_kv": o.AddBiasKV,
		"add_zero_attn": o.AddZeroAttn, "batch_first": o.BatchFirst}
	if o.KDim != 0 {
		kw["kdim"] = o.KDim
	}
	if o.VDim != 0 {
		kw["vdim"] = o.VDim
	}
	return kw
}

func defMHA(e, h int64, o nn.MultiheadAttentionOptions) modDef {
	return modDef{
		spec:  map[string]any{"type": "MultiheadAttention", "embed_dim": e, "num_heads": h, "kw": mhaKwargs(o)},
		build: func() nn.Module { return nn.NewMultiheadAttention(e, h, o) },
	}
}

func telSpec(d, h int64, o nn.TransformerEncoderLayerOptions) map[string]any {
	kw := map[string]any{"dim_feedforward": 2048, "dropout": 0.1, "activation": "relu", "layer_norm_eps": 1e-5,
		"batch_first": o.BatchFirst, "norm_first": o.NormFirst}
	if o.DimFeedforward != 0 {
		kw["dim_feedforward"] = o.DimFeedforward
	}
	if o.Dropout != nil {
		kw["dropout"] = *o.Dropout
	}
	if o.Activation != "" {
		kw["activation"] = o.Activation
	}
	if o.LayerNormEps != 0 {
		kw["layer_norm_eps"] = o.LayerNormEps
	}
	return map[string]any{"type": "TransformerEncoderLayer", "d_model": d, "nhead": h, "kw": kw}
}

func defTEL(d, h int64, o nn.TransformerEncoderLayerOptions) modDef {
	return modDef{spec: telSpec(d, h, o), build: func() nn.Module { return nn.NewTransformerEncoderLayer(d, h, o) }}
}

// defEncoder is nn.TransformerEncoder(nn.TransformerEncoderLayer(d, h, **o), n, norm=
// nn.LayerNorm(d) if norm else None); Go closes the prototype layer after copying it.
func defEncoder(d, h int64, o nn.TransformerEncoderLayerOptions, n int, norm bool) modDef {
	return modDef{
		spec: map[string]any{"type": "TransformerEncoder", "layer": telSpec(d, h, o), "num_layers": n, "norm": norm, "d_model": d},
		build: func() nn.Module {
			layer := nn.NewTransformerEncoderLayer(d, h, o)
			defer nn.Close(layer)
			var ln *nn.LayerNorm
			if norm {
				ln = nn.NewLayerNorm([]int64{d}, nn.LayerNormOptions{})
			}
			return nn.NewTransformerEncoder(layer, n, ln)
		},
	}
}

func defSequential() modDef {
	return modDef{
		spec: map[string]any{"type": "Sequential"},
		build: func() nn.Module {
			return nn.NewSequential(nn.NewLinear(4, 8, nn.LinearOptions{}), nn.ReLU(), nn.NewLinear(8, 2, nn.LinearOptions{}))
		},
	}
}

// ---- forward and gradients ----

// nnCase runs one module call on both sides: Python builds the module from spec, loads Go's
// initial weights (strict: the state_dict names must be PyTorch's) — or, with seeded, builds
// it after torch.manual_seed(seed) as Go does after torch.ManualSeed — calls it, and
// backpropagates Σ sum(out_k ⊙ g_k); outputs, parameter gradients and the gradients of the
// inputs in grads are compared.
type nnCase struct {
	name   string
	mod    modDef
	call   string         // layer, rnncell, lstmcell, mha, encoder_layer, encoder
	kw     map[string]any // call options (see forward26)
	inputs map[string]gen // made in Build, after torch.ManualSeed(nnSeed+2), in name order
	grads  []string       // inputs whose gradients are compared
	seeded bool
	eval   bool // module.eval()
	noGrad bool // under torch.no_grad(): forward only (PyTorch may take its fast paths)
	tol    float64
}

type nnCaseArgs struct {
	Module     map[string]any `json:"module"`
	Call       string         `json:"call"`
	Kw         map[string]any `json:"kw"`
	GradInputs []string       `json:"grad_inputs"`
	Seeded     bool           `json:"seeded"`
	Seed       uint64         `json:"seed"`
	Eval       bool           `json:"eval"`
	NoGrad     bool           `json:"no_grad"`
}

const nnSeed = 2600

func registerNN(c nnCase) {
	a := nnCaseArgs{Module: c.mod.spec, Call: c.call, Kw: c.kw, GradInputs: c.grads, Seeded: c.seeded, Seed: nnSeed, Eval: c.eval, NoGrad: c.noGrad}
	if a.Kw == nil {
		a.Kw = map[string]any{}
	}
	if a.GradInputs == nil {
		a.GradInputs = []string{}
	}
	Register(Case{
		Name: c.name,
		Tol:  c.tol,
		Build: func(dir string) error {
			torch.ManualSeed(nnSeed)
			m := c.mod.build()
			defer nn.Close(m)
			d := &Dict{}
			if !c.seeded {
				for _, p := range m.NamedParameters() {
					d.Add("param."+p.Name, p.Value.Detach())
				}
			}
			torch.ManualSeed(nnSeed + 2)
			inputs := map[string]*torch.Tensor{}
			for _, n := range sortedKeys(c.inputs) {
				inputs[n] = c.inputs[n]()
				d.Add("input."+n, inputs[n])
			}
			// gradient weights, one per output
			torch.ManualSeed(nnSeed + 1)
			outs := forward26(m, c.call, c.kw, inputs)
			for _, n := range sortedKeys(outs) {
				d.Add("g."+n, torch.Randn(outs[n].Shape()))
			}
			return WriteInputs(dir, "nnmod", a, d)
		},
		Check: func(dir string) (float64, error) {
			in, want, err := ReadBoth(dir)
			if err != nil {
				return 0, err
			}
			torch.ManualSeed(nnSeed)
			m := c.mod.build()
			defer nn.Close(m)
			if !c.seeded {
				var names []string
				var ts []*torch.Tensor
				for i, n := range in.Names {
					if p, ok := strings.CutPrefix(n, "param."); ok {
						names, ts = append(names, p), append(ts, in.Ts[i])
					}
				}
				if err := nn.LoadStateDict(m, names, ts); err != nil {
					return 0, err
				}
			}
			m.SetTraining(!c.eval)
			leaves := map[string]*torch.Tensor{}
			for i, n := range in.Names {
				if p, ok := strings.CutPrefix(n, "input."); ok {
					leaves[p] = in.Ts[i].Detach().SetRequiresGrad(slices.Contains(c.grads, p))
				}
			}
			cmp := NewCmp(want)
			var outs map[string]*torch.Tensor
			if c.noGrad {
				torch.NoGrad(func() { outs = forward26(m, c.call, c.kw, leaves) })
			} else {
				outs = forward26(m, c.call, c.kw, leaves)
			}
			var loss *torch.Tensor
			for _, n := range sortedKeys(outs) {
				cmp.T("out."+n, outs[n])
				l := outs[n].Mul(in.MustGet("g." + n)).Sum()
				if loss == nil {
					loss = l
				} else {
					loss = loss.Add(l)
				}
			}
			if !c.noGrad {
				loss.Backward()
				for _, p := range m.NamedParameters() {
					cmp.T("grad."+p.Name, gradOf(p.Value))
				}
				for _, n := range c.grads {
					cmp.T("grad.input."+n, gradOf(leaves[n]))
				}
			}
			return cmp.Result(true)
		},
	})
}

func gradOf(t *torch.Tensor) *torch.Tensor {
	if g := t.Grad(); g != nil {
		return g
	}
	return torch.Zeros(t.Shape())
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// forward26 is parity_ref.py's forward26 in Go. kw: mha: "self" (query is key is value),
// "kv_same" (key is value), "need_weights", "average_attn_weights"; the masks are the inputs
// key_padding_mask, attn_mask (mha), mask and src_key_padding_mask (encoder).
func forward26(m nn.Module, call string, kw map[string]any, in map[string]*torch.Tensor) map[string]*torch.Tensor {
	flag := func(k string, def bool) bool {
		if v, ok := kw[k].(bool); ok {
			return v
		}
		return def
	}
	switch call {
	case "layer":
		return map[string]*torch.Tensor{"out": m.(nn.Layer).Forward(in["x"])}
	case "rnncell":
		switch c := m.(type) {
		case *nn.RNNCell:
			return map[string]*torch.Tensor{"h": c.Forward(in["x"], in["h"])}
		case *nn.GRUCell:
			return map[string]*torch.Tensor{"h": c.Forward(in["x"], in["h"])}
		}
	case "lstmcell":
		s := m.(*nn.LSTMCell).Forward(in["x"], nn.State{H: in["h"], C: in["c"]})
		return map[string]*torch.Tensor{"h": s.H, "c": s.C}
	case "mha":
		q := in["query"]
		k, v := in["key"], in["value"]
		if flag("self", false) {
			k, v = q, q
		} else if flag("kv_same", false) {
			v = k
		}
		out, w := m.(*nn.MultiheadAttention).Forward(q, k, v, nn.AttentionOptions{
			KeyPaddingMask: in["key_padding_mask"], AttnMask: in["attn_mask"],
			NoNeedWeights: !flag("need_weights", true), NoAverageAttnWeights: !flag("average_attn_weights", true)})
		r := map[string]*torch.Tensor{"out": out}
		if w != nil {
			r["weights"] = w
		}
		return r
	case "encoder_layer":
		return map[string]*torch.Tensor{"out": m.(*nn.TransformerEncoderLayer).Forward(in["x"], in["mask"], in["src_key_padding_mask"])}
	case "encoder":
		return map[string]*torch.Tensor{"out": m.(*nn.TransformerEncoder).Forward(in["x"], in["mask"], in["src_key_padding_mask"])}
	}
	panic(fmt.Sprintf("forward26: call %q on %T", call, m))
}

// gen makes one input tensor; cases make their inputs in Build (inside the runner's scope).
type gen = func() *torch.Tensor

func randn(shape ...int64) gen { return func() *torch.Tensor { return torch.Randn(shape) } }

func randnNow(shape ...int64) *torch.Tensor { return torch.Randn(shape) }

func boolMask(rows [][]bool) gen {
	var v []bool
	for _, r := range rows {
		v = append(v, r...)
	}
	return func() *torch.Tensor { return torch.FromSlice(v, int64(len(rows)), int64(len(rows[0]))) }
}

// causal returns the (n, n) bool mask that forbids attending to later positions.
func causal(n int) gen {
	rows := make([][]bool, n)
	for i := range rows {
		rows[i] = make([]bool, n)
		for j := range rows[i] {
			rows[i][j] = j > i
		}
	}
	return boolMask(rows)
}

func floatCausal(n int) gen {
	v := make([]float32, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if j > i {
				v[i*n+j] = float32(math.Inf(-1))
			} else {
				v[i*n+j] = 0.1 * float32(i-j)
			}
		}
	}
	return func() *torch.Tensor { return torch.FromSlice(v, int64(n), int64(n)) }
}

func f64p(v float64) *float64 { return &v }

func registerNNCases() {
	x3 := randn(3, 5)
	// ---- cells: one step, with and without a state, batched and unbatched
	for _, typ := range []string{"RNNCell", "GRUCell"} {
		lower := strings.ToLower(typ)
		for _, nl := range []string{"", "relu"} {
			if nl != "" && typ != "RNNCell" {
				continue
			}
			name := lower + "/step"
			if nl != "" {
				name += "-relu"
			}
			o := nn.CellOptions{Nonlinearity: nl}
			registerNN(nnCase{name: name, mod: defCell(typ, 5, 4, o), call: "rnncell",
				inputs: map[string]gen{"x": x3, "h": randn(3, 4)}, grads: []string{"x", "h"}})
			registerNN(nnCase{name: name + "-zero-state", mod: defCell(typ, 5, 4, o), call: "rnncell",
				inputs: map[string]gen{"x": x3}, grads: []string{"x"}})
		}
		registerNN(nnCase{name: lower + "/unbatched-no-bias", mod: defCell(typ, 5, 4, nn.CellOptions{NoBias: true}), call: "rnncell",
			inputs: map[string]gen{"x": randn(5), "h": randn(4)}, grads: []string{"x", "h"}})
	}
	registerNN(nnCase{name: "lstmcell/step", mod: defCell("LSTMCell", 5, 4, nn.CellOptions{}), call: "lstmcell",
		inputs: map[string]gen{"x": x3, "h": randn(3, 4), "c": randn(3, 4)}, grads: []string{"x", "h", "c"}})
	registerNN(nnCase{name: "lstmcell/step-zero-state", mod: defCell("LSTMCell", 5, 4, nn.CellOptions{}), call: "lstmcell",
		inputs: map[string]gen{"x": x3}, grads: []string{"x"}})
	registerNN(nnCase{name: "lstmcell/unbatched-no-bias", mod: defCell("LSTMCell", 5, 4, nn.CellOptions{NoBias: true}), call: "lstmcell",
		inputs: map[string]gen{"x": randn(5), "h": randn(4), "c": randn(4)}, grads: []string{"x", "h", "c"}})

	// ---- LayerNorm
	registerNN(nnCase{name: "layernorm/last-dim", mod: defLayerNorm([]int64{6}, nn.LayerNormOptions{}), call: "layer",
		inputs: map[string]gen{"x": randn(2, 3, 6)}, grads: []string{"x"}})
	registerNN(nnCase{name: "layernorm/two-dims-eps", mod: defLayerNorm([]int64{3, 4}, nn.LayerNormOptions{Eps: 1e-3}), call: "layer",
		inputs: map[string]gen{"x": randn(2, 3, 4)}, grads: []string{"x"}})
	registerNN(nnCase{name: "layernorm/no-affine", mod: defLayerNorm([]int64{5}, nn.LayerNormOptions{NoElementwiseAffine: true}), call: "layer",
		inputs: map[string]gen{"x": randn(4, 5)}, grads: []string{"x"}})
	registerNN(nnCase{name: "layernorm/no-bias", mod: defLayerNorm([]int64{5}, nn.LayerNormOptions{NoBias: true}), call: "layer",
		inputs: map[string]gen{"x": randn(4, 5)}, grads: []string{"x"}})

	// ---- Conv1d
	convs := []struct {
		name   string
		in     int64
		out, k int64
		o      nn.Conv1dOptions
		x      []int64
	}{
		{"default", 3, 4, 3, nn.Conv1dOptions{}, []int64{2, 3, 9}},
		{"stride2-pad1-dil2", 3, 4, 3, nn.Conv1dOptions{Stride: 2, Padding: 1, Dilation: 2}, []int64{2, 3, 11}},
		{"groups-no-bias", 4, 6, 2, nn.Conv1dOptions{Groups: 2, NoBias: true}, []int64{2, 4, 7}},
		{"same-even-kernel", 3, 2, 4, nn.Conv1dOptions{PaddingString: "same", Dilation: 2}, []int64{2, 3, 10}},
		{"valid", 3, 2, 3, nn.Conv1dOptions{PaddingString: "valid"}, []int64{2, 3, 6}},
		{"reflect", 3, 2, 3, nn.Conv1dOptions{Padding: 2, PaddingMode: "reflect"}, []int64{2, 3, 8}},
		{"replicate", 3, 2, 3, nn.Conv1dOptions{Padding: 1, PaddingMode: "replicate"}, []int64{2, 3, 8}},
		{"circular-same", 3, 2, 5, nn.Conv1dOptions{PaddingString: "same", PaddingMode: "circular"}, []int64{2, 3, 8}},
		{"unbatched", 3, 2, 3, nn.Conv1dOptions{Padding: 1}, []int64{3, 8}},
	}
	for _, c := range convs {
		registerNN(nnCase{name: "conv1d/" + c.name, mod: defConv1d(c.in, c.out, c.k, c.o), call: "layer",
			inputs: map[string]gen{"x": randn(c.x...)}, grads: []string{"x"}})
	}

	// ---- MultiheadAttention
	const N, L, S, E = 2, 4, 5, 8
	q, kv := randn(N, L, E), randn(N, S, E)
	kpm := boolMask([][]bool{{false, false, false, true, true}, {false, false, false, false, false}})
	selfKpm := boolMask([][]bool{{false, false, true, true}, {false, false, false, false}})
	bf := nn.MultiheadAttentionOptions{BatchFirst: true}
	selfIn := func(extra map[string]gen) map[string]gen {
		m := map[string]gen{"query": q}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	self := map[string]any{"self": true}
	registerNN(nnCase{name: "multihead/self-batch-first", mod: defMHA(E, 2, bf), call: "mha", kw: self,
		inputs: selfIn(nil), grads: []string{"query"}})
	registerNN(nnCase{name: "multihead/self-key-padding-mask", mod: defMHA(E, 2, bf), call: "mha", kw: self,
		inputs: selfIn(map[string]gen{"key_padding_mask": selfKpm}), grads: []string{"query"}})
	registerNN(nnCase{name: "multihead/self-attn-mask-causal", mod: defMHA(E, 4, bf), call: "mha", kw: self,
		inputs: selfIn(map[string]gen{"attn_mask": causal(L)}), grads: []string{"query"}})
	registerNN(nnCase{name: "multihead/self-both-masks-per-head", mod: defMHA(E, 2, bf), call: "mha",
		kw:     map[string]any{"self": true, "average_attn_weights": false},
		inputs: selfIn(map[string]gen{"attn_mask": causal(L), "key_padding_mask": selfKpm}), grads: []string{"query"}})
	registerNN(nnCase{name: "multihead/self-float-mask-no-weights", mod: defMHA(E, 2, bf), call: "mha",
		kw:     map[string]any{"self": true, "need_weights": false},
		inputs: selfIn(map[string]gen{"attn_mask": floatCausal(L)}), grads: []string{"query"}})
	registerNN(nnCase{name: "multihead/cross-kv-same-key-padding-mask", mod: defMHA(E, 2, bf), call: "mha",
		kw:     map[string]any{"kv_same": true},
		inputs: map[string]gen{"query": q, "key": kv, "key_padding_mask": kpm}, grads: []string{"query", "key"}})
	registerNN(nnCase{name: "multihead/seq-first-separate-qkv-3d-mask", mod: defMHA(E, 2, nn.MultiheadAttentionOptions{}), call: "mha",
		inputs: map[string]gen{"query": randn(L, N, E), "key": randn(S, N, E), "value": randn(S, N, E),
			"attn_mask": randn(N*2, L, S)}, grads: []string{"query", "key", "value"}})
	registerNN(nnCase{name: "multihead/kdim-vdim-no-bias", mod: defMHA(E, 4, nn.MultiheadAttentionOptions{KDim: 3, VDim: 6, NoBias: true, BatchFirst: true}), call: "mha",
		inputs: map[string]gen{"query": q, "key": randn(N, S, 3), "value": randn(N, S, 6), "key_padding_mask": kpm},
		grads:  []string{"query", "key", "value"}})
	registerNN(nnCase{name: "multihead/bias-kv-zero-attn-masks", mod: defMHA(E, 2, nn.MultiheadAttentionOptions{AddBiasKV: true, AddZeroAttn: true, BatchFirst: true}), call: "mha",
		inputs: map[string]gen{"query": q, "key": kv, "value": randn(N, S, E), "key_padding_mask": kpm,
			"attn_mask": boolMask([][]bool{{false, true, false, false, false}, {false, false, true, false, false}, {false, false, false, false, false}, {true, false, false, false, false}})},
		grads: []string{"query", "key", "value"}})
	registerNN(nnCase{name: "multihead/unbatched", mod: defMHA(E, 2, nn.MultiheadAttentionOptions{}), call: "mha",
		inputs: map[string]gen{"query": randn(L, E), "key": randn(S, E), "value": randn(S, E),
			"key_padding_mask": func() *torch.Tensor { return torch.FromSlice([]bool{false, true, false, false, false}, S) }},
		grads: []string{"query", "key", "value"}})
	registerNN(nnCase{name: "multihead/eval-nograd-fast-path", mod: defMHA(E, 2, bf), call: "mha", kw: self,
		inputs: selfIn(map[string]gen{"key_padding_mask": selfKpm}), eval: true, noGrad: true})
	// The check: torch.manual_seed(1); nn.MultiheadAttention(16, 4, batch_first=True)
	// on fixed inputs, built on each side from the seed alone.
	registerNN(nnCase{name: "multihead/seed-1-16x4-batch-first", mod: defMHA(16, 4, bf), call: "mha", kw: self,
		inputs: map[string]gen{"query": randn(2, 3, 16)}, grads: []string{"query"}, seeded: true})

	// ---- Transformer encoder
	zero := f64p(0)
	src := randn(N, L, E)
	for _, nf := range []bool{false, true} {
		norm := "post-norm"
		if nf {
			norm = "pre-norm"
		}
		for _, act := range []string{"relu", "gelu"} {
			o := nn.TransformerEncoderLayerOptions{DimFeedforward: 16, Dropout: zero, Activation: act, BatchFirst: true, NormFirst: nf}
			registerNN(nnCase{name: "transformer/layer-" + norm + "-" + act, mod: defTEL(E, 2, o), call: "encoder_layer",
				inputs: map[string]gen{"x": src, "src_key_padding_mask": selfKpm}, grads: []string{"x"}})
		}
		o := nn.TransformerEncoderLayerOptions{DimFeedforward: 12, Dropout: zero, NormFirst: nf, LayerNormEps: 1e-6}
		registerNN(nnCase{name: "transformer/encoder-3-layers-norm-masks-seq-first-" + norm, mod: defEncoder(E, 4, o, 3, true), call: "encoder",
			inputs: map[string]gen{"x": randn(L, N, E), "mask": causal(L), "src_key_padding_mask": selfKpm}, grads: []string{"x"}})
	}
	registerNN(nnCase{name: "transformer/encoder-2-layers-no-norm", mod: defEncoder(E, 2, nn.TransformerEncoderLayerOptions{DimFeedforward: 16, Dropout: zero, BatchFirst: true}, 2, false), call: "encoder",
		inputs: map[string]gen{"x": src}, grads: []string{"x"}})
	registerNN(nnCase{name: "transformer/encoder-eval-nograd-fast-path", mod: defEncoder(E, 2, nn.TransformerEncoderLayerOptions{DimFeedforward: 16, BatchFirst: true}, 2, true), call: "encoder",
		inputs: map[string]gen{"x": src}, eval: true, noGrad: true})
	registerNN(nnCase{name: "transformer/encoder-seeded-default-sizes", mod: defEncoder(16, 4, nn.TransformerEncoderLayerOptions{Dropout: zero, BatchFirst: true}, 2, false), call: "encoder",
		inputs: map[string]gen{"x": randn(2, 3, 16)}, grads: []string{"x"}, seeded: true})
}

// ---- cells stepped over a sequence = the full-sequence layer ----

type cellSeqArgs struct {
	Mode   string `json:"mode"` // LSTM, GRU, RNN_TANH, RNN_RELU
	In     int64  `json:"in"`
	Hidden int64  `json:"hidden"`
	Bias   bool   `json:"bias"`
}

// registerCellSeq compares a Go cell stepped over a (T, N, in) sequence with PyTorch's
// torch.nn.LSTM (GRU, RNN) holding the same weights (weight_ih ↔ weight_ih_l0, ...): outputs,
// final state and the gradients of the weights and the input.
func registerCellSeq(name string, a cellSeqArgs) {
	const T, N = 6, 3
	build := func() nn.Module {
		o := nn.CellOptions{NoBias: !a.Bias}
		switch a.Mode {
		case "LSTM":
			return nn.NewLSTMCell(a.In, a.Hidden, o)
		case "GRU":
			return nn.NewGRUCell(a.In, a.Hidden, o)
		case "RNN_RELU":
			o.Nonlinearity = "relu"
		}
		return nn.NewRNNCell(a.In, a.Hidden, o)
	}
	Register(Case{
		Name: name,
		Build: func(dir string) error {
			torch.ManualSeed(2602)
			m := build()
			defer nn.Close(m)
			d := &Dict{}
			for _, p := range m.NamedParameters() {
				d.Add(p.Name, p.Value.Detach())
			}
			d.Add("x", randnNow(T, N, a.In)).Add("h0", randnNow(N, a.Hidden)).Add("c0", randnNow(N, a.Hidden))
			d.Add("g.out", randnNow(T, N, a.Hidden)).Add("g.h", randnNow(N, a.Hidden)).Add("g.c", randnNow(N, a.Hidden))
			return WriteInputs(dir, "cellseq", a, d)
		},
		Check: func(dir string) (float64, error) {
			in, want, err := ReadBoth(dir)
			if err != nil {
				return 0, err
			}
			m := build()
			defer nn.Close(m)
			var names []string
			var ts []*torch.Tensor
			for _, p := range m.NamedParameters() {
				names, ts = append(names, p.Name), append(ts, in.MustGet(p.Name))
			}
			if err := nn.LoadStateDict(m, names, ts); err != nil {
				return 0, err
			}
			x := in.MustGet("x").Detach().SetRequiresGrad(true)
			h := in.MustGet("h0")
			c := in.MustGet("c0")
			var outs []*torch.Tensor
			for t := int64(0); t < T; t++ {
				xt := x.Narrow(0, t, 1).SqueezeDim(0)
				switch cell := m.(type) {
				case *nn.LSTMCell:
					s := cell.Forward(xt, nn.State{H: h, C: c})
					h, c = s.H, s.C
				case *nn.GRUCell:
					h = cell.Forward(xt, h)
				case *nn.RNNCell:
					h = cell.Forward(xt, h)
				}
				outs = append(outs, h)
			}
			out := torch.Stack(outs, 0)
			loss := out.Mul(in.MustGet("g.out")).Sum().Add(h.Mul(in.MustGet("g.h")).Sum())
			cmp := NewCmp(want)
			if a.Mode == "LSTM" {
				loss = loss.Add(c.Mul(in.MustGet("g.c")).Sum())
				cmp.T("c", c)
			}
			loss.Backward()
			cmp.T("out", out)
			cmp.T("h", h)
			cmp.T("grad.x", gradOf(x))
			for _, p := range m.NamedParameters() {
				cmp.T("grad."+p.Name, gradOf(p.Value))
			}
			return cmp.Result(true)
		},
	})
}

// ---- nn.init functions: same seed, same tensor ----

type initCall struct {
	Fn    string         `json:"fn"`
	Shape []int64        `json:"shape"`
	Kw    map[string]any `json:"kw"`
}

type initFnArgs struct {
	Seed  uint64     `json:"seed"`
	Calls []initCall `json:"calls"`
	Gains []gainCase `json:"gains"`
}

type gainCase struct {
	Nonlinearity string   `json:"nonlinearity"`
	Param        *float64 `json:"param"`
}

var initCalls = []initCall{
	{"uniform_", []int64{3, 4}, map[string]any{"a": -0.5, "b": 2.0}},
	{"normal_", []int64{5}, map[string]any{"mean": 1.0, "std": 0.3}},
	{"constant_", []int64{2, 3}, map[string]any{"val": 0.7}},
	{"zeros_", []int64{2, 2}, nil},
	{"ones_", []int64{3}, nil},
	{"xavier_uniform_", []int64{6, 4}, map[string]any{"gain": 1.0}},
	{"xavier_uniform_", []int64{4, 3, 5}, map[string]any{"gain": 5.0 / 3}},
	{"xavier_normal_", []int64{7, 3}, map[string]any{"gain": 1.0}},
	{"xavier_normal_", []int64{1, 1, 8}, map[string]any{"gain": 2.0}},
	{"kaiming_uniform_", []int64{5, 4}, map[string]any{}},
	{"kaiming_uniform_", []int64{5, 4}, map[string]any{"a": math.Sqrt(5)}},
	{"kaiming_uniform_", []int64{6, 2, 3}, map[string]any{"mode": "fan_out", "nonlinearity": "relu"}},
	{"kaiming_normal_", []int64{8, 3}, map[string]any{}},
	{"kaiming_normal_", []int64{8, 3}, map[string]any{"a": 0.2, "mode": "fan_out"}},
	{"kaiming_normal_", []int64{4, 3, 2}, map[string]any{"nonlinearity": "tanh"}},
	{"orthogonal_", []int64{6, 4}, map[string]any{"gain": 1.0}},
	{"orthogonal_", []int64{3, 7}, map[string]any{"gain": 1.5}},
	{"orthogonal_", []int64{4, 2, 3}, map[string]any{"gain": 1.0}},
	{"orthogonal_", []int64{5, 5}, map[string]any{"gain": math.Sqrt(2)}},
}

var gainCases = []gainCase{
	{"linear", nil}, {"conv1d", nil}, {"conv_transpose3d", nil}, {"sigmoid", nil}, {"tanh", nil},
	{"relu", nil}, {"leaky_relu", nil}, {"leaky_relu", f64p(0.2)}, {"leaky_relu", f64p(0)}, {"selu", nil},
}

func kwF(kw map[string]any, k string, def float64) float64 {
	if v, ok := kw[k].(float64); ok {
		return v
	}
	return def
}

func kwS(kw map[string]any, k string) string {
	s, _ := kw[k].(string)
	return s
}

// applyInit calls the Go counterpart of nn.init.<c.Fn>(t, **c.Kw).
func applyInit(t *torch.Tensor, c initCall) {
	kw := c.Kw
	switch c.Fn {
	case "uniform_":
		nn.InitUniform(t, kwF(kw, "a", 0), kwF(kw, "b", 1))
	case "normal_":
		nn.InitNormal(t, kwF(kw, "mean", 0), kwF(kw, "std", 1))
	case "constant_":
		nn.InitConstant(t, kwF(kw, "val", 0))
	case "zeros_":
		nn.InitZeros(t)
	case "ones_":
		nn.InitOnes(t)
	case "xavier_uniform_":
		nn.InitXavierUniform(t, kwF(kw, "gain", 1))
	case "xavier_normal_":
		nn.InitXavierNormal(t, kwF(kw, "gain", 1))
	case "kaiming_uniform_":
		nn.InitKaimingUniform(t, nn.KaimingOptions{A: kwF(kw, "a", 0), Mode: kwS(kw, "mode"), Nonlinearity: kwS(kw, "nonlinearity")})
	case "kaiming_normal_":
		nn.InitKaimingNormal(t, nn.KaimingOptions{A: kwF(kw, "a", 0), Mode: kwS(kw, "mode"), Nonlinearity: kwS(kw, "nonlinearity")})
	case "orthogonal_":
		nn.InitOrthogonal(t, kwF(kw, "gain", 1))
	default:
		panic(caseError{fmt.Errorf("unknown init function %q", c.Fn)})
	}
}

func registerInitFns(seed uint64) {
	a := initFnArgs{Seed: seed, Calls: initCalls, Gains: gainCases}
	Register(Case{
		Name:  fmt.Sprintf("init/functions-seed-%d", seed),
		Build: func(dir string) error { return WriteInputs(dir, "initfn", a, nil) },
		Check: func(dir string) (float64, error) {
			want, err := ReadOutputs(dir)
			if err != nil {
				return 0, err
			}
			cmp := NewCmp(want)
			torch.ManualSeed(a.Seed)
			for i, c := range a.Calls {
				t := torch.Zeros(c.Shape).SetRequiresGrad(true) // a parameter-like leaf
				applyInit(t, c)
				cmp.T(fmt.Sprintf("%d.%s", i, c.Fn), t)
				if len(c.Shape) >= 2 {
					fi, fo := nn.CalculateFanInAndFanOut(t)
					cmp.Scalar(fmt.Sprintf("%d.fan_in", i), float64(fi))
					cmp.Scalar(fmt.Sprintf("%d.fan_out", i), float64(fo))
				}
			}
			for i, g := range a.Gains {
				cmp.Scalar(fmt.Sprintf("gain.%d.%s", i, g.Nonlinearity), nn.CalculateGain(g.Nonlinearity, g.Param))
			}
			return cmp.Result(true)
		},
	})
}

// ---- module initialisation: same seed, same state_dict ----

type initModsArgs struct {
	Seed    uint64           `json:"seed"`
	Modules []map[string]any `json:"modules"`
}

func registerInitModules(seed uint64, defs []modDef) {
	a := initModsArgs{Seed: seed}
	for _, d := range defs {
		a.Modules = append(a.Modules, d.spec)
	}
	Register(Case{
		Name:  fmt.Sprintf("init/modules-26-seed-%d", seed),
		Build: func(dir string) error { return WriteInputs(dir, "initmod26", a, nil) },
		Check: func(dir string) (float64, error) {
			want, err := ReadOutputs(dir)
			if err != nil {
				return 0, err
			}
			cmp := NewCmp(want)
			torch.ManualSeed(a.Seed)
			var got []string
			for i, d := range defs {
				m := d.build()
				defer nn.Close(m)
				for _, p := range m.NamedParameters() {
					n := fmt.Sprintf("%d.%s", i, p.Name)
					got = append(got, n)
					cmp.T(n, p.Value)
				}
			}
			if !slices.Equal(got, want.Names) {
				cmp.Err(fmt.Errorf("state_dict keys differ:\n  Go:     %v\n  Python: %v", got, want.Names))
			}
			return cmp.Result(true)
		},
	})
}

func init() {
	registerNNCases()
	for _, m := range []struct {
		name string
		a    cellSeqArgs
	}{
		{"lstmcell/stepped-equals-lstm", cellSeqArgs{"LSTM", 3, 5, true}},
		{"grucell/stepped-equals-gru", cellSeqArgs{"GRU", 3, 5, true}},
		{"rnncell/stepped-equals-rnn-tanh", cellSeqArgs{"RNN_TANH", 3, 5, true}},
		{"rnncell/stepped-equals-rnn-relu-no-bias", cellSeqArgs{"RNN_RELU", 3, 5, false}},
	} {
		registerCellSeq(m.name, m.a)
	}
	registerInitFns(0)
	registerInitFns(26)
	zero := f64p(0)
	defs := []modDef{
		defCell("RNNCell", 3, 4, nn.CellOptions{}),
		defCell("LSTMCell", 3, 4, nn.CellOptions{}),
		defCell("GRUCell", 3, 4, nn.CellOptions{NoBias: true}),
		defCell("RNNCell", 2, 3, nn.CellOptions{Nonlinearity: "relu", NoBias: true}),
		defLayerNorm([]int64{4}, nn.LayerNormOptions{}),
		defConv1d(3, 4, 3, nn.Conv1dOptions{}),
		defConv1d(4, 6, 5, nn.Conv1dOptions{Groups: 2, PaddingString: "same", PaddingMode: "reflect"}),
		defConv1d(2, 3, 2, nn.Conv1dOptions{NoBias: true}),
		defMHA(16, 4, nn.MultiheadAttentionOptions{BatchFirst: true}),
		defMHA(8, 2, nn.MultiheadAttentionOptions{NoBias: true}),
		defMHA(8, 2, nn.MultiheadAttentionOptions{KDim: 3, VDim: 5, AddBiasKV: true}),
		defTEL(8, 2, nn.TransformerEncoderLayerOptions{DimFeedforward: 16}),
		defEncoder(8, 2, nn.TransformerEncoderLayerOptions{DimFeedforward: 16, Dropout: zero, NormFirst: true}, 3, true),
		defEncoder(16, 4, nn.TransformerEncoderLayerOptions{}, 2, false),
		defSequential(),
	}
	registerInitModules(1, defs)
	registerInitModules(2026, defs)
}
