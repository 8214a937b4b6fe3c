package nn_test

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// wordLM is PyTorch's examples/word_language_model RNNModel (LSTM, tied weights), small.
type wordLM struct {
	nn.Modules
	Encoder *nn.Embedding
	RNN     *nn.RNNBase
	Decoder *nn.Linear
}

const lmVocab, lmSize, lmBPTT, lmBatch = 12, 16, 6, 4

func newWordLM() *wordLM {
	m := &wordLM{
		Encoder: nn.NewEmbedding(lmVocab, lmSize, nn.EmbeddingOptions{}),
		RNN:     nn.NewLSTM(lmSize, lmSize, nn.RNNOptions{NumLayers: 2}),
		Decoder: nn.NewLinear(lmSize, lmVocab, nn.LinearOptions{}),
	}
	nn.TieWeights(&m.Decoder.Weight, m.Encoder.Weight) // self.decoder.weight = self.encoder.weight
	m.Add("encoder", m.Encoder)
	m.Add("rnn", m.RNN)
	m.Add("decoder", m.Decoder)
	return m
}

// Forward is RNNModel.forward: logits (bptt·batch, vocab) and the new hidden state.
func (m *wordLM) Forward(x *torch.Tensor, hidden nn.State) (*torch.Tensor, nn.State) {
	out, hn := m.RNN.Forward(m.Encoder.Forward(x), &hidden)
	return m.Decoder.Forward(out).View(-1, lmVocab), hn
}

// lmCorpus is a token stream that repeats every 5 tokens, batchified to (rows, batch).
func lmCorpus(rows int) *torch.Tensor {
	data := make([]int64, rows*lmBatch)
	for r := range rows {
		for b := range lmBatch {
			data[r*lmBatch+b] = int64((r + 3*b) % 5)
		}
	}
	return torch.FromSlice(data, int64(rows), lmBatch)
}

// Example_trainingLoopScoped is the loop of Example_trainingLoop with one torch.Scope per
// step, the fast path:
// the scope frees the step's tensors when it closes, without the garbage collector, and
// hidden.Detach carries the state out of it. Everything else is closed by its owner, so
// the number of live tensors returns to where it started.
func Example_trainingLoopScoped() {
	torch.ManualSeed(1)
	start := torch.Live()
	model := newWordLM()
	optimizer, err := optim.NewAdam(nn.Parameters(model), optim.AdamOptions{LR: new(0.01)})
	if err != nil {
		panic(err)
	}
	train := lmCorpus(10*lmBPTT + 1)
	shape := []int64{2, lmBatch, lmSize}
	hidden := nn.State{H: torch.Zeros(shape), C: torch.Zeros(shape)}
	init := hidden
	var first, last float64
	for epoch := range 10 {
		for i := int64(0); i+lmBPTT < train.Size(0); i += lmBPTT {
			s := torch.NewScope()
			data, targets := train.Narrow(0, i, lmBPTT), train.Narrow(0, i+1, lmBPTT).Reshape(-1)
			nn.ZeroGrad(model)
			output, hn := model.Forward(data, hidden)
			hidden = hn.Detach() // outlives s; frees hn and the previous carried state
			loss := nn.CrossEntropyLoss(output, targets, nn.CrossEntropyOptions{})
			loss.Backward()
			nn.ClipGradNorm(nn.Parameters(model), 0.25)
			optimizer.Step()
			if epoch == 0 && i == 0 {
				first = loss.Item()
			}
			last = loss.Item()
			s.Close()
		}
	}
	fmt.Printf("loss %.1f -> below 0.5: %v\n", first, last < 0.5)
	hidden.Close()
	init.Close()
	train.Close()
	optimizer.Close()
	nn.Close(model)
	fmt.Println("tensors left open:", torch.Live()-start)
	// Output:
	// loss 2.3 -> below 0.5: true
	// tensors left open: 0
}

// Example_trainingLoop is a PyTorch training loop ported line by line, without scopes:
// as in Python, every tensor the loop drops is freed for it (the package runs Go's garbage
// collector when the native memory of dropped tensors passes a budget; see
// torch.ReadMemStats). The PyTorch original, from examples/word_language_model:
//
//	model = RNNModel('LSTM', ntokens, emsize, nhid, nlayers, tie_weights=True)
//	optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
//	hidden = model.init_hidden(batch_size)
//	for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
//	    data, targets = get_batch(train_data, i)
//	    hidden = repackage_hidden(hidden)
//	    model.zero_grad()
//	    output, hidden = model(data, hidden)
//	    loss = criterion(output, targets)
//	    loss.backward()
//	    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
//	    optimizer.step()
func Example_trainingLoop() {
	torch.ManualSeed(1)
	model := newWordLM()
	optimizer, err := optim.NewAdam(nn.Parameters(model), optim.AdamOptions{LR: new(0.01)})
	if err != nil {
		panic(err)
	}
	train := lmCorpus(10*lmBPTT + 1)
	shape := []int64{2, lmBatch, lmSize}
	hidden := nn.State{H: torch.Zeros(shape), C: torch.Zeros(shape)} // init_hidden
	var first, last float64
	for epoch := range 10 {
		for i := int64(0); i+lmBPTT < train.Size(0); i += lmBPTT {
			data, targets := train.Narrow(0, i, lmBPTT), train.Narrow(0, i+1, lmBPTT).Reshape(-1)
			nn.ZeroGrad(model)
			output, hn := model.Forward(data, hidden)
			hidden = hn.Detach() // repackage_hidden, placed after the forward pass
			loss := nn.CrossEntropyLoss(output, targets, nn.CrossEntropyOptions{})
			loss.Backward()
			nn.ClipGradNorm(nn.Parameters(model), 0.25)
			optimizer.Step()
			if epoch == 0 && i == 0 {
				first = loss.Item()
			}
			last = loss.Item()
		}
	}
	fmt.Printf("loss %.1f -> below 0.5: %v\n", first, last < 0.5)
	// Output:
	// loss 2.3 -> below 0.5: true
}
