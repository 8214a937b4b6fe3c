// Package jit runs TorchScript modules from Go: models written and trained in Python, saved with
// torch.jit.script(model).save(path) or torch.jit.trace(model, example).save(path), loaded with
// libtorch's own torch::jit::load and run, fine-tuned and saved again, as torch.jit.load does
// in Python.
//
//	m, err := jit.Load("classifier.pt", torch.CPU)
//	if err != nil { ... }                  // one line naming the file and what is wrong
//	defer m.Close()
//	m.SetTraining(false)
//	out, err := m.Forward(ids, lengths)    // out is a *torch.Tensor for a Tensor result
//
// # Values
//
// Arguments and results are Go values: *torch.Tensor (nil is None), []*torch.Tensor (List[Tensor]),
// []any (a tuple; it also fits a list argument), int64 (int also accepted), float64 (float32
// also), bool, string, nil (None), []int64, []float64, []bool, []string, map[string]any or
// map[string]*torch.Tensor (Dict[str, V]), map[int64]any (Dict[int, V]) and torch.Device.
// Arguments are converted to the types of the method's schema; trailing arguments left out
// take the schema's defaults. Results come back as: *torch.Tensor, a tuple as []any, a list
// as []*torch.Tensor, []int64, []float64, []bool, []string or (other elements) []any, a dict
// as map[string]any (str keys) or map[any]any, int64, float64, bool, string, nil. Every tensor
// returned is new and owned by the caller (freed by its Close or the open torch.Scope), even
// one the module returns from its inputs or parameters (it then shares their data).
//
// # Training
//
// A loaded module is a [nn.Module]: [Module.NamedParameters] lists its parameters with their
// state_dict names (the tensors are the module's own, so nn.StateDict, nn.LoadStateDict,
// nn.Parameters and the optimizers of torch/optim work on it), and a Backward through a
// Forward's result fills their gradients. [Module.Save] writes the module, updated
// parameters included, as torch.jit.save does.
//
// # Concurrency
//
// Forward and [Method.Call] may run from many goroutines at once: a TorchScript method is
// reentrant in libtorch, and each call runs under its own goroutine's grad mode (see
// torch.NoGrad). SetTraining, Save and Close wait for the calls in progress and hold the next
// ones back. Training is not reentrant: a training mode flip, an optimizer step or a
// LoadStateDict changes the parameters every concurrent call reads, so train from one
// goroutine, as in PyTorch.
//
// # Errors
//
// Load, Forward and Call return errors, never a libtorch abort: a file that is not a
// TorchScript archive (a torch.save state dict, a safetensors file), one saved by a newer
// PyTorch, a missing method, a wrong argument count or type (naming the argument and the
// method's schema), and errors the TorchScript code raises, each on one line that names the
// file and the method.
package jit

/*
#cgo CFLAGS: -I${SRCDIR}/../csrc
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// Module is a loaded TorchScript module. Its methods are safe for concurrent use as described
// in the package documentation.
type Module struct {
	mu      sync.RWMutex
	h       C.st_jit
	path    string
	dev     torch.Device
	methods []methodInfo
	params  []nn.NamedParameter
	buffers []nn.NamedParameter
	train   bool
}

type methodInfo struct{ name, schema string }

// ErrClosed is returned by calls on a closed module.
var ErrClosed = errors.New("jit: the module is closed")

// Load reads the TorchScript archive at path with its tensors placed on dev, as
// torch.jit.load(path, map_location=dev). The module keeps the training mode it was saved
// with (call SetTraining(false) before inference, as model.eval()).
func Load(path string, dev torch.Device) (*Module, error) {
	if err := checkArchive(path); err != nil {
		return nil, err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var h C.st_jit
	var methods *C.char
	if err := shimErr("jit.Load", C.st_jit_load(cp, C.int(dev.Type), C.int(dev.Index), &h, &methods)); err != nil {
		return nil, loadError(path, err)
	}
	m := &Module{h: h, path: path, dev: dev}
	var train C.int
	if err := shimErr("jit.Load", C.st_jit_is_training(h, &train)); err != nil {
		C.st_jit_free(h)
		return nil, fmt.Errorf("jit.Load %s: %s", path, oneLine(err))
	}
	m.train = train != 0
	text := C.GoString(methods)
	C.st_free_err(methods)
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if name, sch, ok := strings.Cut(l, "\t"); ok {
			m.methods = append(m.methods, methodInfo{name, sch})
		}
	}
	var err error
	if m.params, err = m.named(0); err == nil {
		m.buffers, err = m.named(1)
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("jit.Load %s: %w", path, err)
	}
	return m, nil
}

// shimErr converts a shim error into an error (nil stays nil).
func shimErr(op string, e C.st_err) error {
	return torch.ShimError(op, unsafe.Pointer(e))
}

// named lists parameters (0) or buffers (1) as tensors owned by the module.
func (m *Module) named(buffers int) ([]nn.NamedParameter, error) {
	var names **C.char
	var ts *C.st_tensor
	var n C.int
	if err := shimErr("jit.Load", C.st_jit_named(m.h, C.int(buffers), &names, &ts, &n)); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	ns := unsafe.Slice(names, int(n))
	hs := unsafe.Slice(ts, int(n))
	out := make([]nn.NamedParameter, n)
	for i := range out {
		t := torch.AdoptHandle(unsafe.Pointer(hs[i]))
		torch.Unscope(t) // the module's, not the open scope's
		out[i] = nn.NamedParameter{Name: C.GoString(ns[i]), Value: t}
	}
	C.st_free_names(names, n)
	C.st_free_array(unsafe.Pointer(ts))
	return out, nil
}

// Path returns the file the module was loaded from.
func (m *Module) Path() string { return m.path }

// Device returns the device Load placed the module's tensors on.
func (m *Module) Device() torch.Device { return m.dev }

// Methods returns the module's methods with their schemas (without self), e.g.
// "forward(Tensor ids, Tensor lengths) -> Tensor", in libtorch's order.
func (m *Module) Methods() []string {
	out := make([]string, len(m.methods))
	for i, mi := range m.methods {
		out[i] = mi.schema
	}
	return out
}

// NamedParameters returns the module's parameters with their state_dict names
// ("rnn.weight_ih_l0"), recursively, in PyTorch's order. The tensors are the module's own:
// updating them in place (an optimizer step) updates the module; do not close them.
func (m *Module) NamedParameters() []nn.NamedParameter {
	return append([]nn.NamedParameter(nil), m.params...)
}

// NamedBuffers returns the module's buffers (batch-norm statistics, say) likewise.
func (m *Module) NamedBuffers() []nn.NamedParameter {
	return append([]nn.NamedParameter(nil), m.buffers...)
}

// SetTraining switches the module and its submodules to training (true) or evaluation mode,
// as module.train(b) (module.eval() is SetTraining(false)). It waits for calls in progress.
func (m *Module) SetTraining(train bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return
	}
	t := C.int(0)
	if train {
		t = 1
	}
	if err := shimErr("jit.SetTraining", C.st_jit_set_training(m.h, t)); err != nil {
		panic(err)
	}
	m.train = train
}

// Training reports whether the module is in training mode (as saved, until SetTraining).
func (m *Module) Training() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.train
}

// Save writes the module, with its current parameters, as a TorchScript archive that
// torch.jit.load and Load read. It waits for calls in progress.
func (m *Module) Save(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return ErrClosed
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".jit-*.pt")
	if err != nil {
		return fmt.Errorf("jit: save %s: %w", path, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	cp := C.CString(tmpName)
	defer C.free(unsafe.Pointer(cp))
	if err := shimErr("jit.Save", C.st_jit_save(m.h, cp)); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("jit: save %s: %s", path, oneLine(err))
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("jit: save %s: %w", path, err)
	}
	return nil
}

// Close frees the module and its parameter and buffer tensors; it waits for calls in
// progress. It is idempotent.
func (m *Module) Close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h == nil {
		return
	}
	for _, p := range m.params {
		p.Value.Close()
	}
	for _, b := range m.buffers {
		b.Value.Close()
	}
	C.st_jit_free(m.h)
	m.h = nil
}

// Method is one method of a module, e.g. one exported with @torch.jit.export.
type Method struct {
	m      *Module
	name   string
	schema string
}

// Method returns the method called name, or an error that lists the methods the module has.
func (m *Module) Method(name string) (*Method, error) {
	for _, mi := range m.methods {
		if mi.name == name {
			return &Method{m: m, name: name, schema: mi.schema}, nil
		}
	}
	have := make([]string, len(m.methods))
	for i, mi := range m.methods {
		have[i] = mi.schema
	}
	return nil, fmt.Errorf("jit: %s has no method %q (its methods: %s)", m.path, name, strings.Join(have, "; "))
}

// Name returns the method's name.
func (f *Method) Name() string { return f.name }

// Schema returns the method's schema without self, e.g. "forward(Tensor x) -> Tensor".
func (f *Method) Schema() string { return f.schema }

// Forward calls the module's forward method (see the package documentation for the values).
func (m *Module) Forward(args ...any) (any, error) {
	f, err := m.Method("forward")
	if err != nil {
		return nil, err
	}
	return f.Call(args...)
}

// Call calls the method with args and returns its result.
func (f *Method) Call(args ...any) (out any, err error) {
	m := f.m
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.h == nil {
		return nil, ErrClosed
	}
	var enc encoder
	for i, a := range args {
		if err := enc.add(a, fmt.Sprintf("argument %d", i+1)); err != nil {
			return nil, f.errorf("%v", err)
		}
	}
	defer func() {
		// A closed tensor among the arguments panics in WithHandles, as every op does; here
		// it is an error like the others.
		if r := recover(); r != nil {
			te, ok := r.(*torch.Error)
			if !ok {
				panic(r)
			}
			out, err = nil, f.errorf("%s", te.Msg)
		}
	}()
	cname := C.CString(f.name)
	defer C.free(unsafe.Pointer(cname))
	var res *C.st_value
	var nres C.int
	var callErr error
	err = torch.WithHandles("jit."+f.name, enc.tensors, func(hs []unsafe.Pointer) error {
		for k, idx := range enc.tensorCells {
			enc.cells[idx].t = C.st_tensor(hs[k])
		}
		var cellsPtr *C.st_value
		if len(enc.cells) > 0 {
			cellsPtr = &enc.cells[0]
		}
		var bytesPtr *C.char
		if len(enc.bytes) > 0 {
			bytesPtr = (*C.char)(unsafe.Pointer(&enc.bytes[0]))
		}
		callErr = shimErr("jit."+f.name, C.st_jit_call(m.h, cname, cellsPtr, C.int(len(enc.cells)), bytesPtr, &res, &nres))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if callErr != nil {
		return nil, f.errorf("%s", summarize(callErr))
	}
	if res == nil {
		return nil, fmt.Errorf("jit: %s has no method %q", m.path, f.name)
	}
	cells := unsafe.Slice(res, int(nres))
	pos := 0
	out = decode(cells, &pos)
	C.st_free_array(unsafe.Pointer(res))
	return out, nil
}

// errorf returns an error naming the file, the method and its schema.
func (f *Method) errorf(format string, args ...any) error {
	return fmt.Errorf("jit: %s: %s: %s (schema: %s)", f.m.path, f.name, fmt.Sprintf(format, args...), f.schema)
}

var _ nn.Module = (*Module)(nil)
