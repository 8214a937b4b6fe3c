// State dicts: the named parameters of a module, loaded strictly (the file formats are in
// safetensors.go and torchsave.go).

package nn

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
)

// StateDict returns m's parameter names (PyTorch's state_dict keys) and tensors in
// state_dict order. The tensors are the module's own: do not close them.
func StateDict(m Module) (names []string, ts []*torch.Tensor) {
	for _, p := range m.NamedParameters() {
		names = append(names, p.Name)
		ts = append(ts, p.Value)
	}
	return names, ts
}

// StateDictError reports every way a state dict failed to fit a module, as the RuntimeError
// of PyTorch's load_state_dict(strict=True).
type StateDictError struct {
	Missing    []string // the module's keys absent from the state dict
	Unexpected []string // the state dict's keys the module does not have
	Mismatched []string // one "size mismatch for KEY: ..." line per key with a different shape
}

// Error lists all problems in one message, like PyTorch's (on one line).
func (e *StateDictError) Error() string {
	var parts []string
	quote := func(ks []string) string {
		q := make([]string, len(ks))
		for i, k := range ks {
			q[i] = fmt.Sprintf("%q", k)
		}
		return strings.Join(q, ", ")
	}
	if len(e.Missing) > 0 {
		parts = append(parts, "missing key(s) in state_dict: "+quote(e.Missing))
	}
	if len(e.Unexpected) > 0 {
		parts = append(parts, "unexpected key(s) in state_dict: "+quote(e.Unexpected))
	}
	parts = append(parts, e.Mismatched...)
	return "error(s) in loading state_dict: " + strings.Join(parts, "; ")
}

// LoadStateDict copies named tensors into m's parameters (converting dtype and device as
// tensor.copy_ does), as module.load_state_dict(sd, strict=True). Missing keys, unexpected
// keys and shape mismatches are all reported in one *StateDictError. Unlike PyTorch, which
// copies the matching entries before raising, nothing is copied when there is any error.
func LoadStateDict(m Module, names []string, ts []*torch.Tensor) error {
	if len(names) != len(ts) {
		return fmt.Errorf("nn: LoadStateDict: %d names for %d tensors", len(names), len(ts))
	}
	src := make(map[string]*torch.Tensor, len(names))
	for i, n := range names {
		src[n] = ts[i]
	}
	params := m.NamedParameters()
	have := make(map[string]bool, len(params))
	var e StateDictError
	for _, p := range params {
		have[p.Name] = true
		t, ok := src[p.Name]
		if !ok {
			e.Missing = append(e.Missing, p.Name)
			continue
		}
		if got, want := t.Shape(), p.Value.Shape(); !slices.Equal(got, want) {
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("size mismatch for %s: copying a param with shape %s from checkpoint, the shape in current model is %s",
				p.Name, fmtShape(got), fmtShape(want)))
		}
	}
	for _, n := range names {
		if !have[n] {
			e.Unexpected = append(e.Unexpected, n)
		}
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.Mismatched) > 0 {
		return &e
	}
	err := torch.Try(func() {
		torch.NoGrad(func() {
			for _, p := range params {
				p.Value.CopyFrom(src[p.Name])
			}
		})
	})
	if err != nil {
		return fmt.Errorf("nn: LoadStateDict: %w", err)
	}
	return nil
}

// writeAtomic replaces path with what write writes: into a temporary file in the same
// folder, synced, then renamed over path. On any error path is left as it was.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
