package nn_test

import (
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// Sizes of the benchmarked LSTM: `make bench`'s training step (LSTM 300→50, batch 64, 30 steps).
const benchBatch, benchSeq, benchIn, benchHidden = 64, 30, 300, 50

// benchLengths are unsorted sequence lengths in 1..benchSeq, many short and a few long.
func benchLengths() []int64 {
	l := make([]int64, benchBatch)
	for i := range l {
		l[i] = int64(1 + (i*i*7+i*3)%benchSeq)
	}
	l[5] = benchSeq
	return l
}

// kernels are the two LSTM kernels each LSTM benchmark runs as sub-benchmarks: seqtorch's fused
// CPU kernel (the default) and libtorch's at::lstm (RNNOptions.LibtorchKernel).
var kernels = []struct {
	name     string
	libtorch bool
}{{"fused", false}, {"libtorch", true}}

// benchModel returns a batch-first LSTM(300→50) and a Linear(50→1), and a random batch.
func benchModel(b *testing.B, libtorch bool) (*nn.RNNBase, *nn.Linear, *torch.Tensor, *torch.Tensor) {
	b.Helper()
	_ = torch.SetNumThreads(1)
	torch.ManualSeed(0)
	lstm := nn.NewLSTM(benchIn, benchHidden, nn.RNNOptions{BatchFirst: true, LibtorchKernel: libtorch})
	head := nn.NewLinear(benchHidden, 1, nn.LinearOptions{})
	x := torch.Randn([]int64{benchBatch, benchSeq, benchIn})
	y := torch.Randn([]int64{benchBatch, 1})
	return lstm, head, x, y
}

// checkNoLeak fails the benchmark if the loop left tensors open.
func checkNoLeak(b *testing.B, live int64) {
	b.Helper()
	if got := torch.Live(); got != live {
		b.Fatalf("Live() = %d after the loop, %d before: tensors leaked", got, live)
	}
}

// benchLSTM runs one sub-benchmark per kernel on benchModel's model and batch. Each iteration,
// in one Scope, runs forward (returning the final state) and the head on the last hidden
// state; with train it zeroes the gradients first and adds an MSE loss and backward, without
// it the iteration runs under NoGrad with the LSTM in evaluation mode.
func benchLSTM(b *testing.B, train bool, forward func(*nn.RNNBase, *torch.Tensor) nn.State) {
	for _, k := range kernels {
		b.Run(k.name, func(b *testing.B) {
			lstm, head, x, y := benchModel(b, k.libtorch)
			defer nn.Close(lstm)
			defer nn.Close(head)
			defer x.Close()
			defer y.Close()
			lstm.SetTraining(train)
			step := func() {
				torch.WithScope(func(*torch.Scope) {
					if train {
						nn.ZeroGrad(lstm)
						nn.ZeroGrad(head)
					}
					hn := forward(lstm, x)
					out := head.Forward(hn.H.SqueezeDim(0))
					if train {
						torch.MSELoss(out, y, torch.ReductionMean).Backward()
					}
				})
			}
			live := torch.Live()
			b.ReportAllocs()
			for b.Loop() {
				if train {
					step()
				} else {
					torch.NoGrad(step)
				}
			}
			b.StopTimer()
			nn.ZeroGrad(lstm)
			nn.ZeroGrad(head)
			checkNoLeak(b, live)
		})
	}
}

// padded runs the LSTM over the padded batch.
func padded(lstm *nn.RNNBase, x *torch.Tensor) nn.State {
	_, hn := lstm.Forward(x, nil)
	return hn
}

// BenchmarkLSTMForwardBackward is the model part of a training step: LSTM forward over a padded
// batch, Linear on the last hidden state, MSE loss and backward, in one Scope per iteration.
func BenchmarkLSTMForwardBackward(b *testing.B) { benchLSTM(b, true, padded) }

// BenchmarkLSTMForwardPackedBackward is BenchmarkLSTMForwardBackward over a PackedSequence of
// unsorted lengths (packing included), using the final hidden state.
func BenchmarkLSTMForwardPackedBackward(b *testing.B) {
	lengths := benchLengths()
	benchLSTM(b, true, func(lstm *nn.RNNBase, x *torch.Tensor) nn.State {
		p := nn.PackPaddedSequence(x, lengths, nn.PackPaddedOptions{BatchFirst: true, NoEnforceSorted: true})
		_, hn := lstm.ForwardPacked(p, nil)
		return hn
	})
}

// BenchmarkLSTMInference is a forward pass without autograd (the predict path).
func BenchmarkLSTMInference(b *testing.B) { benchLSTM(b, false, padded) }

// BenchmarkPackPaddedSequence packs a (64, 30, 300) batch of unsorted lengths (sort, permute,
// pack) and frees the result.
func BenchmarkPackPaddedSequence(b *testing.B) {
	_ = torch.SetNumThreads(1)
	x := torch.Randn([]int64{benchBatch, benchSeq, benchIn})
	defer x.Close()
	lengths := benchLengths()
	live := torch.Live()
	b.ReportAllocs()
	for b.Loop() {
		p := nn.PackPaddedSequence(x, lengths, nn.PackPaddedOptions{BatchFirst: true, NoEnforceSorted: true})
		p.Close()
	}
	checkNoLeak(b, live)
}

// BenchmarkPackPaddedSequenceSorted packs a batch whose lengths are already sorted
// (enforce_sorted=True: no permutation).
func BenchmarkPackPaddedSequenceSorted(b *testing.B) {
	_ = torch.SetNumThreads(1)
	x := torch.Randn([]int64{benchBatch, benchSeq, benchIn})
	defer x.Close()
	lengths := make([]int64, benchBatch)
	for i := range lengths {
		lengths[i] = int64(benchSeq - i*benchSeq/benchBatch)
	}
	live := torch.Live()
	b.ReportAllocs()
	for b.Loop() {
		p := nn.PackPaddedSequence(x, lengths, nn.PackPaddedOptions{BatchFirst: true})
		p.Close()
	}
	checkNoLeak(b, live)
}

// BenchmarkPadPackedSequence unpacks a packed batch back to (64, 30, 300).
func BenchmarkPadPackedSequence(b *testing.B) {
	_ = torch.SetNumThreads(1)
	x := torch.Randn([]int64{benchBatch, benchSeq, benchIn})
	defer x.Close()
	p := nn.PackPaddedSequence(x, benchLengths(), nn.PackPaddedOptions{BatchFirst: true, NoEnforceSorted: true})
	defer p.Close()
	live := torch.Live()
	b.ReportAllocs()
	for b.Loop() {
		out, _ := nn.PadPackedSequence(p, nn.PadPackedOptions{BatchFirst: true, TotalLength: benchSeq})
		out.Close()
	}
	checkNoLeak(b, live)
}
