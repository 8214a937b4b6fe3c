package nn_test

import (
	"path/filepath"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// BenchmarkSafetensors saves and loads a state dict the size of the SMS study's LSTM model
// (a 3226×100 embedding table and LSTM 100→80 weights, 380k float32 parameters, 1.5 MB).
// Its B/op is the Go memory a checkpoint costs: the data is streamed through a 64 KiB
// buffer, so besides the buffers each tensor is held in Go memory once, one at a time.
func BenchmarkSafetensors(b *testing.B) {
	names := []string{"embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"}
	shapes := [][]int64{{3226, 100}, {320, 100}, {320, 80}, {320}, {320}}
	ts := make([]*torch.Tensor, len(shapes))
	for i, s := range shapes {
		ts[i] = torch.Randn(s)
	}
	defer func() {
		for _, t := range ts {
			t.Close()
		}
	}()
	path := filepath.Join(b.TempDir(), "m.safetensors")
	live := torch.Live()
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := nn.WriteSafetensors(path, names, ts, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, got, _, err := nn.ReadSafetensors(path)
			if err != nil {
				b.Fatal(err)
			}
			for _, t := range got {
				t.Close()
			}
		}
	})
	checkNoLeak(b, live)
}
