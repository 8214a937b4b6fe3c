package cases

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// RefRNN is the seed's reference class, line for line:
//
//	class RNN(nn.Module):
//	    def __init__(self, input_dim, hidden_dim, num_layers):
//	        super(RNN, self).__init__()
//	        self.hidden_dim = hidden_dim
//	        self.num_layers = num_layers
//	        self.rnn = nn.RNN(input_dim, hidden_dim, num_layers, batch_first=True)
//	        self.linear_out = nn.Linear(hidden_dim, 1)
//
//	    def forward(self, x):
//	        h0 = torch.zeros(self.num_layers, x.size(0), self.hidden_dim)
//	        out, hn = self.rnn(x, h0)
//	        out = self.linear_out(out[:, -1, :])
//	        return out
type RefRNN struct {
	nn.Modules
	HiddenDim, NumLayers int64
	RNN                  *nn.RNNBase
	LinearOut            *nn.Linear
}

// NewRefRNN builds the reference model; its parameters are created (and drawn from the
// default generator) in PyTorch's order.
func NewRefRNN(inputDim, hiddenDim, numLayers int64) (*RefRNN, error) {
	m := &RefRNN{HiddenDim: hiddenDim, NumLayers: numLayers}
	err := torch.Try(func() {
		m.RNN = nn.NewRNN(inputDim, hiddenDim, nn.RNNOptions{NumLayers: numLayers, BatchFirst: true})
		m.Add("rnn", m.RNN)
		m.LinearOut = nn.NewLinear(hiddenDim, 1, nn.LinearOptions{})
		m.Add("linear_out", m.LinearOut)
	})
	if err != nil {
		nn.Close(m)
		return nil, fmt.Errorf("RefRNN: %w", err)
	}
	return m, nil
}

// Forward maps x (batch, seq, input_dim) to one logit per sequence, (batch, 1). Bad input
// panics with *torch.Error.
func (m *RefRNN) Forward(x *torch.Tensor) *torch.Tensor {
	if x.Dim() != 3 {
		panic(&torch.Error{Op: "RefRNN.Forward", Msg: fmt.Sprintf("want input (batch, seq, feature), got %v", x.Shape())})
	}
	h0 := torch.Zeros([]int64{m.NumLayers, x.Size(0), m.HiddenDim})
	defer h0.Close()
	out, hn := m.RNN.Forward(x, &nn.State{H: h0})
	defer out.Close()
	defer hn.Close()
	last := out.Narrow(1, out.Size(1)-1, 1) // out[:, -1:, :]
	defer last.Close()
	lastStep := last.SqueezeDim(1) // out[:, -1, :]
	defer lastStep.Close()
	return m.LinearOut.Forward(lastStep)
}

type refArgs struct {
	InputDim  int64   `json:"input_dim"`
	HiddenDim int64   `json:"hidden_dim"`
	NumLayers int64   `json:"num_layers"`
	LR        float64 `json:"lr"`
	Steps     int     `json:"steps"`
}

func init() {
	a := refArgs{InputDim: 3, HiddenDim: 5, NumLayers: 2, LR: 0.01, Steps: 5}
	Register(Case{
		Name: "model/ref-rnn-adam",
		Build: func(dir string) error {
			torch.ManualSeed(300)
			m, err := NewRefRNN(a.InputDim, a.HiddenDim, a.NumLayers)
			if err != nil {
				return err
			}
			defer nn.Close(m) // modules own their parameters
			d := &Dict{}
			addParams(d, m)
			d.Add("x", torch.Randn([]int64{4, 6, a.InputDim}))
			d.Add("y", torch.FromSlice([]float32{1, 0, 0, 1}, 4, 1))
			return WriteInputs(dir, "refmodel", a, d)
		},
		Check: func(dir string) (float64, error) {
			in, want, err := ReadBoth(dir)
			if err != nil {
				return 0, err
			}
			m, err := NewRefRNN(a.InputDim, a.HiddenDim, a.NumLayers)
			if err != nil {
				return 0, err
			}
			defer nn.Close(m) // modules own their parameters
			if err := loadParams(m, in); err != nil {
				return 0, err
			}
			opt, closeOpt, err := newOptimizer("adam", optOptions{LR: new(a.LR)}, nn.Parameters(m))
			if err != nil {
				return 0, err
			}
			defer closeOpt()
			x := leaf(in.MustGet("x"))
			c := NewCmp(want)
			for k := range a.Steps {
				opt.ZeroGrad()
				out := m.Forward(x)
				loss := nn.BCEWithLogitsLoss(out, in.MustGet("y"), nn.BCEWithLogitsOptions{})
				loss.Backward()
				if k == 0 {
					c.T("out", out)
					c.T("grad.x", x.Grad())
					for _, p := range m.NamedParameters() {
						c.T("grad."+p.Name, p.Value.Grad())
					}
				}
				c.T(fmt.Sprintf("loss%d", k), loss)
				opt.Step()
				for _, p := range m.NamedParameters() {
					c.T(fmt.Sprintf("step%d.%s", k, p.Name), p.Value)
				}
			}
			return c.Result(true)
		},
	})
}
