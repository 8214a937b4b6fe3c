package nn

import (
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
)

// liveCheck fails the test if tensors created during it are still open at its end.
func liveCheck(t *testing.T) {
	t.Helper()
	start := torch.Live()
	t.Cleanup(func() {
		if got := torch.Live(); got != start {
			t.Errorf("Live() = %d at the end, %d at the start", got, start)
		}
	})
}

func TestClipGradValue(t *testing.T) {
	liveCheck(t)
	s := torch.NewScope()
	defer s.Close()
	w := NewParameter(torch.FromSlice([]float32{1, 2, 3}))
	noGrad := NewParameter(torch.FromSlice([]float32{1}))
	defer w.Close()
	defer noGrad.Close()
	w.Mul(torch.FromSlice([]float32{-3, 0.5, 2})).Sum().Backward()
	ClipGradValue([]*torch.Tensor{w, noGrad}, 1)
	if got := w.Grad().Float32s(); !slices.Equal(got, []float32{-1, 0.5, 1}) {
		t.Errorf("clipped grad = %v, want [-1 0.5 1]", got)
	}
	if noGrad.Grad() != nil {
		t.Error("a parameter without a gradient got one")
	}
	if err := torch.Try(func() { ClipGradValue([]*torch.Tensor{w}, -1) }); err == nil {
		t.Error("negative clip value accepted")
	}
	// ClipGradNorm is optim.ClipGradNorm: total norm sqrt(1+0.25+1) = 1.5.
	if got := ClipGradNorm([]*torch.Tensor{w}, 10); got < 1.4999 || got > 1.5001 {
		t.Errorf("ClipGradNorm returned %v, want 1.5", got)
	}
}

func TestTieWeights(t *testing.T) {
	liveCheck(t)
	enc := NewEmbedding(10, 4, EmbeddingOptions{})
	dec := NewLinear(4, 10, LinearOptions{})
	var m Modules
	m.Add("encoder", enc)
	m.Add("decoder", dec)
	old := dec.Weight
	TieWeights(&dec.Weight, enc.Weight)
	if !old.Closed() {
		t.Error("the replaced weight is still open")
	}
	if dec.Weight != enc.Weight {
		t.Error("not tied")
	}
	if got := len(Parameters(&m)); got != 2 {
		t.Errorf("%d parameters, want 2 (the tied weight once, the bias)", got)
	}
	names, _ := StateDict(&m)
	if !slices.Equal(names, []string{"encoder.weight", "decoder.weight", "decoder.bias"}) {
		t.Errorf("state dict keys %v", names)
	}
	bad := NewLinear(4, 9, LinearOptions{})
	err := torch.Try(func() { TieWeights(&bad.Weight, enc.Weight) })
	if err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("shape mismatch: error %v", err)
	}
	Close(bad)
	Close(&m)
}

// TestStateDetach: Detach carries a state out of the step's scope, frees the state it
// detaches and the carried state the forward pass started from, and cuts the graph.
func TestStateDetach(t *testing.T) {
	liveCheck(t)
	lstm := NewLSTM(3, 4, RNNOptions{})
	defer Close(lstm)
	init := State{H: torch.Zeros([]int64{1, 2, 4}), C: torch.Zeros([]int64{1, 2, 4})}
	hidden := init
	var carried []State
	for range 3 {
		s := torch.NewScope()
		out, hn := lstm.Forward(torch.Randn([]int64{5, 2, 3}), &hidden)
		out.Sum().Backward()
		hidden = hn.Detach()
		if !hn.H.Closed() || !hn.C.Closed() {
			t.Error("Detach left the state it detached open")
		}
		s.Close()
		if hidden.H.Closed() || hidden.C.Closed() {
			t.Fatal("the detached state did not survive the scope")
		}
		if hidden.H.RequiresGrad() || hidden.C.RequiresGrad() {
			t.Error("the detached state requires grad")
		}
		carried = append(carried, hidden)
	}
	if init.H.Closed() || init.C.Closed() {
		t.Error("Detach closed the caller's initial state")
	}
	for i, c := range carried[:len(carried)-1] {
		if !c.H.Closed() || !c.C.Closed() {
			t.Errorf("carried state %d is still open after the next step's Detach", i)
		}
	}
	init.Close()
	hidden.Close()
	if z := (State{}).Detach(); z.H != nil || z.C != nil {
		t.Error("Detach of a zero State is not zero")
	}
}

// TestStateClosedByScope: a state left in the step's scope (no Detach) fails the next step
// with a message naming the scope and the remedy.
func TestStateClosedByScope(t *testing.T) {
	liveCheck(t)
	lstm := NewLSTM(3, 4, RNNOptions{})
	defer Close(lstm)
	s := torch.NewScope()
	_, hn := lstm.Forward(torch.Randn([]int64{5, 2, 3}), nil)
	s.Close()
	err := torch.Try(func() {
		torch.WithScope(func(*torch.Scope) { lstm.Forward(torch.Randn([]int64{5, 2, 3}), &hn) })
	})
	if err == nil || !strings.Contains(err.Error(), "utils_test.go:") || !strings.Contains(err.Error(), "State.Detach") {
		t.Errorf("error %v does not name the scope and State.Detach", err)
	}
}
