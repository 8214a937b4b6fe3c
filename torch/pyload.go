package torch

import (
	"fmt"
	"strings"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// loadPythonDict reads a dict (or OrderedDict, as state_dict() returns) of tensors written by
// Python's torch.save, in pure Go. libtorch's own unpickler only reads what libtorch writes.
func loadPythonDict(path string) (names []string, ts []*Tensor, err error) {
	v, err := pytorch.Load(path)
	if err != nil {
		return nil, nil, wholeObjectError(err)
	}
	add := func(k, val any) error {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("key %v is not a string", k)
		}
		pt, ok := val.(*pytorch.Tensor)
		if !ok {
			return fmt.Errorf("value for %q is %T, not a tensor", name, val)
		}
		t, err := fromPickled(pt)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		names = append(names, name)
		ts = append(ts, t)
		return nil
	}
	closeAll := func() {
		for _, t := range ts {
			t.Close()
		}
	}
	switch d := v.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			kv := e.Value.(*types.OrderedDictEntry)
			if err := add(kv.Key, kv.Value); err != nil {
				closeAll()
				return nil, nil, err
			}
		}
	case *types.Dict:
		for _, kv := range *d {
			if err := add(kv.Key, kv.Value); err != nil {
				closeAll()
				return nil, nil, err
			}
		}
	case *types.GenericObject:
		return nil, nil, wholeObjectError(fmt.Errorf("class not found: %s %s", d.Class.Module, d.Class.Name))
	default:
		return nil, nil, fmt.Errorf("expected a dict of tensors, found %T", v)
	}
	return names, ts, nil
}

// wholeObjectError rewrites gopickle's "class not found: MODULE NAME", which a pickle of a
// whole Python object (torch.save(model), an optimizer) gives, into what to do instead.
func wholeObjectError(err error) error {
	_, class, ok := strings.Cut(err.Error(), "class not found: ")
	if !ok {
		return err
	}
	class = strings.Join(strings.Fields(class), ".")
	return fmt.Errorf("the file pickles a Python object of class %s (a whole model saved with "+
		"torch.save(model)?), and only a dict of tensors can be read without Python: save "+
		"the model's state dict instead, torch.save(model.state_dict(), path)", class)
}

// fromPickled copies a pickled tensor (storage, offset, size, stride) into a new tensor.
func fromPickled(pt *pytorch.Tensor) (*Tensor, error) {
	shape := make([]int64, len(pt.Size))
	for i, s := range pt.Size {
		shape[i] = int64(s)
	}
	n := int(numel(shape))
	// index maps a row-major position to its storage offset through the strides.
	index := func(pos int) int {
		off := pt.StorageOffset
		for d := len(pt.Size) - 1; d >= 0; d-- {
			off += (pos % pt.Size[d]) * pt.Stride[d]
			pos /= pt.Size[d]
		}
		return off
	}
	var t *Tensor
	err := Try(func() {
		switch s := pt.Source.(type) {
		case *pytorch.FloatStorage:
			t = FromSlice(gather(s.Data, n, index), shape...)
		case *pytorch.DoubleStorage:
			t = FromSlice(gather(s.Data, n, index), shape...)
		case *pytorch.LongStorage:
			t = FromSlice(gather(s.Data, n, index), shape...)
		case *pytorch.BoolStorage:
			t = FromSlice(gather(s.Data, n, index), shape...)
		case *pytorch.IntStorage:
			i64 := make([]int64, n)
			for i := range n {
				i64[i] = int64(s.Data[index(i)])
			}
			t = FromSlice(i64, shape...).toDTypeClose(Int32)
		case *pytorch.HalfStorage:
			f := make([]float32, n)
			for i := range n {
				f[i] = s.Data[index(i)]
			}
			t = FromSlice(f, shape...).toDTypeClose(Float16)
		default:
			panic(&Error{Op: "LoadDict", Msg: fmt.Sprintf("unsupported storage %T", pt.Source)})
		}
	})
	if err == nil && pt.RequiresGrad {
		t.SetRequiresGrad(true)
	}
	return t, err
}

func gather[T Elem](data []T, n int, index func(int) int) []T {
	out := make([]T, n)
	for i := range n {
		out[i] = data[index(i)]
	}
	return out
}

func (t *Tensor) toDTypeClose(d DType) *Tensor {
	r := t.ToDType(d)
	t.Close()
	return r
}
