package nn

import (
	"fmt"
	"strconv"

	"github.com/seqtorch/seqtorch/torch"
)

// Layer is a module with a one-tensor forward pass (Linear, Conv1d, LayerNorm, Dropout,
// Embedding, Identity, Sequential, Activation, ...): the modules Sequential chains.
type Layer interface {
	Module
	Forward(x *torch.Tensor) *torch.Tensor
}

// Identity returns its input, as torch.nn.Identity: a placeholder where a layer is optional.
type Identity struct{}

// NewIdentity returns an Identity layer.
func NewIdentity() *Identity { return &Identity{} }

// Forward returns a new handle on x (the same tensor, as PyTorch returns its argument; the
// caller owns the handle and closes it independently of x).
func (*Identity) Forward(x *torch.Tensor) *torch.Tensor { return x.Alias() }

// NamedParameters returns nothing: Identity has no parameters.
func (*Identity) NamedParameters() []NamedParameter { return nil }

// SetTraining is a no-op.
func (*Identity) SetTraining(bool) {}

// Activation wraps a parameter-free function as a Layer, for Sequential (torch.nn.ReLU,
// torch.nn.GELU, torch.nn.Tanh, ... in PyTorch).
type Activation struct {
	Name string // for messages, e.g. "ReLU"
	Fn   func(x *torch.Tensor) *torch.Tensor
}

// ReLU returns max(x, 0) as a Layer, as torch.nn.ReLU().
func ReLU() *Activation { return &Activation{"ReLU", (*torch.Tensor).Relu} }

// GELU returns x·Φ(x) (the exact form, approximate='none') as a Layer, as torch.nn.GELU().
func GELU() *Activation {
	return &Activation{"GELU", func(x *torch.Tensor) *torch.Tensor { return x.Gelu("none") }}
}

// Tanh returns tanh(x) as a Layer, as torch.nn.Tanh().
func Tanh() *Activation { return &Activation{"Tanh", (*torch.Tensor).Tanh} }

// Forward applies the function.
func (a *Activation) Forward(x *torch.Tensor) *torch.Tensor { return a.Fn(x) }

// NamedParameters returns nothing: an activation has no parameters.
func (*Activation) NamedParameters() []NamedParameter { return nil }

// SetTraining is a no-op.
func (*Activation) SetTraining(bool) {}

// Sequential chains layers, as torch.nn.Sequential: Forward feeds each layer's output to the
// next. The layers are registered as children "0", "1", ..., so parameter names are
// PyTorch's ("0.weight", "2.bias"). It owns its layers: Close frees their parameters.
type Sequential struct {
	Modules
	Layers []Layer
}

// NewSequential returns a Sequential of layers, in order. A nil layer panics with
// *torch.Error.
func NewSequential(layers ...Layer) *Sequential {
	s := &Sequential{}
	for _, l := range layers {
		s.Append(l)
	}
	return s
}

// Append adds a layer at the end, as Sequential.append, and returns s.
func (s *Sequential) Append(l Layer) *Sequential {
	if l == nil {
		panic(&torch.Error{Op: "nn.Sequential.Append", Msg: fmt.Sprintf("layer %d is nil", len(s.Layers))})
	}
	s.Add(strconv.Itoa(len(s.Layers)), l)
	s.Layers = append(s.Layers, l)
	return s
}

// Forward runs x through every layer in order and returns the last output; the intermediate
// outputs are freed. With no layers it returns a new handle on x, as PyTorch returns x.
func (s *Sequential) Forward(x *torch.Tensor) *torch.Tensor {
	if len(s.Layers) == 0 {
		return x.Alias()
	}
	sc := torch.NewScope()
	defer sc.Close()
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return sc.Escape(x)
}
