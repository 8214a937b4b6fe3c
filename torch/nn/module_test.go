package nn

import (
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// seedModel mirrors the seed project's reference class: nn.RNN + linear_out over the last
// hidden state, with an embedding in front.
type seedModel struct {
	Modules
	Emb       *Embedding
	RNN       *RNNBase
	LinearOut *Linear
}

func newSeedModel(t *testing.T) *seedModel {
	t.Helper()
	rnn := NewRNN(4, 5, RNNOptions{NumLayers: 2})
	pad := int64(0)
	m := &seedModel{Emb: NewEmbedding(10, 4, EmbeddingOptions{PaddingIdx: &pad}), RNN: rnn, LinearOut: NewLinear(5, 2, LinearOptions{})}
	m.Add("emb", m.Emb)
	m.Add("rnn", m.RNN)
	m.Add("linear_out", m.LinearOut)
	return m
}

func TestModulesNamesAndOrder(t *testing.T) {
	torchtest.CheckLive(t)
	m := newSeedModel(t)
	defer Close(m)
	want := []string{"emb.weight",
		"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
		"rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
		"linear_out.weight", "linear_out.bias"}
	names, _ := StateDict(m)
	if len(names) != len(want) {
		t.Fatalf("names = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("names[%d] = %q, want %q", i, names[i], want[i])
		}
	}
	if m.Child("rnn") != Module(m.RNN) || m.Child("nope") != nil || len(m.NamedChildren()) != 3 {
		t.Error("Child/NamedChildren disagree with Add")
	}
	trainable, total := NumParams(m)
	wantTotal := int64(10*4 + (5*4 + 5*5 + 5 + 5) + (5*5 + 5*5 + 5 + 5) + 5*2 + 2)
	if total != wantTotal || trainable != wantTotal {
		t.Errorf("NumParams = %d, %d; want %d, %d", trainable, total, wantTotal, wantTotal)
	}
	m.Emb.Weight.SetRequiresGrad(false)
	if trainable, _ := NumParams(m); trainable != wantTotal-40 {
		t.Errorf("trainable after freezing the embedding = %d, want %d", trainable, wantTotal-40)
	}
	if got := len(Trainable(m)); got != 10 {
		t.Errorf("len(Trainable) = %d, want 10", got)
	}
}

func TestModulesOwnParametersAndTiedWeights(t *testing.T) {
	torchtest.CheckLive(t)
	var m Modules
	lin := NewLinear(3, 3, LinearOptions{NoBias: true})
	m.AddParameter("scale", torch.Ones([]int64{1}).SetRequiresGrad(true))
	m.Add("a", lin)
	tied := &Linear{Weight: lin.Weight} // shares a's weight
	m.Add("b", tied)
	defer Close(&m)
	names, _ := StateDict(&m)
	if want := []string{"scale", "a.weight", "b.weight"}; !slices.Equal(names, want) {
		t.Errorf("state dict names = %v, want %v", names, want)
	}
	if got := len(Parameters(&m)); got != 2 {
		t.Errorf("len(Parameters) = %d, want 2 (the tied weight once)", got)
	}
	if _, total := NumParams(&m); total != 10 {
		t.Errorf("total = %d, want 10", total)
	}
}

func TestModulesAddPanics(t *testing.T) {
	torchtest.CheckLive(t)
	var m Modules
	lin := NewLinear(1, 1, LinearOptions{})
	defer Close(lin)
	m.Add("x", lin)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"duplicate", func() { m.Add("x", lin) }},
		{"dotted", func() { m.Add("a.b", lin) }},
		{"empty", func() { m.Add("", lin) }},
		{"nil", func() { m.Add("y", nil) }},
		{"duplicate param", func() { m.AddParameter("x", lin.Weight) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.Scope(t)
			if err := torch.Try(tc.f); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestTrainingPropagates(t *testing.T) {
	torchtest.CheckLive(t)
	m := newSeedModel(t)
	defer Close(m)
	drop := NewDropout(0.5)
	m.Add("drop", drop)
	if !m.Training() || !m.RNN.Training() || !drop.Training() {
		t.Fatal("modules should start in training mode")
	}
	m.SetTraining(false)
	if m.Training() || m.RNN.Training() || drop.Training() {
		t.Error("SetTraining(false) did not reach the children")
	}
	late := NewDropout(0.1)
	m.Add("late", late)
	if !late.Training() {
		t.Error("Add changed the child's training mode (PyTorch's assignment does not)")
	}
	m.SetTraining(false)
	if late.Training() {
		t.Error("SetTraining(false) did not reach a late child")
	}
	m.SetTraining(true)
	if !m.RNN.Training() || !late.Training() {
		t.Error("SetTraining(true) did not reach the children")
	}
}

func TestZeroGradToClose(t *testing.T) {
	torchtest.CheckLive(t)
	m := newSeedModel(t)
	torch.WithScope(func(*torch.Scope) {
		idx := torch.FromSlice([]int64{1, 2, 3, 0}, 4, 1)
		x := m.Emb.Forward(idx)
		out, hn := m.RNN.Forward(x, nil)
		_ = out
		loss := m.LinearOut.Forward(hn.H).Sum()
		loss.Backward()
		for _, p := range Parameters(m) {
			if g := p.Grad(); g == nil {
				t.Error("a parameter has no gradient after Backward")
			}
		}
		ZeroGrad(m)
		for _, p := range Parameters(m) {
			if g := p.Grad(); g != nil {
				t.Error("ZeroGrad left a gradient")
			}
		}
	})
	before := m.LinearOut.Weight
	To(m, torch.CPU) // no-op move keeps identity
	if m.LinearOut.Weight != before || m.LinearOut.Weight.Device() != torch.CPU {
		t.Error("To(CPU) changed the parameter")
	}
	Close(m)
	for _, p := range m.NamedParameters() {
		if !p.Value.Closed() {
			t.Errorf("%s not closed", p.Name)
		}
	}
}

// registration cases for CheckRegistered.
type (
	inner struct {
		Modules
		Lin    *Linear
		hidden *Linear // unexported and not registered
	}
	outer struct {
		Modules
		Config struct{ Sizes []int64 } // plain data: not walked
		Emb    *Embedding
		Inner  *inner
		Layers []*Linear
		Drop   Dropout // held by value, registered as &Drop
		Alpha  *torch.Tensor
		Frozen *torch.Tensor // no gradient: a buffer, not a parameter
		Any    Module
		Short  *Linear // a shortcut to a module registered deeper (Inner.Lin)
		Data   []float32
	}
)

func newOuter() *outer {
	in := &inner{Lin: NewLinear(2, 2, LinearOptions{}), hidden: NewLinear(2, 2, LinearOptions{})}
	in.Add("lin", in.Lin)
	m := &outer{Emb: NewEmbedding(5, 2, EmbeddingOptions{}), Inner: in,
		Layers: []*Linear{NewLinear(2, 3, LinearOptions{}), NewLinear(3, 2, LinearOptions{})},
		Alpha:  NewParameter(torch.Ones([]int64{1})), Frozen: torch.Ones([]int64{1}),
		Any: NewDropout(0.1), Short: in.Lin, Data: make([]float32, 1000)}
	m.AddParameter("alpha", m.Alpha)
	m.Add("emb", m.Emb)
	m.Add("inner", m.Inner)
	m.Add("layers_0", m.Layers[0])
	m.Add("drop", &m.Drop)
	m.Add("any", m.Any)
	return m
}

func (m *outer) close() {
	Close(m)
	Close(m.Inner.hidden)
	Close(m.Layers[1])
	m.Frozen.Close()
}

func TestCheckRegistered(t *testing.T) {
	torchtest.CheckLive(t)
	m := newOuter()
	defer m.close()
	err := CheckRegistered(m)
	want := []string{
		"nn: *nn.outer.Inner.hidden (*nn.Linear) is not registered (Modules.Add)",
		"nn: *nn.outer.Layers[1] (*nn.Linear) is not registered (Modules.Add)",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("CheckRegistered = %v, want\n%s", err, strings.Join(want, "\n"))
	}

	// What the check is for: a layer left out of Add is missing from the state dict and from
	// the optimizer's list, silently.
	names, _ := StateDict(m)
	if slices.Contains(names, "layers_1.weight") || slices.Contains(Trainable(m), m.Layers[1].Weight) {
		t.Fatalf("an unregistered layer is in the state dict %v or in Trainable", names)
	}

	// Registering the missing parts settles it; a trainable tensor left out is found too.
	m.Inner.Add("hidden", m.Inner.hidden)
	m.Add("layers_1", m.Layers[1])
	if err := CheckRegistered(m); err != nil {
		t.Fatalf("all registered: %v", err)
	}
	m.Frozen.SetRequiresGrad(true)
	wantErr(t, CheckRegistered(m), "nn: *nn.outer.Frozen (a tensor that requires grad) is not a registered parameter (Modules.AddParameter)")
	m.Frozen.SetRequiresGrad(false)

	// Leaf modules and the seed model are fine.
	seed := newSeedModel(t)
	defer Close(seed)
	for _, mod := range []Module{seed, seed.RNN, seed.LinearOut, &Dropout{}} {
		if err := CheckRegistered(mod); err != nil {
			t.Errorf("CheckRegistered(%T) = %v", mod, err)
		}
	}
}
