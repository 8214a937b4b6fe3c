// Package nn mirrors PyTorch's torch.nn over seqtorch's libtorch binding: modules with
// PyTorch's parameter names, defaults and initialisation (Linear, Embedding, Dropout, RNN,
// LSTM, GRU, RNNCell, LSTMCell, GRUCell, LayerNorm, Conv1d, MultiheadAttention,
// TransformerEncoderLayer, TransformerEncoder, Identity, Sequential), torch.nn.init (the Init*
// functions), packed sequences (torch.nn.utils.rnn), losses, and state dicts that move between
// Go and Python (safetensors and torch.save's format).
//
// # Options
//
// Keyword arguments are options structs whose zero value is PyTorch's defaults
// (RNNOptions{}, PackPaddedOptions{}, ...). A keyword whose default is True has a field named
// "No" + the keyword (NoBias for bias=True, NoEnforceSorted for enforce_sorted=True); an
// optional value whose absence is not zero is a pointer (EmbeddingOptions.PaddingIdx), and so
// is a value whose default is not zero when zero is also valid
// (TransformerEncoderLayerOptions.Dropout); where zero is meaningless it stands for PyTorch's
// default (RNNOptions.NumLayers, Conv1dOptions.Stride, LayerNormOptions.Eps). For example,
// PackPaddedOptions{BatchFirst: true, NoEnforceSorted: true} is batch_first=True,
// enforce_sorted=False. torch/optim follows the same rule: an optimizer option whose default is
// not zero is a pointer, so optim.AdamOptions{LR: new(0.01), Beta1: new(0.0)} asks for β₁ = 0
// while a nil field keeps PyTorch's value.
//
// # Recurrent kernels
//
// On the CPU, LSTM and GRU run seqtorch's fused kernels (torch/csrc/rnn_cpu.cpp: one matrix
// product for the input projections of all steps, then per step one product and one
// vectorised loop for the gates; the backward likewise), not libtorch's at::lstm and at::gru,
// which dispatch a dozen ops and autograd nodes per step. Outputs and gradients agree with
// PyTorch's to float rounding (checked by the parity suite, scripts/parity);
// RNNOptions.LibtorchKernel runs libtorch's kernel instead, bit-identical to PyTorch. The
// simple RNN cells, and everything on CUDA (cuDNN), use libtorch's kernels. Timings of both,
// and how the kernel splits large products over threads, are in the documentation of
// scripts/bench ("Where the speed comes from").
//
// # Initialisation
//
// Constructors draw their initial weights from libtorch's default generator with the calls,
// bounds and order of PyTorch's constructors, so torch.ManualSeed(s) then NewX(...) gives the
// weights torch.manual_seed(s); nn.X(...) gives. The Init* functions are torch.nn.init
// (InitXavierUniform is nn.init.xavier_uniform_), drawn the same way; they live in this package
// because Go cannot name a package init.
//
// # Ownership
//
// A module owns its parameter tensors: they belong to no torch.Scope, whatever scope is open
// when the module is built (NewParameter), and Close frees them. Every Forward and loss
// returns new tensors owned by the caller; they register with the caller's innermost scope,
// which frees them in bulk. A model's Forward can run in a scope of its own and hand its
// result to its caller's scope with torch.Scope.Escape (see the Modules example).
//
// # Errors
//
// The torch package's contract (see its Errors paragraph): module code panics with
// *torch.Error, as PyTorch raises, and only what touches files returns an error.
//
// Constructors (NewLinear, NewEmbedding, EmbeddingFromPretrained, NewDropout, NewRNN,
// NewLSTM, NewGRU, NewParameter, the cells, NewLayerNorm, NewConv1d, NewMultiheadAttention,
// the Transformer encoder's) and the Init* functions panic on invalid arguments (negative
// sizes, an unknown nonlinearity, a dropout outside [0, 1]); Modules.Add panics on a duplicate or invalid name.
// A model built from user configuration validates it first (as models/smsrnn's
// Config.Validate) or builds inside torch.Try or torch.Run, which turn the panic into an error.
//
// Forward passes of the recurrent layers (RNNBase.Forward, ForwardPacked) and the packing
// utilities (PackPaddedSequence, PadPackedSequence, PackSequence, PadSequence, UnpadSequence,
// UnpackSequence) check their inputs in Go, as PyTorch's own checks do, and panic with a
// *torch.Error whose Op names the function ("nn.LSTM.Forward", "nn.PackPaddedSequence") and
// whose Msg names the offending sizes; a libtorch failure inside them is reported under the
// same Op, its message starting with the failing op's name. They free what they created
// before panicking. Simple ops (Linear.Forward, the losses) panic as the torch package's ops
// do. A model's Forward is therefore straight-line code; the training step, the server's
// batch or the command around it recovers the panic with torch.Run. Everything that reads or
// writes files returns an error.
//
// # Registration
//
// A model embeds Modules and registers each submodule with Add (and each parameter of its own
// with AddParameter); only registered parts appear in NamedParameters, the state dict, the
// optimizer's Trainable list and SetTraining. CheckRegistered finds struct fields that hold a
// module or a trainable tensor but were never registered; call it in a model's tests.
package nn
