// torch.nn.utils counterparts used by training loops: gradient clipping, weight tying, and
// carrying a recurrent state from one batch to the next.

package nn

import (
	"fmt"
	"slices"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// ClipGradNorm scales the gradients of params in place so that their joint 2-norm is at most
// maxNorm, as torch.nn.utils.clip_grad_norm_(params, max_norm): every gradient is multiplied
// by min(maxNorm/(total+1e-6), 1). It returns the total norm before clipping (0 when no
// parameter has a gradient). It is optim.ClipGradNorm under PyTorch's name.
func ClipGradNorm(params []*torch.Tensor, maxNorm float64) float64 {
	return optim.ClipGradNorm(params, maxNorm)
}

// ClipGradValue clamps every gradient of params to [-clipValue, clipValue] in place, as
// torch.nn.utils.clip_grad_value_(params, clip_value). Parameters without a gradient are
// skipped. A negative clipValue panics with *torch.Error.
func ClipGradValue(params []*torch.Tensor, clipValue float64) {
	if !(clipValue >= 0) {
		panic(&torch.Error{Op: "nn.ClipGradValue", Msg: fmt.Sprintf("clip value %v is not >= 0", clipValue)})
	}
	torch.NoGrad(func() {
		s := torch.NewScope()
		defer s.Close()
		for _, p := range params {
			if p.Closed() {
				continue
			}
			if g := p.Grad(); g != nil {
				g.CopyFrom(g.Clamp(-clipValue, clipValue))
			}
		}
	})
}

// TieWeights makes *dst the tensor src, as PyTorch's `self.decoder.weight =
// self.encoder.weight`, and closes the tensor *dst held before (the module owned it, and
// nothing else will free it). Both modules then share one parameter: Parameters lists it once
// (so an optimizer updates it once), the state dict keeps both names, as PyTorch's does, and
// Close on the model frees it once (Close is idempotent). A shape mismatch panics with
// *torch.Error (PyTorch would fail later, in the forward pass); tying a tensor to itself does
// nothing. Typical use, the tied word-language-model decoder:
//
//	nn.TieWeights(&m.Decoder.Weight, m.Encoder.Weight)
func TieWeights(dst **torch.Tensor, src *torch.Tensor) {
	if dst == nil || src.Closed() {
		panic(&torch.Error{Op: "nn.TieWeights", Msg: "nil destination or nil or closed source tensor"})
	}
	old := *dst
	if old == src {
		return
	}
	if old != nil && !old.Closed() {
		if a, b := old.Shape(), src.Shape(); !slices.Equal(a, b) {
			panic(&torch.Error{Op: "nn.TieWeights", Msg: fmt.Sprintf("the tied weight has shape %s, the weight it replaces %s",
				fmtShape(b), fmtShape(a))})
		}
	}
	*dst = src
	old.Close()
}

// Detach returns s's tensors detached from the autograd graph, as PyTorch's
// repackage_hidden (h.detach() for each tensor), for truncated backpropagation through time:
// the state a batch ends in starts the next batch, without the next backward pass reaching
// into this batch's graph. It frees what the carried state no longer needs, as Python's
// reference counting does when `hidden = repackage_hidden(hidden)` rebinds the name:
//
//   - s's own tensors are closed;
//   - when s is the final state of a forward pass that started from a state returned by
//     Detach (the previous batch's carried state), that state is closed too;
//   - the returned state is owned by the caller and taken out of every Scope, so it
//     outlives the scope of the step that made it.
//
// So one line carries the state, with or without a scope per step, and nothing accumulates:
//
//	hidden := nn.State{H: torch.Zeros(shape), C: torch.Zeros(shape)} // init_hidden
//	for each batch {
//		scope := torch.NewScope() // optional
//		out, hn := lstm.Forward(x, &hidden)
//		... loss, backward, step ...
//		hidden = hn.Detach() // survives scope.Close; frees hn and the previous carried state
//		scope.Close()
//	}
//	hidden.Close()
//
// An initial state the caller made (not returned by Detach) is left to the caller. Do not
// use a carried state after Detach on a state computed from it. Detach on a zero State
// returns a zero State.
func (s State) Detach() State {
	out := State{H: keepDetached(s.H), C: keepDetached(s.C), carried: s.H != nil || s.C != nil}
	s.Close()
	s.from[0].Close()
	s.from[1].Close()
	return out
}

// startedFrom records h0 in s, the final state of a forward pass from h0, when h0 was
// carried (returned by Detach): Detach on s closes it.
func (s *State) startedFrom(h0 *State) {
	if h0 != nil && h0.carried {
		s.from = [2]*torch.Tensor{h0.H, h0.C}
	}
}

func keepDetached(t *torch.Tensor) *torch.Tensor {
	if t == nil {
		return nil
	}
	d := t.Detach()
	torch.Unscope(d)
	return d
}

// closedHow names the scope that closed t, if one did, for messages.
func closedHow(t *torch.Tensor) string {
	if by := t.ClosedBy(); by != "" {
		return " (freed when " + by + " closed: carry a recurrent state out of a step's scope with State.Detach)"
	}
	return ""
}
