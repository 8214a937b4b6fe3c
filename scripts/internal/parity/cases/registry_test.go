package cases

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func TestMaxAbsDiff(t *testing.T) {
	torchtest.CheckLive(t)
	s := torch.NewScope()
	defer s.Close()
	nan := float32(math.NaN())
	for _, c := range []struct {
		name string
		a, b []float32
		want float64
	}{
		{"equal", []float32{1, 2}, []float32{1, 2}, 0},
		{"differ", []float32{1, 2}, []float32{1.5, 1}, 1},
		{"both NaN", []float32{nan, 2}, []float32{nan, 2}, math.Inf(1)},
		{"one NaN", []float32{nan, 2}, []float32{1, 2}, math.Inf(1)},
		{"inf vs inf", []float32{float32(math.Inf(1))}, []float32{float32(math.Inf(1))}, 0},
	} {
		got, err := MaxAbsDiff(torch.FromSlice(c.a), torch.FromSlice(c.b))
		if err != nil || got != c.want {
			t.Errorf("%s: MaxAbsDiff = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := MaxAbsDiff(torch.Zeros([]int64{2, 3}), torch.Zeros([]int64{3, 2})); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("shape mismatch: err = %v", err)
	}
	// Integer and float64 tensors compare by value.
	if d, err := MaxAbsDiff(torch.FromSlice([]int64{3}), torch.FromSlice([]float64{2.5})); err != nil || d != 0.5 {
		t.Errorf("int64 vs float64: %v, %v", d, err)
	}
}

func TestCmp(t *testing.T) {
	torchtest.CheckLive(t)
	s := torch.NewScope()
	defer s.Close()
	want := &Dict{}
	want.Add("a", torch.FromSlice([]float32{1, 2})).Add("b", torch.Scalar(3)).Add("c", torch.Scalar(0))

	c := NewCmp(want)
	c.T("a", torch.FromSlice([]float32{1, 2.25}))
	c.Scalar("b", 3.5)
	d, err := c.Result(false)
	if err != nil || d != 0.5 {
		t.Errorf("Result = %v, %v; want 0.5, nil", d, err)
	}
	if got := LastDetail(false); !strings.Contains(got, "b (0.5)") {
		t.Errorf("LastDetail = %q", got)
	}
	if _, err := c.Result(true); err == nil || !strings.Contains(err.Error(), `"c" was not compared`) {
		t.Errorf("requireAll: err = %v", err)
	}

	c = NewCmp(want)
	c.T("missing", torch.Scalar(1))
	if _, err := c.Result(false); err == nil || !strings.Contains(err.Error(), `no tensor "missing"`) {
		t.Errorf("missing result: err = %v", err)
	}
	if _, err := NewCmp(want).Result(false); err == nil {
		t.Error("an empty comparison passed")
	}
	ResetDetail()
	if got := LastDetail(true); got != "" {
		t.Errorf("LastDetail after reset = %q", got)
	}
}

func TestRegister(t *testing.T) {
	noop := func(string) error { return nil }
	check := func(string) (float64, error) { return 0, nil }
	for _, c := range []Case{
		{Name: "bad name!", Build: noop, Check: check},
		{Name: "a/../b", Build: noop, Check: check},
		{Name: "no-check", Build: noop},
		{Name: All()[0].Name, Build: noop, Check: check}, // duplicate
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", c.Name)
				}
			}()
			Register(c)
		}()
	}
}

func TestSuiteCoverage(t *testing.T) {
	all := All()
	names := make([]string, len(all))
	rnn := 0
	for i, c := range all {
		names[i] = c.Name
		if strings.HasPrefix(c.Name, "rnn/") && !strings.HasSuffix(c.Name, "-nobias") {
			rnn++
		}
	}
	if !slices.IsSorted(names) {
		t.Error("All() is not sorted by name")
	}
	if rnn != 64 {
		t.Errorf("%d cases in the RNN grid, want 64 (4 cells × 2 depths × 2 directions × 2 layouts × 2 inputs)", rnn)
	}
	for _, prefix := range []string{"ddp/", "optim/sgd", "optim/adam", "optim/adamw", "optim/adadelta", "clip/", "loss/cross-entropy/",
		"loss/nll/", "loss/mse/", "loss/l1/", "loss/bce-with-logits/", "loss/triplet/", "loss/contrastive/",
		"embedding/", "init/", "model/ref-rnn", "statedict/"} {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, prefix) }) {
			t.Errorf("no case named %s*", prefix)
		}
	}
}

func TestRefRNNShape(t *testing.T) {
	torchtest.CheckLive(t)
	s := torch.NewScope()
	defer s.Close()
	m, err := NewRefRNN(3, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer nn.Close(m) // the module owns its parameters; the scope does not free them
	out := m.Forward(torch.Randn([]int64{5, 7, 3}))
	if got := out.Shape(); !slices.Equal(got, []int64{5, 1}) {
		t.Errorf("output shape %v, want [5 1]", got)
	}
	if err := torch.Try(func() { m.Forward(torch.Randn([]int64{7, 3})) }); err == nil {
		t.Error("2-D input accepted")
	}
	var names []string
	for _, p := range m.NamedParameters() {
		names = append(names, p.Name)
	}
	want := []string{"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
		"rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1", "linear_out.weight", "linear_out.bias"}
	if !slices.Equal(names, want) {
		t.Errorf("parameter names %v, want %v", names, want)
	}
}

// The sweep of the generated ATen surface covers at least 200 operators, each a generated
// method of *torch.Tensor that the sweep can call.
func TestAtenSweepSize(t *testing.T) {
	n := 0
	for _, c := range All() {
		if strings.HasPrefix(c.Name, "aten/") {
			n++
		}
	}
	if listed := len(readSweepList()); n != listed || n < 200 {
		t.Errorf("%d aten/ cases registered from %d listed operators, want all of them and at least 200", n, listed)
	}
}
