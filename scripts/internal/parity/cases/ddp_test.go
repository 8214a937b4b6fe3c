package cases

import (
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

var testDDPArgs = ddpArgs{World: 2, Steps: 3, PerRank: 4, SeqLen: 7, Vocab: 50, Dim: 8, Hidden: 8, Classes: 2, LR: 0.01}

func TestDDPCasesRegistered(t *testing.T) {
	for _, name := range []string{"ddp/lstm-gloo-2ranks", "ddp/lstm-gloo-3ranks"} {
		if !slices.ContainsFunc(All(), func(c Case) bool { return c.Name == name }) {
			t.Errorf("no case %s", name)
		}
	}
}

// TestDDPModel checks the classifier's parameter names (PyTorch's state_dict keys of
// parity_ref.py's DDPClassifier) and its output shape on a packed, unsorted batch.
func TestDDPModel(t *testing.T) {
	torchtest.CheckLive(t)
	s := torch.NewScope()
	defer s.Close()
	m, err := newDDPModel(testDDPArgs)
	if err != nil {
		t.Fatal(err)
	}
	defer nn.Close(m) // the module owns its parameters
	var names []string
	for _, p := range m.NamedParameters() {
		names = append(names, p.Name)
	}
	want := []string{"embedding.weight",
		"lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
		"lstm.weight_ih_l0_reverse", "lstm.weight_hh_l0_reverse", "lstm.bias_ih_l0_reverse", "lstm.bias_hh_l0_reverse",
		"linear.weight", "linear.bias"}
	if !slices.Equal(names, want) {
		t.Errorf("parameter names %v, want %v", names, want)
	}
	tokens := torch.FromSlice([]int64{3, 4, 0, 5, 6, 7, 8, 0, 0}, 3, 3)
	logits := m.Forward(tokens, []int64{2, 3, 1})
	if got := logits.Shape(); !slices.Equal(got, []int64{3, 2}) {
		t.Errorf("logits shape %v, want [3 2]", got)
	}
}

// TestDDPBatches checks the global batches: padding 0 exactly after each row's length.
func TestDDPBatches(t *testing.T) {
	torchtest.CheckLive(t)
	s := torch.NewScope()
	defer s.Close()
	a := testDDPArgs
	tokens, lengths, labels := ddpBatches(a, 1)
	batch := int64(a.World * a.PerRank)
	if got := tokens.Shape(); !slices.Equal(got, []int64{int64(a.Steps), batch, a.SeqLen}) {
		t.Fatalf("tokens shape %v", got)
	}
	tok, lens, lab := tokens.Int64s(), lengths.Int64s(), labels.Int64s()
	for i, n := range lens {
		if n < 1 || n > a.SeqLen || lab[i] < 0 || lab[i] >= a.Classes {
			t.Fatalf("row %d: length %d, label %d", i, n, lab[i])
		}
		for j, v := range tok[int64(i)*a.SeqLen : int64(i+1)*a.SeqLen] {
			if pad := int64(j) >= n; pad != (v == 0) || v < 0 || v >= a.Vocab {
				t.Fatalf("row %d (length %d): token %d at %d", i, n, v, j)
			}
		}
	}
	again, _, _ := ddpBatches(a, 1)
	if !slices.Equal(again.Int64s(), tok) {
		t.Error("ddpBatches is not deterministic")
	}
}

// TestDDPRanksNeedParityCommand checks that Check refuses to re-execute a binary that is not
// the parity command (here, the test binary, which would run its tests).
func TestDDPRanksNeedParityCommand(t *testing.T) {
	if canRunRanks {
		t.Skip("DDPRankMain ran in this binary")
	}
	err := runDDPRanks(t.TempDir(), 2)
	if err == nil || !strings.Contains(err.Error(), "go run ./scripts/parity") {
		t.Errorf("runDDPRanks in a test binary: %v", err)
	}
}
