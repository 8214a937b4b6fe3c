package jit

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"sort"
	"unsafe"

	"github.com/seqtorch/seqtorch/torch"
)

// encoder flattens Go arguments into the shim's pre-order st_value cells (shim.h,
// "TorchScript modules"); strings go to the bytes pool.
type encoder struct {
	cells       []C.st_value
	bytes       []byte
	tensors     []*torch.Tensor // held in use for the call
	tensorCells []int           // the cell of each of tensors
}

func (e *encoder) cell(tag C.int32_t) *C.st_value {
	e.cells = append(e.cells, C.st_value{tag: tag})
	return &e.cells[len(e.cells)-1]
}

func (e *encoder) tensor(t *torch.Tensor) {
	if t == nil {
		e.cell(C.ST_V_NONE)
		return
	}
	e.cell(C.ST_V_TENSOR)
	e.tensors = append(e.tensors, t)
	e.tensorCells = append(e.tensorCells, len(e.cells)-1)
}

func (e *encoder) str(s string) {
	c := e.cell(C.ST_V_STRING)
	c.i = C.int64_t(len(e.bytes))
	c.n = C.int32_t(len(s))
	e.bytes = append(e.bytes, s...)
}

// list adds a LIST cell of n children added by each(k).
func list[T any](e *encoder, xs []T, each func(T)) {
	e.cell(C.ST_V_LIST).n = C.int32_t(len(xs))
	for _, x := range xs {
		each(x)
	}
}

// sortedKeys returns m's keys in order, so that dict arguments are deterministic.
func sortedKeys[K int64 | string, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

// add appends the cells of a Go value; where names it in errors.
func (e *encoder) add(a any, where string) error {
	switch x := a.(type) {
	case nil:
		e.cell(C.ST_V_NONE)
	case *torch.Tensor:
		e.tensor(x)
	case []*torch.Tensor:
		list(e, x, e.tensor)
	case int64:
		e.cell(C.ST_V_INT).i = C.int64_t(x)
	case int:
		e.cell(C.ST_V_INT).i = C.int64_t(x)
	case int32:
		e.cell(C.ST_V_INT).i = C.int64_t(x)
	case float64:
		e.cell(C.ST_V_DOUBLE).d = C.double(x)
	case float32:
		e.cell(C.ST_V_DOUBLE).d = C.double(x)
	case bool:
		c := e.cell(C.ST_V_BOOL)
		if x {
			c.i = 1
		}
	case string:
		e.str(x)
	case torch.Device:
		c := e.cell(C.ST_V_DEVICE)
		c.i = C.int64_t(x.Type)
		c.n = C.int32_t(x.Index)
		if x.Type == torch.CPUDevice {
			c.n = -1
		}
	case []int64:
		list(e, x, func(v int64) { e.cell(C.ST_V_INT).i = C.int64_t(v) })
	case []int:
		list(e, x, func(v int) { e.cell(C.ST_V_INT).i = C.int64_t(v) })
	case []float64:
		list(e, x, func(v float64) { e.cell(C.ST_V_DOUBLE).d = C.double(v) })
	case []bool:
		list(e, x, func(v bool) {
			c := e.cell(C.ST_V_BOOL)
			if v {
				c.i = 1
			}
		})
	case []string:
		list(e, x, e.str)
	case []any:
		e.cell(C.ST_V_TUPLE).n = C.int32_t(len(x))
		for k, v := range x {
			if err := e.add(v, fmt.Sprintf("%s[%d]", where, k)); err != nil {
				return err
			}
		}
	case map[string]any:
		e.cell(C.ST_V_DICT).n = C.int32_t(len(x))
		for _, k := range sortedKeys(x) {
			e.str(k)
			if err := e.add(x[k], fmt.Sprintf("%s[%q]", where, k)); err != nil {
				return err
			}
		}
	case map[string]*torch.Tensor:
		e.cell(C.ST_V_DICT).n = C.int32_t(len(x))
		for _, k := range sortedKeys(x) {
			e.str(k)
			e.tensor(x[k])
		}
	case map[int64]any:
		e.cell(C.ST_V_DICT).n = C.int32_t(len(x))
		for _, k := range sortedKeys(x) {
			e.cell(C.ST_V_INT).i = C.int64_t(k)
			if err := e.add(x[k], fmt.Sprintf("%s[%d]", where, k)); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: cannot pass a Go %T (want *torch.Tensor, []*torch.Tensor, []any for a tuple, int64, float64, bool, string, nil, []int64, []float64, []bool, []string, map[string]any, map[int64]any or torch.Device)", where, a)
	}
	return nil
}

// decode converts the tree at cells[*pos] into a Go value, adopting its tensor handles and
// freeing its strings.
func decode(cells []C.st_value, pos *int) any {
	c := &cells[*pos]
	*pos++
	switch c.tag {
	case C.ST_V_NONE:
		return nil
	case C.ST_V_TENSOR:
		return torch.AdoptHandle(unsafe.Pointer(c.t))
	case C.ST_V_INT:
		return int64(c.i)
	case C.ST_V_DOUBLE:
		return float64(c.d)
	case C.ST_V_BOOL:
		return c.i != 0
	case C.ST_V_STRING:
		s := C.GoStringN((*C.char)(c.p), C.int(c.n))
		C.st_free_array(c.p)
		return s
	case C.ST_V_DEVICE:
		return torch.Device{Type: torch.DeviceType(c.i), Index: max(int(c.n), 0)}
	case C.ST_V_TUPLE:
		out := make([]any, int(c.n))
		for k := range out {
			out[k] = decode(cells, pos)
		}
		return out
	case C.ST_V_LIST:
		n := int(c.n)
		switch c.i {
		case C.ST_V_TENSOR:
			return decodeList[*torch.Tensor](cells, pos, n)
		case C.ST_V_INT:
			return decodeList[int64](cells, pos, n)
		case C.ST_V_DOUBLE:
			return decodeList[float64](cells, pos, n)
		case C.ST_V_BOOL:
			return decodeList[bool](cells, pos, n)
		case C.ST_V_STRING:
			return decodeList[string](cells, pos, n)
		}
		return decodeList[any](cells, pos, n)
	case C.ST_V_DICT:
		n := int(c.n)
		if c.i == C.ST_V_STRING {
			out := make(map[string]any, n)
			for range n {
				k, _ := decode(cells, pos).(string)
				out[k] = decode(cells, pos)
			}
			return out
		}
		out := make(map[any]any, n)
		for range n {
			k := decode(cells, pos)
			out[k] = decode(cells, pos)
		}
		return out
	}
	// The shim writes only the tags above.
	panic(fmt.Sprintf("jit: unexpected value tag %d", int(c.tag)))
}

// decodeList decodes n elements of type T (a None element of a list of tensors is nil).
func decodeList[T any](cells []C.st_value, pos *int, n int) []T {
	out := make([]T, n)
	for k := range out {
		v := decode(cells, pos)
		if v != nil {
			out[k] = v.(T)
		}
	}
	return out
}
