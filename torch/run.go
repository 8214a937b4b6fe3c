package torch

import "errors"

// Run is the boundary between code that panics with *Error (tensor and module code, as
// PyTorch raises) and code that returns errors (files, devices, configuration, a command's
// run). It runs f inside a new Scope and returns:
//
//   - f's own error, as f returned it;
//   - the error f panicked with, if it is a *Error or an error wrapping one (errors.As finds
//     the *Error: its Op and Msg);
//
// and re-panics anything else (a nil dereference, an index out of range: bugs are not
// errors), after closing the scope.
//
// The scope closes when f returns or panics, freeing every tensor created on this goroutine
// while f ran that f did not take out of it, and any scope f left open: a failure half-way
// through a forward pass leaks nothing. Tensors that must outlive Run (a result, state created
// lazily inside a training step) must be kept: torch.Unscope(t) takes t out of Run's scope,
// and the caller then owns it and must Close it. Tensors created before Run, and those that
// modules and optimizers own (their parameters and state), are not Run's and outlive it.
//
// Like every scope, Run's belongs to the calling goroutine, which it locks to its OS thread
// while f runs (grad mode follows it); tensors created by goroutines that f starts are not
// Run's. Runs nest: an inner Run frees its own tensors, and its error is the outer f's to
// return or to drop.
func Run(f func() error) (err error) {
	s := NewScope()
	defer func() {
		r := recover()
		s.Close()
		if r == nil {
			return
		}
		if e := torchError(r); e != nil {
			err = e
			return
		}
		panic(r)
	}()
	return f()
}

// torchError returns r, a recovered panic value, as an error when it is a *Error or an error
// wrapping one, and nil otherwise.
func torchError(r any) error {
	e, ok := r.(error)
	if !ok {
		return nil
	}
	var te *Error
	if !errors.As(e, &te) {
		return nil
	}
	return e
}
