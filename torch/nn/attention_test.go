package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// sinInput returns the fixed input x[i] = sin(0.1·i), as PyTorch's
// torch.tensor([math.sin(0.1*i) for i in range(n)], dtype=torch.float32).reshape(shape).
func sinInput(shape ...int64) *torch.Tensor {
	v := make([]float32, numel(shape))
	for i := range v {
		v[i] = float32(math.Sin(0.1 * float64(i)))
	}
	return torch.FromSlice(v, shape...)
}

// PyTorch 1.13's results for
//
//	torch.manual_seed(1)
//	m = nn.MultiheadAttention(16, 4, batch_first=True)
//	x = torch.tensor([math.sin(0.1*i) for i in range(96)], dtype=torch.float32).reshape(2, 3, 16)
//	out, w = m(x, x, x)
//
// (printed with "%.7g"; the parity case multihead/seed-1-16x4-batch-first runs the same check
// against the installed PyTorch).
var (
	mhaSeed1Out     = []float32{0.03338402, -0.2128353, -0.1254917, -0.2585282, -0.1194733, 0.1276019, -0.1001624, 0.1603163, 0.08124851, 0.1140642, -0.1275693, -0.03795485, 0.1387541, -0.0256904, 0.009586606, 0.06413392, 0.02970251, -0.1467088, -0.1263126, -0.2496157, 0.008703632, 0.06015168, -0.1337243, 0.07036421, 0.01146874, -0.01416996, -0.1290665, -0.06307127, 0.1563155, 0.006945299, -0.07520287, 0.07855003, -0.05087667, 0.2412131, -0.0819732, 0.03347984, 0.3198406, -0.2436612, -0.1210741, -0.404798, -0.2173585, -0.3143983, 0.09574427, -0.1712723, 0.1561622, 0.08191635, -0.177884, 0.09830674, 0.01028985, 0.06248857, 0.06485165, -0.04908082, 0.2586309, -0.07118924, -0.104863, -0.1072087, -0.09437089, -0.2799628, -0.1585167, -0.079927, 0.09037274, 0.05198803, -0.18924, 0.05151386, 0.02347991, -0.13369, -0.006084793, -0.1599768, 0.03878516, 0.09109057, -0.05145185, 0.1206663, -0.003906252, -0.07610917, -0.2146856, 0.001111657, 0.0679033, -0.04492645, -0.1506021, 0.03111939, 0.006627645, -0.09034256, -4.371561e-05, -0.1393242, 0.08255858, 0.0747381, -0.05833057, 0.07368813, -0.01830761, -0.1143073, -0.2066385, -0.024122, 0.07664304, -0.03220535, -0.1727399, 0.04006273}
	mhaSeed1Weights = []float32{0.3265321, 0.3008818, 0.3725861, 0.3609572, 0.3094974, 0.3295455, 0.3520805, 0.3125887, 0.3353308, 0.3246217, 0.3213491, 0.3540291, 0.3508728, 0.3314966, 0.3176306, 0.3446841, 0.3506822, 0.3046337}
)

func TestMultiheadAttentionSeed1MatchesPyTorch(t *testing.T) {
	torchtest.CheckLive(t)
	torch.ManualSeed(1)
	m := NewMultiheadAttention(16, 4, MultiheadAttentionOptions{BatchFirst: true})
	defer Close(m)
	torchtest.Scope(t)
	x := sinInput(2, 3, 16)
	out, w := m.Forward(x, x, x, AttentionOptions{})
	if got := out.Shape(); !slices.Equal(got, []int64{2, 3, 16}) {
		t.Fatalf("out shape %v", got)
	}
	if !near32(out.Float32s(), mhaSeed1Out, 1e-5) {
		t.Errorf("out = %v\nwant %v", out.Float32s(), mhaSeed1Out)
	}
	if !near32(w.Float32s(), mhaSeed1Weights, 1e-5) {
		t.Errorf("weights = %v\nwant %v", w.Float32s(), mhaSeed1Weights)
	}
	// Evaluation without gradients (PyTorch's fast-path conditions) gives the same output.
	m.SetTraining(false)
	torch.NoGrad(func() {
		o2, w2 := m.Forward(x, x, x, AttentionOptions{NoNeedWeights: true})
		if w2 != nil {
			t.Errorf("NoNeedWeights returned weights")
		}
		if !near32(o2.Float32s(), mhaSeed1Out, 1e-5) {
			t.Errorf("eval out = %v", o2.Float32s())
		}
	})
}

func names(m Module) []string {
	var out []string
	for _, p := range m.NamedParameters() {
		out = append(out, p.Name)
	}
	return out
}

func TestMultiheadAttentionNames(t *testing.T) {
	torchtest.CheckLive(t)
	for _, c := range []struct {
		o    MultiheadAttentionOptions
		want []string
	}{
		{MultiheadAttentionOptions{}, []string{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}},
		{MultiheadAttentionOptions{NoBias: true}, []string{"in_proj_weight", "out_proj.weight"}},
		{MultiheadAttentionOptions{KDim: 3, AddBiasKV: true}, []string{"q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight", "out_proj.bias"}},
	} {
		m := NewMultiheadAttention(8, 2, c.o)
		if got := names(m); !slices.Equal(got, c.want) {
			t.Errorf("%+v: names %v, want %v", c.o, got, c.want)
		}
		Close(m)
	}
}

func TestMultiheadAttentionMasksAndShapes(t *testing.T) {
	torchtest.CheckLive(t)
	m := NewMultiheadAttention(8, 2, MultiheadAttentionOptions{})
	defer Close(m)
	torchtest.Scope(t)
	q := torch.Randn([]int64{4, 2, 8}) // (L, N, E)
	kv := torch.Randn([]int64{5, 2, 8})
	kpm := torch.FromSlice([]bool{false, false, false, true, true, false, false, false, false, false}, 2, 5)
	out, w := m.Forward(q, kv, kv, AttentionOptions{KeyPaddingMask: kpm, NoAverageAttnWeights: true})
	if !slices.Equal(out.Shape(), []int64{4, 2, 8}) || !slices.Equal(w.Shape(), []int64{2, 2, 4, 5}) {
		t.Fatalf("shapes %v %v", out.Shape(), w.Shape())
	}
	// masked keys get zero weight; each row sums to 1
	wv := w.Float32s()
	for h := 0; h < 2; h++ {
		for l := 0; l < 4; l++ {
			row := wv[(h*4+l)*5 : (h*4+l)*5+5]
			if row[3] != 0 || row[4] != 0 {
				t.Errorf("batch 0 head %d row %d: masked weights %v", h, l, row)
			}
			sum := float64(row[0] + row[1] + row[2])
			if math.Abs(sum-1) > 1e-6 {
				t.Errorf("row sums to %v", sum)
			}
		}
	}
	wantPanic(t, "nn.MultiheadAttention.Forward", "attn_mask is", func() {
		m.Forward(q, kv, kv, AttentionOptions{AttnMask: torch.Zeros([]int64{3, 5})})
	})
	wantPanic(t, "nn.MultiheadAttention.Forward", "expecting embedding dimension of 8", func() {
		x := torch.Randn([]int64{4, 2, 6})
		m.Forward(x, x, x, AttentionOptions{})
	})
	wantPanic(t, "nn.NewMultiheadAttention", "divisible", func() { NewMultiheadAttention(10, 3, MultiheadAttentionOptions{}) })
}

func TestTransformerEncoderCopiesLayer(t *testing.T) {
	torchtest.CheckLive(t)
	zero := 0.0
	layer := NewTransformerEncoderLayer(8, 2, TransformerEncoderLayerOptions{DimFeedforward: 16, Dropout: &zero})
	enc := NewTransformerEncoder(layer, 3, NewLayerNorm([]int64{8}, LayerNormOptions{}))
	defer Close(enc)
	// Every layer starts from the prototype's weights, in new tensors.
	proto := layer.NamedParameters()
	for i, l := range enc.Layers {
		for j, p := range l.NamedParameters() {
			if p.Value == proto[j].Value {
				t.Fatalf("layer %d shares %s with the prototype", i, p.Name)
			}
			if !near32(f32(p.Value), f32(proto[j].Value), 0) {
				t.Errorf("layer %d %s differs from the prototype", i, p.Name)
			}
		}
	}
	Close(layer) // the caller's; the encoder is unaffected
	got := names(enc)
	if got[0] != "layers.0.self_attn.in_proj_weight" || got[len(got)-1] != "norm.bias" || len(got) != 3*12+2 {
		t.Errorf("names %v", got)
	}
	torchtest.Scope(t)
	x := torch.Randn([]int64{5, 2, 8})
	out := enc.Forward(x, nil, nil)
	if !slices.Equal(out.Shape(), []int64{5, 2, 8}) {
		t.Errorf("shape %v", out.Shape())
	}
	out.Sum().Backward()
	if enc.Layers[2].Linear2.Weight.Grad() == nil {
		t.Errorf("no gradient reached the last layer")
	}
	enc.SetTraining(false)
	if enc.Layers[1].Dropout.Training() || enc.Layers[1].SelfAttn.Training() {
		t.Errorf("SetTraining(false) did not reach the layers")
	}
}
