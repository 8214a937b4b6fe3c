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
	lstm, err := nn.NewLSTM(benchIn, benchHidden, nn.RNNOptions{BatchFirst: true, LibtorchKernel: libtorch})
	if err != nil {
		b.Fatal(err)
	}
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

// BenchmarkLSTMForwardBackward is the model part of a training step: LSTM forward over a padded
// batch, Linear on the last hidden state, MSE loss and backward, in one Scope per iteration.
func BenchmarkLSTMForwardBackward(b *testing.B) {
	for _, k := range kernels {
		b.Run(k.name, func(b *testing.B) { benchmarkLSTMForwardBackward(b, k.libtorch) })
	}
}

func benchmarkLSTMForwardBackward(b *testing.B, libtorch bool) {
	lstm, head, x, y := benchModel(b, libtorch)
	defer nn.Close(lstm)
	defer nn.Close(head)
	defer x.Close()
	defer y.Close()
	live := torch.Live()
	b.ReportAllocs()
	for b.Loop() {
		torch.WithScope(func(*torch.Scope) {
			nn.ZeroGrad(lstm)
			nn.ZeroGrad(head)
			_, hn, err := lstm.Forward(x, nil)
			if err != nil {
				b.Fatal(err)
			}
			torch.MSELoss(head.Forward(hn.H.SqueezeDim(0)), y, torch.ReductionMean).Backward()
		})
	}
	b.StopTimer()
	nn.ZeroGrad(lstm)
	nn.ZeroGrad(head)
	checkNoLeak(b, live)
}

// BenchmarkLSTMForwardPackedBackward is BenchmarkLSTMForwardBackward over a PackedSequence of
// unsorted lengths (packing included), using the final hidden state.
func BenchmarkLSTMForwardPackedBackward(b *testing.B) {
	for _, k := range kernels {
		b.Run(k.name, func(b *testing.B) { benchmarkLSTMForwardPackedBackward(b, k.libtorch) })
	}
}

func benchmarkLSTMForwardPackedBackward(b *testing.B, libtorch bool) {
	lstm, head, x, y := benchModel(b, libtorch)
	defer nn.Close(lstm)
	defer nn.Close(head)
	defer x.Close()
	defer y.Close()
	lengths := benchLengths()
	live := torch.Live()
	b.ReportAllocs()
	for b.Loop() {
		torch.WithScope(func(*torch.Scope) {
			nn.ZeroGrad(lstm)
			nn.ZeroGrad(head)
			p, err := nn.PackPaddedSequence(x, lengths, true, false)
			if err != nil {
				b.Fatal(err)
			}
			_, hn, err := lstm.ForwardPacked(p, nil)
			if err != nil {
				b.Fatal(err)
			}
			torch.MSELoss(head.Forward(hn.H.SqueezeDim(0)), y, torch.ReductionMean).Backward()
		})
	}
	b.StopTimer()
	nn.ZeroGrad(lstm)
	nn.ZeroGrad(head)
	checkNoLeak(b, live)
}

// BenchmarkLSTMInference is a forward pass without autograd (the predict path).
func BenchmarkLSTMInference(b *testing.B) {
	for _, k := range kernels {
		b.Run(k.name, func(b *testing.B) { benchmarkLSTMInference(b, k.libtorch) })
	}
}

func benchmarkLSTMInference(b *testing.B, libtorch bool) {
	lstm, head, x, y := benchModel(b, libtorch)
	defer nn.Close(lstm)
	defer nn.Close(head)
	defer x.Close()
	defer y.Close()
	lstm.SetTraining(false)
	live := torch.Live()
	b.ReportAllocs()
	for b.Loop() {
		torch.NoGrad(func() {
			torch.WithScope(func(*torch.Scope) {
				_, hn, err := lstm.Forward(x, nil)
				if err != nil {
					b.Fatal(err)
				}
				head.Forward(hn.H.SqueezeDim(0))
			})
		})
	}
	checkNoLeak(b, live)
}

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
		p, err := nn.PackPaddedSequence(x, lengths, true, false)
		if err != nil {
			b.Fatal(err)
		}
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
		p, err := nn.PackPaddedSequence(x, lengths, true, true)
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
	checkNoLeak(b, live)
}

// BenchmarkPadPackedSequence unpacks a packed batch back to (64, 30, 300).
func BenchmarkPadPackedSequence(b *testing.B) {
	_ = torch.SetNumThreads(1)
	x := torch.Randn([]int64{benchBatch, benchSeq, benchIn})
	defer x.Close()
	p, err := nn.PackPaddedSequence(x, benchLengths(), true, false)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	live := torch.Live()
	b.ReportAllocs()
	for b.Loop() {
		out, _, err := nn.PadPackedSequence(p, true, 0, benchSeq)
		if err != nil {
			b.Fatal(err)
		}
		out.Close()
	}
	checkNoLeak(b, live)
}
