package cases

import (
	"fmt"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// rnnArgs describes a recurrent layer to both sides; Mode is RNN_TANH, RNN_RELU, LSTM or GRU
// (the module type name parity_ref.py's build_module understands).
type rnnArgs struct {
	Type          string `json:"type"`
	Mode          string `json:"mode"`
	InputSize     int64  `json:"input_size"`
	HiddenSize    int64  `json:"hidden_size"`
	Layers        int64  `json:"layers"`
	Bidirectional bool   `json:"bidirectional"`
	BatchFirst    bool   `json:"batch_first"`
	NoBias        bool   `json:"no_bias,omitempty"`
	Packed        bool   `json:"packed"`
}

// newRNN builds the Go layer a case describes.
func newRNN(a rnnArgs) (r *nn.RNNBase, err error) {
	o := nn.RNNOptions{NumLayers: a.Layers, NoBias: a.NoBias, BatchFirst: a.BatchFirst, Bidirectional: a.Bidirectional}
	err = torch.Try(func() {
		switch a.Mode {
		case "RNN_TANH":
			r = nn.NewRNN(a.InputSize, a.HiddenSize, o)
		case "RNN_RELU":
			o.Nonlinearity = "relu"
			r = nn.NewRNN(a.InputSize, a.HiddenSize, o)
		case "LSTM":
			r = nn.NewLSTM(a.InputSize, a.HiddenSize, o)
		case "GRU":
			r = nn.NewGRU(a.InputSize, a.HiddenSize, o)
		}
	})
	if err == nil && r == nil {
		err = fmt.Errorf("unknown recurrent mode %q", a.Mode)
	}
	return r, err
}

// The grid's sizes: a batch of 3 sequences of at most 5 steps, lengths unsorted.
var (
	rnnSeq, rnnBatch int64 = 5, 3
	rnnLengths             = []int64{3, 5, 2}
)

func (a rnnArgs) dirs() int64 {
	if a.Bidirectional {
		return 2
	}
	return 1
}

func (a rnnArgs) seqBatch(feature int64) []int64 {
	if a.BatchFirst {
		return []int64{rnnBatch, rnnSeq, feature}
	}
	return []int64{rnnSeq, rnnBatch, feature}
}

// loadParams copies the "param."-prefixed tensors of in into m, strictly.
func loadParams(m nn.Module, in *Dict) error {
	var names []string
	var ts []*torch.Tensor
	for i, n := range in.Names {
		if rest, ok := strings.CutPrefix(n, "param."); ok {
			names = append(names, rest)
			ts = append(ts, in.Ts[i])
		}
	}
	return nn.LoadStateDict(m, names, ts)
}

// addParams adds m's parameters to d, prefixed "param.".
func addParams(d *Dict, m nn.Module) {
	for _, p := range m.NamedParameters() {
		d.Add("param."+p.Name, p.Value.Detach())
	}
}

func registerRNN(seed uint64, a rnnArgs) {
	layout := "seq-first"
	if a.BatchFirst {
		layout = "batch-first"
	}
	dir := "uni"
	if a.Bidirectional {
		dir = "bi"
	}
	input := "padded"
	if a.Packed {
		input = "packed-unsorted"
	}
	name := fmt.Sprintf("rnn/%s/L%d-%s-%s-%s", strings.ToLower(a.Mode), a.Layers, dir, layout, input)
	if a.NoBias {
		name += "-nobias"
	}
	Register(Case{
		Name: name,
		Build: func(dir string) error {
			torch.ManualSeed(seed)
			r, err := newRNN(a)
			if err != nil {
				return err
			}
			defer nn.Close(r) // modules own their parameters
			d := &Dict{}
			addParams(d, r)
			d.Add("x", torch.Randn(a.seqBatch(a.InputSize)))
			d.Add("lengths", torch.FromSlice(rnnLengths))
			state := []int64{a.Layers * a.dirs(), rnnBatch, a.HiddenSize}
			d.Add("h0", torch.Randn(state).MulScalar(0.5))
			d.Add("W", torch.Randn(a.seqBatch(a.dirs()*a.HiddenSize)))
			d.Add("V", torch.Randn(state))
			if a.Mode == "LSTM" {
				d.Add("c0", torch.Randn(state).MulScalar(0.5))
				d.Add("Vc", torch.Randn(state))
			}
			return WriteInputs(dir, "rnn", a, d)
		},
		Check: func(dir string) (float64, error) {
			in, want, err := ReadBoth(dir)
			if err != nil {
				return 0, err
			}
			r, err := newRNN(a)
			if err != nil {
				return 0, err
			}
			defer nn.Close(r) // modules own their parameters
			if err := loadParams(r, in); err != nil {
				return 0, err
			}
			nn.To(r, Device)
			x := leaf(onDevice(in.MustGet("x")))
			h0 := leaf(onDevice(in.MustGet("h0")))
			state := &nn.State{H: h0}
			lstm := a.Mode == "LSTM"
			if lstm {
				state.C = leaf(onDevice(in.MustGet("c0")))
			}
			var out *torch.Tensor
			var hn nn.State
			if a.Packed {
				p := nn.PackPaddedSequence(x, in.MustGet("lengths").Int64s(), nn.PackPaddedOptions{BatchFirst: a.BatchFirst, NoEnforceSorted: true})
				po, h := r.ForwardPacked(p, state)
				hn = h
				out, _ = nn.PadPackedSequence(po, nn.PadPackedOptions{BatchFirst: a.BatchFirst})
			} else {
				out, hn = r.Forward(x, state)
			}
			loss := out.Mul(onDevice(in.MustGet("W"))).Sum().Add(hn.H.Mul(onDevice(in.MustGet("V"))).Sum())
			if lstm {
				loss = loss.Add(hn.C.Mul(onDevice(in.MustGet("Vc"))).Sum())
			}
			loss.Backward()
			c := NewCmp(want)
			c.T("out", out)
			c.T("hn", hn.H)
			c.T("grad.x", gradOrZeros(x))
			c.T("grad.h0", gradOrZeros(h0))
			if lstm {
				c.T("cn", hn.C)
				c.T("grad.c0", gradOrZeros(state.C))
			}
			for _, p := range r.NamedParameters() {
				c.T("grad."+p.Name, gradOrZeros(p.Value))
			}
			return c.Result(true)
		},
	})
}

func gradOrZeros(t *torch.Tensor) *torch.Tensor {
	if g := t.Grad(); g != nil {
		return g
	}
	return torch.Zeros(t.Shape(), torch.WithDType(t.DType()))
}

func init() {
	seed := uint64(100)
	for _, mode := range []string{"RNN_TANH", "RNN_RELU", "LSTM", "GRU"} {
		for _, layers := range []int64{1, 2} {
			for _, bi := range []bool{false, true} {
				for _, bf := range []bool{false, true} {
					for _, packed := range []bool{false, true} {
						seed++
						registerRNN(seed, rnnArgs{Type: mode, Mode: mode, InputSize: 3, HiddenSize: 4, Layers: layers,
							Bidirectional: bi, BatchFirst: bf, Packed: packed})
					}
				}
			}
		}
	}
	// Beyond the grid: a layer without biases.
	registerRNN(200, rnnArgs{Type: "LSTM", Mode: "LSTM", InputSize: 3, HiddenSize: 4, Layers: 2, Bidirectional: true,
		BatchFirst: true, NoBias: true, Packed: true})
}
