package nn_test

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// The weights come out as PyTorch's for the same seed: torch.manual_seed(1);
// nn.MultiheadAttention(16, 4, batch_first=True) has the same in_proj_weight.
func ExampleMultiheadAttention() {
	torch.ManualSeed(1)
	m := nn.NewMultiheadAttention(16, 4, nn.MultiheadAttentionOptions{BatchFirst: true})
	defer nn.Close(m)
	for _, p := range m.NamedParameters() {
		fmt.Println(p.Name, p.Value.Shape())
	}
	s := torch.NewScope()
	defer s.Close()
	x := torch.Ones([]int64{2, 3, 16}) // (batch, seq, embed)
	pad := torch.FromSlice([]bool{false, false, true, false, false, false}, 2, 3)
	out, w := m.Forward(x, x, x, nn.AttentionOptions{KeyPaddingMask: pad})
	fmt.Println(out.Shape(), w.Shape())
	fmt.Printf("%.4f\n", m.InProjWeight.Narrow(0, 0, 1).Narrow(1, 0, 4).Float32s())
	fmt.Printf("%.4f\n", w.Narrow(0, 0, 1).Float32s()) // the padded key gets no weight
	// Output:
	// in_proj_weight [48 16]
	// in_proj_bias [48]
	// out_proj.weight [16 16]
	// out_proj.bias [16]
	// [2 3 16] [2 3 3]
	// [0.0728 0.2540 -0.1272 -0.1293]
	// [0.5000 0.5000 0.0000 0.5000 0.5000 0.0000 0.5000 0.5000 0.0000]
}

func ExampleTransformerEncoder() {
	torch.ManualSeed(0)
	layer := nn.NewTransformerEncoderLayer(16, 4, nn.TransformerEncoderLayerOptions{DimFeedforward: 32, BatchFirst: true, NormFirst: true})
	defer nn.Close(layer) // the encoder holds copies
	enc := nn.NewTransformerEncoder(layer, 2, nn.NewLayerNorm([]int64{16}, nn.LayerNormOptions{}))
	defer nn.Close(enc)
	enc.SetTraining(false) // no dropout
	names, _ := nn.StateDict(enc)
	fmt.Println(len(names), names[0], names[len(names)-1])
	s := torch.NewScope()
	defer s.Close()
	src := torch.Randn([]int64{2, 5, 16})
	out := enc.Forward(src, nil, nil)
	fmt.Println(out.Shape())
	// Output:
	// 26 layers.0.self_attn.in_proj_weight norm.bias
	// [2 5 16]
}

func ExampleLSTMCell() {
	torch.ManualSeed(0)
	cell := nn.NewLSTMCell(3, 2, nn.CellOptions{})
	defer nn.Close(cell)
	s := torch.NewScope()
	defer s.Close()
	x := torch.Randn([]int64{4, 5, 3}) // (seq, batch, input)
	var st nn.State                    // zeros
	for t := int64(0); t < x.Size(0); t++ {
		st = cell.Forward(x.Narrow(0, t, 1).SqueezeDim(0), st)
	}
	fmt.Println(st.H.Shape(), st.C.Shape())
	// Output:
	// [5 2] [5 2]
}

func ExampleConv1d() {
	conv := nn.NewConv1d(4, 8, 3, nn.Conv1dOptions{PaddingString: "same", PaddingMode: "reflect"})
	defer nn.Close(conv)
	s := torch.NewScope()
	defer s.Close()
	out := conv.Forward(torch.Randn([]int64{2, 4, 10})) // (batch, channels, length)
	fmt.Println(conv.Weight.Shape(), out.Shape())
	// Output:
	// [8 4 3] [2 8 10]
}

func ExampleInitOrthogonal() {
	torch.ManualSeed(0)
	w := nn.NewParameter(torch.Zeros([]int64{3, 3}))
	defer w.Close()
	nn.InitOrthogonal(w, 1) // as nn.init.orthogonal_(w)
	s := torch.NewScope()
	defer s.Close()
	wtw := w.T().Matmul(w) // the identity, to float rounding
	eye := torch.FromSlice([]float32{1, 0, 0, 0, 1, 0, 0, 0, 1}, 3, 3)
	fmt.Println(wtw.Sub(eye).Abs().Max().Item() < 1e-6)
	fmt.Println(nn.CalculateGain("tanh", nil))
	// Output:
	// true
	// 1.6666666666666667
}

func ExampleSequential() {
	torch.ManualSeed(0)
	mlp := nn.NewSequential(nn.NewLinear(4, 8, nn.LinearOptions{}), nn.GELU(), nn.NewDropout(0.1), nn.NewLinear(8, 2, nn.LinearOptions{}))
	defer nn.Close(mlp)
	names, _ := nn.StateDict(mlp)
	fmt.Println(names)
	// Output:
	// [0.weight 0.bias 3.weight 3.bias]
}
