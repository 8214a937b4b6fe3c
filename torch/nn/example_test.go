package nn_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// Classifier is the seed's reference model: an RNN over embedded tokens and a linear layer
// over the last hidden state. Embedding nn.Modules and calling Add in PyTorch's attribute
// order gives PyTorch's state_dict keys.
type Classifier struct {
	nn.Modules
	Embedding *nn.Embedding
	RNN       *nn.RNNBase
	LinearOut *nn.Linear
}

// NewClassifier builds the model. Constructors panic with *torch.Error on invalid sizes
// (a programming error; validate user input first, or build inside torch.Try).
func NewClassifier(vocab, dim, hidden, layers, classes int64) *Classifier {
	pad := int64(0)
	m := &Classifier{
		Embedding: nn.NewEmbedding(vocab, dim, nn.EmbeddingOptions{PaddingIdx: &pad}),
		RNN:       nn.NewRNN(dim, hidden, nn.RNNOptions{NumLayers: layers, BatchFirst: true}),
		LinearOut: nn.NewLinear(hidden, classes, nn.LinearOptions{}),
	}
	m.Add("embedding", m.Embedding)
	m.Add("rnn", m.RNN)
	m.Add("linear_out", m.LinearOut)
	return m
}

// Forward returns class logits for a padded batch of token ids (batch, seq) with lengths.
// Everything it makes on the way belongs to its own scope and is freed on return; the logits
// escape into the caller's scope (or, with none open, to the caller). Bad input panics with
// *torch.Error, as PyTorch raises: the code is straight-line.
func (m *Classifier) Forward(tokens *torch.Tensor, lengths []int64) *torch.Tensor {
	s := torch.NewScope()
	defer s.Close()
	x := m.Embedding.Forward(tokens)
	packed := nn.PackPaddedSequence(x, lengths, nn.PackPaddedOptions{BatchFirst: true, NoEnforceSorted: true})
	_, hn := m.RNN.ForwardPacked(packed, nil)
	last := hn.H.Narrow(0, hn.H.Size(0)-1, 1).SqueezeDim(0) // the top layer's final state
	return s.Escape(m.LinearOut.Forward(last))
}

func ExampleModules() {
	m := NewClassifier(100, 8, 16, 2, 2)
	defer nn.Close(m)
	for _, p := range m.NamedParameters() {
		fmt.Println(p.Name, p.Value.Shape())
	}
	trainable, total := nn.NumParams(m)
	fmt.Println(trainable, total)
	// Output:
	// embedding.weight [100 8]
	// rnn.weight_ih_l0 [16 8]
	// rnn.weight_hh_l0 [16 16]
	// rnn.bias_ih_l0 [16]
	// rnn.bias_hh_l0 [16]
	// rnn.weight_ih_l1 [16 16]
	// rnn.weight_hh_l1 [16 16]
	// rnn.bias_ih_l1 [16]
	// rnn.bias_hh_l1 [16]
	// linear_out.weight [2 16]
	// linear_out.bias [2]
	// 1794 1794
}

func ExampleRNNBase_ForwardPacked() {
	torch.ManualSeed(0)
	m := NewClassifier(100, 8, 16, 2, 2)
	defer nn.Close(m)
	s := torch.NewScope()
	defer s.Close()
	tokens := torch.FromSlice([]int64{
		5, 6, 0, 0,
		7, 8, 9, 10,
		11, 0, 0, 0,
	}, 3, 4)
	logits := m.Forward(tokens, []int64{2, 4, 1})
	loss := nn.CrossEntropyLoss(logits, torch.FromSlice([]int64{0, 1, 1}), nn.CrossEntropyOptions{})
	loss.Backward()
	fmt.Println(logits.Shape(), loss.Shape(), m.RNN.Parameter("weight_ih_l0").Grad() != nil)
	// Output:
	// [3 2] [] true
}

func ExampleNewLSTM() {
	lstm := nn.NewLSTM(300, 50, nn.RNNOptions{NumLayers: 2, Bidirectional: true, BatchFirst: true})
	defer nn.Close(lstm)
	s := torch.NewScope()
	defer s.Close()
	x := torch.Randn([]int64{4, 7, 300}) // (batch, seq, feature)
	out, hn := lstm.Forward(x, nil)
	fmt.Println(out.Shape(), hn.H.Shape(), hn.C.Shape())

	// Bad input panics with *torch.Error; torch.Try (or torch.Run at a boundary) recovers it.
	err := torch.Try(func() { lstm.Forward(torch.Randn([]int64{4, 7, 299}), nil) })
	fmt.Println(err)
	err = torch.Try(func() {
		lstm.Forward(x, &nn.State{H: torch.Zeros([]int64{1, 4, 50}), C: torch.Zeros([]int64{4, 4, 50})})
	})
	fmt.Println(err)
	// Output:
	// [4 7 100] [4 4 50] [4 4 50]
	// torch: nn.LSTM.Forward: expected input feature size 300, got 299
	// torch: nn.LSTM.Forward: expected hidden size (4, 4, 50), got (1, 4, 50)
}

func ExamplePackPaddedSequence() {
	s := torch.NewScope()
	defer s.Close()
	// Three sequences, time-major (seq, batch): lengths 2, 3, 1.
	x := torch.FromSlice([]float32{
		4, 1, 6,
		5, 2, 0,
		0, 3, 0,
	}, 3, 3)
	p := nn.PackPaddedSequence(x, []int64{2, 3, 1}, nn.PackPaddedOptions{NoEnforceSorted: true})
	defer p.Close()
	fmt.Println(p.Data.Float32s(), p.BatchSizes.Int64s(), p.SortedIndices.Int64s(), p.UnsortedIndices.Int64s())

	padded, lengths := nn.PadPackedSequence(p, nn.PadPackedOptions{BatchFirst: true, PaddingValue: -1, TotalLength: 4})
	fmt.Println(padded.Shape(), padded.Float32s(), lengths)

	// enforce_sorted (the default) with unsorted lengths panics, as PyTorch raises.
	err := torch.Try(func() { nn.PackPaddedSequence(x, []int64{2, 3, 1}, nn.PackPaddedOptions{}) })
	var te *torch.Error
	fmt.Println(errors.As(err, &te), te.Op)
	// Output:
	// [1 4 6 2 5 3] [3 2 1] [1 0 2] [1 0 2]
	// [3 4] [4 5 -1 -1 1 2 3 -1 6 -1 -1 -1] [2 3 1]
	// true nn.PackPaddedSequence
}

func ExamplePadSequence() {
	s := torch.NewScope()
	defer s.Close()
	a := torch.FromSlice([]int64{1, 2, 3})
	b := torch.FromSlice([]int64{4, 5})
	c := torch.FromSlice([]int64{6})
	fmt.Println(nn.PadSequence([]*torch.Tensor{b, a, c}, nn.PadSequenceOptions{BatchFirst: true}).Int64s())
	// Output:
	// [4 5 0 1 2 3 6 0 0]
}

func ExampleSaveSafetensors() {
	dir, err := os.MkdirTemp("", "nn-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	a := NewClassifier(10, 4, 3, 1, 2)
	defer nn.Close(a)
	if err := nn.SaveSafetensors(path, a, map[string]string{"epoch": "7"}); err != nil {
		fmt.Println(err)
		return
	}
	b := NewClassifier(10, 4, 3, 1, 2)
	defer nn.Close(b)
	fmt.Println(nn.LoadSafetensors(path, b))

	bigger := NewClassifier(10, 4, 5, 1, 2)
	defer nn.Close(bigger)
	err = nn.LoadSafetensors(path, bigger)
	var se *nn.StateDictError
	if ok := asStateDictError(err, &se); ok {
		fmt.Println(len(se.Mismatched), "size mismatches")
	}
	// Output:
	// <nil>
	// 5 size mismatches
}

func asStateDictError(err error, target **nn.StateDictError) bool {
	for err != nil {
		if e, ok := err.(*nn.StateDictError); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func ExampleCrossEntropyLoss() {
	s := torch.NewScope()
	defer s.Close()
	logits := torch.FromSlice([]float32{2, 0, 0, 0, 2, 0}, 2, 3)
	target := torch.FromSlice([]int64{0, 1})
	fmt.Printf("%.4f\n", nn.CrossEntropyLoss(logits, target, nn.CrossEntropyOptions{}).Item())
	ignore := int64(1)
	fmt.Printf("%.4f\n", nn.CrossEntropyLoss(logits, target, nn.CrossEntropyOptions{IgnoreIndex: &ignore, Reduction: torch.ReductionSum}).Item())
	// Output:
	// 0.2395
	// 0.2395
}

func ExampleContrastiveLoss() {
	s := torch.NewScope()
	defer s.Close()
	a := torch.FromSlice([]float32{0, 0, 0, 0}, 2, 2)
	b := torch.FromSlice([]float32{3, 4, 0, 1}, 2, 2)
	similar := torch.FromSlice([]float32{1, 0})
	// (d(a0,b0) + max(0, 2 - d(a1,b1))) / 2 = (5 + 1) / 2
	fmt.Printf("%.3f\n", nn.ContrastiveLoss(a, b, similar, 2, torch.ReductionMean).Item())
	// Output:
	// 3.000
}

func ExampleCheckRegistered() {
	type model struct {
		nn.Modules
		Enc  *nn.Linear
		Head *nn.Linear // forgotten below: no m.Add("head", m.Head)
	}
	m := &model{Enc: nn.NewLinear(4, 3, nn.LinearOptions{}), Head: nn.NewLinear(3, 1, nn.LinearOptions{})}
	defer nn.Close(m.Head)
	defer nn.Close(m)
	m.Add("enc", m.Enc)
	names, _ := nn.StateDict(m)
	fmt.Println(names) // head.weight and head.bias are missing, and so from any optimizer
	fmt.Println(nn.CheckRegistered(m))
	// Output:
	// [enc.weight enc.bias]
	// nn: *nn_test.model.Head (*nn.Linear) is not registered (Modules.Add)
}
