package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func TestCellsShapesAndErrors(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	rnn := NewRNNCell(3, 4, CellOptions{Nonlinearity: "relu"})
	lstm := NewLSTMCell(3, 4, CellOptions{})
	gru := NewGRUCell(3, 4, CellOptions{NoBias: true})
	defer Close(rnn)
	defer Close(lstm)
	defer Close(gru)
	if got := names(lstm); !slices.Equal(got, []string{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
		t.Errorf("names %v", got)
	}
	if got := names(gru); !slices.Equal(got, []string{"weight_ih", "weight_hh"}) {
		t.Errorf("names %v", got)
	}
	if !slices.Equal(lstm.WeightIH.Shape(), []int64{16, 3}) || !slices.Equal(gru.WeightHH.Shape(), []int64{12, 4}) {
		t.Errorf("shapes %v %v", lstm.WeightIH.Shape(), gru.WeightHH.Shape())
	}
	// U(−1/√H, 1/√H)
	for _, v := range f32(lstm.WeightHH) {
		if math.Abs(float64(v)) > 0.5 {
			t.Fatalf("weight %v outside U(-0.5, 0.5)", v)
		}
	}
	x := torch.Randn([]int64{2, 3})
	h := rnn.Forward(x, nil)
	if !slices.Equal(h.Shape(), []int64{2, 4}) {
		t.Errorf("rnn h %v", h.Shape())
	}
	st := lstm.Forward(torch.Randn([]int64{3}), State{})
	if !slices.Equal(st.H.Shape(), []int64{4}) || !slices.Equal(st.C.Shape(), []int64{4}) {
		t.Errorf("unbatched lstm %v %v", st.H.Shape(), st.C.Shape())
	}
	if g := gru.Forward(x, h); !slices.Equal(g.Shape(), []int64{2, 4}) {
		t.Errorf("gru %v", g.Shape())
	}
	wantPanic(t, "nn.GRUCell.Forward", "1-D or 2-D", func() { gru.Forward(torch.Randn([]int64{1, 2, 3}), nil) })
	wantPanic(t, "nn.NewRNNCell", "Unknown nonlinearity", func() { NewRNNCell(3, 4, CellOptions{Nonlinearity: "gelu"}) })
	wantPanic(t, "nn.LSTMCell.Forward", "both H and C", func() { lstm.Forward(x, State{H: h}) })
}

func TestLayerNormConvIdentitySequential(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	ln := NewLayerNorm([]int64{4}, LayerNormOptions{})
	defer Close(ln)
	if ln.Eps != 1e-5 || !near32(f32(ln.Weight), []float32{1, 1, 1, 1}, 0) || !near32(f32(ln.Bias), []float32{0, 0, 0, 0}, 0) {
		t.Errorf("LayerNorm defaults: eps %v weight %v bias %v", ln.Eps, f32(ln.Weight), f32(ln.Bias))
	}
	y := ln.Forward(torch.FromSlice([]float32{1, 2, 3, 4}, 1, 4))
	m := y.Mean().Item()
	if math.Abs(m) > 1e-6 {
		t.Errorf("normalised mean %v", m)
	}
	if got := names(NewLayerNorm([]int64{2}, LayerNormOptions{NoElementwiseAffine: true})); got != nil {
		t.Errorf("no-affine names %v", got)
	}

	for _, c := range []struct {
		o    Conv1dOptions
		l    int64
		want int64
	}{
		{Conv1dOptions{}, 10, 8},
		{Conv1dOptions{Padding: 1}, 10, 10},
		{Conv1dOptions{PaddingString: "same", Dilation: 3}, 10, 10},
		{Conv1dOptions{PaddingString: "valid", Stride: 2}, 10, 4},
		{Conv1dOptions{Padding: 2, PaddingMode: "circular"}, 10, 12},
	} {
		conv := NewConv1d(2, 6, 3, c.o)
		out := conv.Forward(torch.Randn([]int64{4, 2, c.l}))
		if !slices.Equal(out.Shape(), []int64{4, 6, c.want}) {
			t.Errorf("%+v: shape %v, want length %d", c.o, out.Shape(), c.want)
		}
		Close(conv)
	}
	wantPanic(t, "nn.NewConv1d", "not supported for strided", func() { NewConv1d(2, 2, 3, Conv1dOptions{PaddingString: "same", Stride: 2}) })
	wantPanic(t, "nn.NewConv1d", "divisible by groups", func() { NewConv1d(3, 2, 3, Conv1dOptions{Groups: 2}) })
	wantPanic(t, "nn.NewConv1d", "padding_mode", func() { NewConv1d(2, 2, 3, Conv1dOptions{PaddingMode: "mirror"}) })

	seq := NewSequential(NewLinear(3, 5, LinearOptions{}), ReLU(), NewIdentity(), NewLinear(5, 2, LinearOptions{}))
	defer Close(seq)
	if got := names(seq); !slices.Equal(got, []string{"0.weight", "0.bias", "3.weight", "3.bias"}) {
		t.Errorf("Sequential names %v", got)
	}
	if out := seq.Forward(torch.Randn([]int64{7, 3})); !slices.Equal(out.Shape(), []int64{7, 2}) {
		t.Errorf("Sequential shape %v", out.Shape())
	}
	x := torch.Randn([]int64{2})
	id := NewIdentity().Forward(x)
	if id == x || !near32(id.Float32s(), x.Float32s(), 0) {
		t.Errorf("Identity must return a new handle on the same values")
	}
}

func TestInitFunctions(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	w := NewParameter(torch.Zeros([]int64{6, 4, 2}))
	defer w.Close()
	if in, out := CalculateFanInAndFanOut(w); in != 8 || out != 12 {
		t.Errorf("fans %d %d", in, out)
	}
	InitKaimingUniform(w, KaimingOptions{Mode: "fan_out", Nonlinearity: "relu"})
	bound := math.Sqrt(3) * math.Sqrt(2) / math.Sqrt(12)
	for _, v := range f32(w) {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("%v outside ±%v", v, bound)
		}
	}
	if w.Grad() != nil || !w.RequiresGrad() {
		t.Errorf("init must leave a parameter a leaf that requires grad")
	}
	q := torch.Zeros([]int64{5, 3})
	InitOrthogonal(q, 2)
	qtq := q.T().Matmul(q) // 4·I
	want := []float32{4, 0, 0, 0, 4, 0, 0, 0, 4}
	if !near32(qtq.Float32s(), want, 1e-5) {
		t.Errorf("QᵀQ = %v", qtq.Float32s())
	}
	if g := CalculateGain("leaky_relu", nil); math.Abs(g-math.Sqrt(2/(1+0.0001))) > 1e-15 {
		t.Errorf("gain %v", g)
	}
	wantPanic(t, "nn.CalculateGain", "Unsupported nonlinearity", func() { CalculateGain("swish", nil) })
	wantPanic(t, "nn.InitKaimingNormal", "Mode fan_avg", func() { InitKaimingNormal(q, KaimingOptions{Mode: "fan_avg"}) })
	wantPanic(t, "nn.InitXavierUniform", "fewer than 2", func() { InitXavierUniform(torch.Zeros([]int64{3}), 1) })
}

func TestNewModulesRegisterEverything(t *testing.T) {
	torchtest.CheckLive(t)
	layer := NewTransformerEncoderLayer(8, 2, TransformerEncoderLayerOptions{DimFeedforward: 4})
	defer Close(layer)
	enc := NewTransformerEncoder(layer, 2, nil)
	defer Close(enc)
	mods := []Module{
		NewRNNCell(2, 3, CellOptions{}), NewLSTMCell(2, 3, CellOptions{}), NewGRUCell(2, 3, CellOptions{}),
		NewLayerNorm([]int64{3}, LayerNormOptions{}), NewConv1d(2, 2, 1, Conv1dOptions{}),
		NewMultiheadAttention(4, 2, MultiheadAttentionOptions{KDim: 3, AddBiasKV: true}),
		NewSequential(NewLinear(2, 2, LinearOptions{}), NewIdentity()),
		layer, enc,
	}
	for i, m := range mods {
		if err := CheckRegistered(m); err != nil {
			t.Errorf("%d %T: %v", i, m, err)
		}
		if i < len(mods)-2 {
			defer Close(m)
		}
	}
}
