// Package nn mirrors PyTorch's torch.nn over seqtorch's libtorch binding: modules with
// PyTorch's parameter names, defaults and initialisation (Linear, Embedding, Dropout, RNN,
// LSTM, GRU), packed sequences (torch.nn.utils.rnn), losses, and state dicts that move between
// Go and Python (safetensors and torch.save's format).
//
// Ownership: a module owns its parameter tensors; free them with Close. Every Forward and loss
// returns new tensors owned by the caller (a torch.Scope frees them in bulk). Intermediate
// tensors are closed by the functions that create them, so results register with the caller's
// innermost scope.
//
// Errors: recurrent layers and packing check their inputs in Go and return errors that name the
// layer and the offending sizes, as PyTorch's own checks do. Simple ops (Linear.Forward, the
// losses) behave like the torch package's ops: a libtorch failure panics with *torch.Error,
// which torch.Try turns into an error at a boundary.
package nn
