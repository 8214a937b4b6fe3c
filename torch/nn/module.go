package nn

import (
	"fmt"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
)

// NamedParameter is a parameter with its PyTorch state_dict key relative to the module.
type NamedParameter struct {
	Name  string
	Value *torch.Tensor
}

// Module is anything with parameters, as torch.nn.Module.
type Module interface {
	// NamedParameters lists the parameters in PyTorch's registration (state_dict) order.
	NamedParameters() []NamedParameter
	// SetTraining switches training mode (dropout) on or off, as module.train(b).
	SetTraining(train bool)
}

// NamedModule is a child module with its attribute name.
type NamedModule struct {
	Name   string
	Module Module
}

// Modules is an ordered container of named child modules (and, optionally, parameters of its
// own), as the _modules and _parameters registries of torch.nn.Module. Models embed it and
// call Add in their constructor in the order PyTorch's __init__ assigns the attributes, so that
// parameter names and order match PyTorch's state_dict. The zero value is an empty module in
// training mode.
type Modules struct {
	params   []NamedParameter
	children []NamedModule
	eval     bool // zero value: training, as PyTorch
}

func checkName(kind, name string) {
	if name == "" || strings.Contains(name, ".") {
		panic(&torch.Error{Op: "nn.Modules.Add", Msg: fmt.Sprintf("%s name %q must be non-empty and contain no \".\"", kind, name)})
	}
}

func (m *Modules) taken(name string) bool {
	for _, p := range m.params {
		if p.Name == name {
			return true
		}
	}
	for _, c := range m.children {
		if c.Name == name {
			return true
		}
	}
	return false
}

// Add registers child under name, as assigning a submodule attribute in PyTorch. Names must be
// unique, non-empty and free of "."; a violation is a programming error and panics with a
// *torch.Error. As in PyTorch, the child keeps its own training mode until the next
// SetTraining on the container.
func (m *Modules) Add(name string, child Module) {
	checkName("module", name)
	if child == nil {
		panic(&torch.Error{Op: "nn.Modules.Add", Msg: fmt.Sprintf("module %q is nil", name)})
	}
	if m.taken(name) {
		panic(&torch.Error{Op: "nn.Modules.Add", Msg: fmt.Sprintf("attribute %q already exists", name)})
	}
	m.children = append(m.children, NamedModule{name, child})
}

// AddParameter registers a parameter owned directly by this module, as assigning an
// nn.Parameter attribute; as in PyTorch, a module's own parameters precede its children's.
func (m *Modules) AddParameter(name string, p *torch.Tensor) {
	checkName("parameter", name)
	if p == nil {
		panic(&torch.Error{Op: "nn.Modules.AddParameter", Msg: fmt.Sprintf("parameter %q is nil", name)})
	}
	if m.taken(name) {
		panic(&torch.Error{Op: "nn.Modules.AddParameter", Msg: fmt.Sprintf("attribute %q already exists", name)})
	}
	m.params = append(m.params, NamedParameter{name, p})
}

// NamedChildren returns the registered children in order, as module.named_children().
func (m *Modules) NamedChildren() []NamedModule {
	return append([]NamedModule(nil), m.children...)
}

// Child returns the child registered under name, or nil.
func (m *Modules) Child(name string) Module {
	for _, c := range m.children {
		if c.Name == name {
			return c.Module
		}
	}
	return nil
}

// NamedParameters returns the module's own parameters, then each child's with the child's
// name and a "." prefixed, as module.state_dict() orders them.
func (m *Modules) NamedParameters() []NamedParameter {
	out := append([]NamedParameter(nil), m.params...)
	for _, c := range m.children {
		for _, p := range c.Module.NamedParameters() {
			out = append(out, NamedParameter{c.Name + "." + p.Name, p.Value})
		}
	}
	return out
}

// SetTraining sets the training mode of the container and all its children, as
// module.train(b) (module.eval() is SetTraining(false)).
func (m *Modules) SetTraining(train bool) {
	m.eval = !train
	for _, c := range m.children {
		c.Module.SetTraining(train)
	}
}

// Training reports whether the container is in training mode (true unless SetTraining(false)).
func (m *Modules) Training() bool { return !m.eval }

// Parameters returns m's parameters, each once even when registered under several names (tied
// weights), as module.parameters(). Callers filter by RequiresGrad (or use Trainable).
func Parameters(m Module) []*torch.Tensor {
	seen := map[*torch.Tensor]bool{}
	var out []*torch.Tensor
	for _, p := range m.NamedParameters() {
		if !seen[p.Value] {
			seen[p.Value] = true
			out = append(out, p.Value)
		}
	}
	return out
}

// Trainable returns the parameters that require gradients, the usual optimizer argument
// (filter(lambda p: p.requires_grad, model.parameters())).
func Trainable(m Module) []*torch.Tensor {
	var out []*torch.Tensor
	for _, p := range Parameters(m) {
		if p.RequiresGrad() {
			out = append(out, p)
		}
	}
	return out
}

// ZeroGrad drops every parameter's gradient, as module.zero_grad() (set_to_none=True).
func ZeroGrad(m Module) {
	for _, p := range Parameters(m) {
		p.ZeroGrad()
	}
}

// To moves every parameter to device d in place (the tensors keep their identity, so
// optimizers built earlier still see them), as module.to(d). Unlike PyTorch it drops existing
// gradients instead of moving them: move a module before training, or call ZeroGrad first.
func To(m Module, d torch.Device) {
	for _, p := range Parameters(m) {
		if p.Device() == d {
			continue
		}
		p.ZeroGrad()
		moved := p.To(d)
		p.SetData(moved)
		moved.Close()
	}
}

// Close frees the module's parameter tensors. The module is unusable afterwards.
func Close(m Module) {
	for _, p := range m.NamedParameters() {
		p.Value.Close()
	}
}

// NumParams counts parameter elements: those that require gradients and all of them
// (shared parameters are counted once).
func NumParams(m Module) (trainable, total int64) {
	for _, p := range Parameters(m) {
		n := p.Numel()
		total += n
		if p.RequiresGrad() {
			trainable += n
		}
	}
	return trainable, total
}
