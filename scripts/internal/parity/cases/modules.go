package cases

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// moduleSpec describes a module to both sides (parity_ref.py's build_module): Type is
// RNN_TANH, RNN_RELU, LSTM, GRU (with the rnnArgs fields), Linear, Embedding or RefRNN.
type moduleSpec struct {
	rnnArgs
	In         int64  `json:"in,omitempty"`
	Out        int64  `json:"out,omitempty"`
	Num        int64  `json:"num,omitempty"`
	Dim        int64  `json:"dim,omitempty"`
	PaddingIdx *int64 `json:"padding_idx,omitempty"`
	InputDim   int64  `json:"input_dim,omitempty"`
	HiddenDim  int64  `json:"hidden_dim,omitempty"`
	NumLayers  int64  `json:"num_layers,omitempty"`
}

func rnnSpec(mode string, in, hidden, layers int64, bi, bf bool) moduleSpec {
	return moduleSpec{rnnArgs: rnnArgs{Type: mode, Mode: mode, InputSize: in, HiddenSize: hidden, Layers: layers,
		Bidirectional: bi, BatchFirst: bf}}
}

func buildModule(s moduleSpec) (nn.Module, error) {
	switch s.Type {
	case "RNN_TANH", "RNN_RELU", "LSTM", "GRU":
		return newRNN(s.rnnArgs)
	case "Linear":
		return nn.NewLinear(s.In, s.Out, nn.LinearOptions{NoBias: s.NoBias}), nil
	case "Embedding":
		return nn.NewEmbedding(s.Num, s.Dim, nn.EmbeddingOptions{PaddingIdx: s.PaddingIdx}), nil
	case "RefRNN":
		return NewRefRNN(s.InputDim, s.HiddenDim, s.NumLayers)
	}
	return nil, fmt.Errorf("unknown module type %q", s.Type)
}

// ---- Embedding with padding_idx ----

type embeddingArgs struct {
	PaddingIdx *int64 `json:"padding_idx"`
}

func registerEmbedding(name string, pad int64) {
	a := embeddingArgs{PaddingIdx: i64(pad)}
	const num, dim = 7, 4
	Register(Case{
		Name: "embedding/" + name,
		Build: func(dir string) error {
			torch.ManualSeed(400)
			e := nn.NewEmbedding(num, dim, nn.EmbeddingOptions{PaddingIdx: a.PaddingIdx})
			defer nn.Close(e)
			d := &Dict{}
			d.Add("weight", e.Weight.Detach())
			p := e.PaddingIdx
			d.Add("idx", torch.FromSlice([]int64{1, p, 3, 3, p, 6, 0, 2, p, 5, 4, 1}, 3, 4))
			d.Add("gw", torch.Randn([]int64{3, 4, dim}))
			return WriteInputs(dir, "embedding", a, d)
		},
		Check: func(dir string) (float64, error) {
			in, want, err := ReadBoth(dir)
			if err != nil {
				return 0, err
			}
			e := nn.NewEmbedding(num, dim, nn.EmbeddingOptions{PaddingIdx: a.PaddingIdx})
			defer nn.Close(e)
			if err := nn.LoadStateDict(e, []string{"weight"}, []*torch.Tensor{in.MustGet("weight")}); err != nil {
				return 0, err
			}
			out := e.Forward(in.MustGet("idx"))
			out.Mul(in.MustGet("gw")).Sum().Backward()
			c := NewCmp(want)
			c.T("out", out)
			c.T("grad.weight", e.Weight.Grad())
			return c.Result(true)
		},
	})
}

// ---- initialisation ----

type initArgs struct {
	Seed    uint64       `json:"seed"`
	Modules []moduleSpec `json:"modules"`
}

var initModules = []moduleSpec{
	rnnSpec("LSTM", 3, 4, 2, true, false),
	{rnnArgs: rnnArgs{Type: "Linear"}, In: 4, Out: 2},
	{rnnArgs: rnnArgs{Type: "Embedding"}, Num: 7, Dim: 3, PaddingIdx: i64(0)},
	rnnSpec("GRU", 3, 5, 1, false, true),
	rnnSpec("RNN_RELU", 2, 3, 2, true, true),
	rnnSpec("RNN_TANH", 2, 3, 1, false, false),
	{rnnArgs: rnnArgs{Type: "Linear", NoBias: true}, In: 5, Out: 3},
	{rnnArgs: rnnArgs{Type: "Embedding"}, Num: 5, Dim: 2},
	{rnnArgs: rnnArgs{Type: "RefRNN"}, InputDim: 3, HiddenDim: 4, NumLayers: 2},
}

func registerInit(seed uint64) {
	a := initArgs{Seed: seed, Modules: initModules}
	Register(Case{
		Name:  fmt.Sprintf("init/seed-%d", seed),
		Build: func(dir string) error { return WriteInputs(dir, "init", a, nil) },
		Check: func(dir string) (float64, error) {
			want, err := ReadOutputs(dir)
			if err != nil {
				return 0, err
			}
			torch.ManualSeed(a.Seed)
			c := NewCmp(want)
			for i, s := range a.Modules {
				m, err := buildModule(s)
				if err != nil {
					return 0, err
				}
				defer nn.Close(m) // modules own their parameters
				for _, p := range m.NamedParameters() {
					c.T(fmt.Sprintf("%d.%s", i, p.Name), p.Value)
				}
			}
			return c.Result(true)
		},
	})
}

// ---- state dict round trip Go → Python → Go ----

type namedSpec struct {
	Name string
	Spec moduleSpec
}

// MarshalJSON writes [name, spec], the (key, module) pairs of nn.ModuleDict.
func (n namedSpec) MarshalJSON() ([]byte, error) {
	return jsonMarshal([]any{n.Name, n.Spec})
}

type stateDictArgs struct {
	Modules []namedSpec `json:"modules"`
	Path    string      `json:"path"`
	OutPath string      `json:"out_path"`
}

func buildContainer(specs []namedSpec) (*nn.Modules, error) {
	m := &nn.Modules{}
	for _, s := range specs {
		child, err := buildModule(s.Spec)
		if err != nil {
			return nil, err
		}
		m.Add(s.Name, child)
	}
	return m, nil
}

func registerStateDict() {
	a := stateDictArgs{Path: "go.pt", OutPath: "py.pt", Modules: []namedSpec{
		{"enc", rnnSpec("LSTM", 3, 4, 2, true, true)},
		{"emb", moduleSpec{rnnArgs: rnnArgs{Type: "Embedding"}, Num: 6, Dim: 3, PaddingIdx: i64(0)}},
		{"ref", moduleSpec{rnnArgs: rnnArgs{Type: "RefRNN"}, InputDim: 3, HiddenDim: 4, NumLayers: 2}},
		{"gru", rnnSpec("GRU", 3, 2, 1, false, false)},
		{"head", moduleSpec{rnnArgs: rnnArgs{Type: "Linear"}, In: 8, Out: 1}},
	}}
	Register(Case{
		Name: "statedict/go-python-go",
		Build: func(dir string) error {
			torch.ManualSeed(500)
			m, err := buildContainer(a.Modules)
			if err != nil {
				return err
			}
			defer nn.Close(m) // modules own their parameters
			if err := nn.SaveTorch(filepath.Join(dir, a.Path), m); err != nil {
				return err
			}
			return WriteInputs(dir, "statedict", a, nil)
		},
		Check: func(dir string) (float64, error) {
			want, err := ReadOutputs(dir)
			if err != nil {
				return 0, err
			}
			orig, err := readDict(filepath.Join(dir, a.Path))
			if err != nil {
				return 0, err
			}
			torch.ManualSeed(501) // different weights, overwritten by the load
			m, err := buildContainer(a.Modules)
			if err != nil {
				return 0, err
			}
			defer nn.Close(m) // modules own their parameters
			if _, err := os.Stat(filepath.Join(dir, a.OutPath)); err != nil {
				return 0, fmt.Errorf("PyTorch did not save its state dict: %w", err)
			}
			if err := nn.LoadTorch(filepath.Join(dir, a.OutPath), m); err != nil {
				return 0, err
			}
			c := NewCmp(want)
			names, _ := nn.StateDict(m)
			if !slices.Equal(names, want.Names) {
				c.Err(fmt.Errorf("state_dict keys differ:\n  Go:     %v\n  Python: %v", names, want.Names))
			}
			for _, p := range m.NamedParameters() {
				c.T(p.Name, p.Value)
				o, err := orig.Get(p.Name)
				if err != nil {
					c.Err(fmt.Errorf("Go's saved file: %w", err))
					continue
				}
				d, err := MaxAbsDiff(p.Value, o)
				c.Err(err)
				c.Value("roundtrip."+p.Name, d)
			}
			return c.Result(true)
		},
	})
}

func init() {
	registerEmbedding("padding-idx-0", 0)
	registerEmbedding("padding-idx-minus-1", -1)
	registerInit(0)
	registerInit(1234)
	registerStateDict()
}
