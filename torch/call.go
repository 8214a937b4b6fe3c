package torch

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Layout is a tensor's memory layout (c10::Layout), for the generated ops that take one.
type Layout int8

// The layouts libtorch knows, with libtorch's values.
const (
	Strided Layout = iota
	Sparse
	SparseCsr
	Mkldnn
)

// MemoryFormat is the memory format an op lays a result out in (c10::MemoryFormat).
type MemoryFormat int8

// The memory formats, with libtorch's values.
const (
	ContiguousFormat MemoryFormat = iota
	PreserveFormat
	ChannelsLast
	ChannelsLast3d
)

// Call calls any ATen operator through libtorch's dispatcher by its schema name, as
// torch.ops.aten.NAME.OVERLOAD does in Python: op is "aten::name" (the default overload) or
// "aten::name.overload", e.g. Call("aten::topk", x, int64(2)) or Call("aten::add.Tensor", a, b).
// Autograd records the call as it records the same call in PyTorch; in-place ops follow
// PyTorch's rules.
//
// Arguments are Go values in the schema's order; trailing arguments left out take the
// schema's defaults. Accepted: *Tensor (Tensor, Tensor?), []*Tensor (Tensor[]; nil entries
// are None in Tensor?[]), int64 or int (int, SymInt, and Scalar), []int64 or []int (int[] and
// SymInt[]; one int fills an int[N]), float64 or float32 (float, Scalar), []float64, bool
// (bool, Scalar), []bool, string (str), DType (ScalarType), Device or "cuda:0" (Device),
// Layout, MemoryFormat, and nil for None. Results, one per value the schema returns: *Tensor
// (nil for None), []*Tensor, int64, float64, bool, string, []int64, []float64. A result that
// an in-place op wrote into an argument is that argument's *Tensor itself, not a new handle;
// every other tensor returned is new and owned by the caller.
//
// An unknown op or overload (or one the loaded libtorch lacks), a wrong argument count or
// type panics with *Error naming the op, with its schema (or the overloads the name has) in
// the message.
func Call(op string, args ...any) []any {
	name, overload, _ := strings.Cut(op, ".")
	ref := lookupRef(name, overload)
	c := newCaller(ref)
	for i, a := range args {
		c.argAny(i, a)
	}
	c.run()
	out := make([]any, c.nout)
	for i := range out {
		out[i] = c.resValue(i)
	}
	c.done()
	return out
}

// refs caches the operators Call looked up, by name and overload.
var refs sync.Map // "name\x00overload" -> *opRef

func lookupRef(name, overload string) *opRef {
	key := name + "\x00" + overload
	if r, ok := refs.Load(key); ok {
		return r.(*opRef)
	}
	r, _ := refs.LoadOrStore(key, &opRef{name: name, overload: overload})
	return r.(*opRef)
}

// opRef is one operator, looked up in libtorch's registry on first use. The generated
// wrappers hold one each.
type opRef struct {
	name, overload string
	once           sync.Once
	h              C.st_op
	schema         string
	err            *Error // set when the lookup failed
	id             atomic.Pointer[string]
}

// String returns "aten::name" or "aten::name.overload".
func (r *opRef) String() string {
	if p := r.id.Load(); p != nil {
		return *p
	}
	s := r.name
	if r.overload != "" {
		s += "." + r.overload
	}
	r.id.Store(&s)
	return s
}

// handle returns the operator's handle, panicking with *Error when libtorch lacks it.
func (r *opRef) handle() C.st_op {
	r.once.Do(r.find)
	if r.err != nil {
		panic(r.err)
	}
	return r.h
}

func (r *opRef) find() {
	cn := C.CString(r.name)
	co := C.CString(r.overload)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(co))
	var h C.st_op
	var sch *C.char
	if e := C.st_op_find(cn, co, &h, &sch); e != nil {
		r.err = newError(r.String(), e)
		return
	}
	text := C.GoString(sch)
	C.st_free_err(sch)
	if h == nil {
		msg := fmt.Sprintf("libtorch %s has no operator %s", Version(), r)
		if text = strings.TrimSpace(text); text != "" {
			lines := strings.Split(text, "\n")
			names := make([]string, len(lines))
			for i, l := range lines {
				names[i], _, _ = strings.Cut(l, "(")
			}
			msg += " (its overloads: " + strings.Join(names, ", ") + ")\n" + text
		} else if !strings.Contains(r.name, "::") {
			msg += " (operator names look like \"aten::topk\" or \"aten::add.Tensor\")"
		}
		r.err = &Error{Op: r.String(), Msg: msg}
		return
	}
	r.h, r.schema = h, text
}

// maxResults bounds the values one operator returns (ATen's most is seven).
const maxResults = 16

// caller marshals one call: the argument cells, the pools their lists and strings point into,
// the tensors to hold in use for the call's duration, and the results. Callers are pooled.
type caller struct {
	ref     *opRef
	vals    []C.st_value
	ints    []int64
	dbls    []float64
	bytes   []byte
	handles []C.st_tensor // the tensor pool (Tensor[] elements)
	ts      []*Tensor     // every tensor argument, in use during the call
	tsIdx   []int32       // for each of ts: its cell (>= 0) or its slot in handles (-1-slot)
	args    []*Tensor     // by cell: the tensor passed there (for ST_V_ALIAS results)
	nout    int
	cbuf    *cbuf // memory passed to C: kept apart from the Go pointers above (cgo's rules)
	buf     struct {
		ts   [8]*Tensor
		idx  [8]int32
		args [8]*Tensor
	}
}

// cbuf is a caller's argument cells, result cells and tensor-list handles. It lives in C
// memory: cgo checks every Go pointer passed to C for Go pointers inside, which for these
// pointer-holding cells cost more than the rest of a small op's marshalling. A call that
// needs more cells than it holds spills into Go memory (and pays the check).
type cbuf struct {
	vals    [16]C.st_value
	out     [maxResults]C.st_value
	handles [32]C.st_tensor
}

var callers = sync.Pool{New: func() any {
	p := C.calloc(1, C.size_t(unsafe.Sizeof(cbuf{})))
	if p == nil {
		panic(&Error{Op: "Call", Msg: "out of memory"})
	}
	c := &caller{cbuf: (*cbuf)(p)}
	runtime.AddCleanup(c, func(p unsafe.Pointer) { C.free(p) }, p)
	return c
}}

// newCaller starts a call of r with a pooled caller; done returns it.
func newCaller(r *opRef) *caller {
	c := callers.Get().(*caller)
	c.start(r)
	return c
}

// done drops what the caller refers to and returns it to the pool.
func (c *caller) done() {
	clear(c.ts)
	clear(c.args)
	c.ref = nil
	c.nout = 0
	if cap(c.ints) > 1024 || cap(c.dbls) > 1024 || cap(c.bytes) > 1<<16 {
		return // let an unusually large call's buffers go
	}
	callers.Put(c)
}

func (c *caller) start(r *opRef) {
	c.ref = r
	c.vals = c.cbuf.vals[:0]
	c.ts = c.buf.ts[:0]
	c.tsIdx = c.buf.idx[:0]
	c.args = c.buf.args[:0]
	c.ints = c.ints[:0]
	c.dbls = c.dbls[:0]
	c.bytes = c.bytes[:0]
	c.handles = c.cbuf.handles[:0]
}
func (c *caller) cell(tag C.int32_t) *C.st_value {
	c.vals = append(c.vals, C.st_value{tag: tag})
	c.args = append(c.args, nil)
	return &c.vals[len(c.vals)-1]
}

// tensor adds a Tensor or Tensor? argument (nil is None).
func (c *caller) argTensor(t *Tensor) {
	if t == nil {
		c.cell(C.ST_V_NONE)
		return
	}
	c.cell(C.ST_V_TENSOR)
	c.args[len(c.args)-1] = t
	c.ts = append(c.ts, t)
	c.tsIdx = append(c.tsIdx, int32(len(c.vals)-1))
}

// tensors adds a Tensor[] argument; opt allows nil entries (Tensor?[]).
func (c *caller) argTensors(ts []*Tensor, opt bool) {
	v := c.cell(C.ST_V_TENSOR_LIST)
	v.i = C.int64_t(len(c.handles))
	v.n = C.int32_t(len(ts))
	for _, t := range ts {
		if t == nil && !opt {
			panic(&Error{Op: c.ref.String(), Msg: fmt.Sprintf("argument %d: nil tensor in a Tensor[]", len(c.vals))})
		}
		if t != nil {
			c.ts = append(c.ts, t)
			c.tsIdx = append(c.tsIdx, int32(-1-len(c.handles)))
		}
		c.handles = append(c.handles, nil)
	}
}

func (c *caller) argInt(v int64) { c.cell(C.ST_V_INT).i = C.int64_t(v) }

func (c *caller) argFloat(v float64) { c.cell(C.ST_V_DOUBLE).d = C.double(v) }

func (c *caller) argBool(v bool) {
	x := c.cell(C.ST_V_BOOL)
	if v {
		x.i = 1
	}
}

func (c *caller) argNone() { c.cell(C.ST_V_NONE) }

func (c *caller) argInts(v []int64) {
	x := c.cell(C.ST_V_INT_LIST)
	x.i = C.int64_t(len(c.ints))
	x.n = C.int32_t(len(v))
	c.ints = append(c.ints, v...)
}

// intsOpt adds an int[]? argument: nil is None.
func (c *caller) argIntsOpt(v []int64) {
	if v == nil {
		c.argNone()
		return
	}
	c.argInts(v)
}

func (c *caller) argFloats(v []float64) {
	x := c.cell(C.ST_V_DOUBLE_LIST)
	x.i = C.int64_t(len(c.dbls))
	x.n = C.int32_t(len(v))
	c.dbls = append(c.dbls, v...)
}

func (c *caller) argFloatsOpt(v []float64) {
	if v == nil {
		c.argNone()
		return
	}
	c.argFloats(v)
}

func (c *caller) argBools(v []bool) {
	x := c.cell(C.ST_V_BOOL_LIST)
	x.i = C.int64_t(len(c.ints))
	x.n = C.int32_t(len(v))
	for _, b := range v {
		if b {
			c.ints = append(c.ints, 1)
		} else {
			c.ints = append(c.ints, 0)
		}
	}
}

func (c *caller) argStr(s string) {
	x := c.cell(C.ST_V_STRING)
	x.i = C.int64_t(len(c.bytes))
	x.n = C.int32_t(len(s))
	c.bytes = append(c.bytes, s...)
}

func (c *caller) argDType(d DType) { c.cell(C.ST_V_DTYPE).i = C.int64_t(d.code()) }

func (c *caller) argDevice(d Device) {
	x := c.cell(C.ST_V_DEVICE)
	x.i = C.int64_t(d.Type)
	x.n = C.int32_t(d.Index)
	if d.Type == CPUDevice {
		x.n = -1
	}
}

func (c *caller) argLayout(l Layout) { c.cell(C.ST_V_LAYOUT).i = C.int64_t(l) }

func (c *caller) argMemoryFormat(m MemoryFormat) { c.cell(C.ST_V_MEMORY_FORMAT).i = C.int64_t(m) }

// scalar adds a Scalar argument: a Go int, int64, float64, float32 or bool (nil is None for
// a Scalar?).
func (c *caller) argScalar(v any) {
	switch x := v.(type) {
	case nil:
		c.argNone()
	case int64:
		c.argInt(x)
	case int:
		c.argInt(int64(x))
	case int32:
		c.argInt(int64(x))
	case float64:
		c.argFloat(x)
	case float32:
		c.argFloat(float64(x))
	case bool:
		c.argBool(x)
	default:
		panic(&Error{Op: c.ref.String(), Msg: fmt.Sprintf("argument %d: a Scalar is an int64, int, float64, float32 or bool, not %T", len(c.vals)+1, v)})
	}
}

// any adds an argument of Call (argument i, counted from 0).
func (c *caller) argAny(i int, a any) {
	switch x := a.(type) {
	case nil:
		c.argNone()
	case *Tensor:
		c.argTensor(x)
	case []*Tensor:
		c.argTensors(x, true)
	case int64, int, int32, float64, float32:
		c.argScalar(x)
	case bool:
		c.argBool(x)
	case []int64:
		c.argInts(x)
	case []int:
		v := make([]int64, len(x))
		for k, e := range x {
			v[k] = int64(e)
		}
		c.argInts(v)
	case []float64:
		c.argFloats(x)
	case []bool:
		c.argBools(x)
	case string:
		c.argStr(x)
	case DType:
		c.argDType(x)
	case Device:
		c.argDevice(x)
	case Layout:
		c.argLayout(x)
	case MemoryFormat:
		c.argMemoryFormat(x)
	case *int64:
		if x == nil {
			c.argNone()
		} else {
			c.argInt(*x)
		}
	case *float64:
		if x == nil {
			c.argNone()
		} else {
			c.argFloat(*x)
		}
	case *bool:
		if x == nil {
			c.argNone()
		} else {
			c.argBool(*x)
		}
	case *DType:
		if x == nil {
			c.argNone()
		} else {
			c.argDType(*x)
		}
	default:
		panic(&Error{Op: c.ref.String(), Msg: fmt.Sprintf("argument %d: cannot pass a Go %T (want *Tensor, []*Tensor, int64, []int64, float64, []float64, bool, []bool, string, DType, Device, Layout, MemoryFormat or nil)", i+1, a)})
	}
}

// run calls the operator with the arguments added so far. Every tensor argument is held in
// use for the call (a Close on another goroutine waits for it); a closed one panics first.
func (c *caller) run() {
	h := c.ref.handle()
	op := c.ref.String()
	for k, t := range c.ts {
		ht, ok := t.tryAcquire()
		if !ok {
			releaseAll(c.ts[:k])
			panic(useError(op, t))
		}
		if idx := c.tsIdx[k]; idx >= 0 {
			c.vals[idx].t = ht
		} else {
			c.handles[-1-idx] = ht
		}
	}
	defer releaseAll(c.ts)
	var n C.int
	var valsPtr *C.st_value
	if len(c.vals) > 0 {
		valsPtr = &c.vals[0]
	}
	var intsPtr *C.int64_t
	if len(c.ints) > 0 {
		intsPtr = (*C.int64_t)(unsafe.Pointer(&c.ints[0]))
	}
	var dblsPtr *C.double
	if len(c.dbls) > 0 {
		dblsPtr = (*C.double)(unsafe.Pointer(&c.dbls[0]))
	}
	var bytesPtr *C.char
	if len(c.bytes) > 0 {
		bytesPtr = (*C.char)(unsafe.Pointer(&c.bytes[0]))
	}
	e := C.st_op_call(h, valsPtr, C.int(len(c.vals)), intsPtr, dblsPtr, handlesPtr(c.handles), bytesPtr, &c.cbuf.out[0], maxResults, &n)
	if e != nil {
		err := newError(op, e)
		first, rest, _ := strings.Cut(err.Msg, "\n")
		err.Msg = first + "; schema: " + c.ref.schema
		if rest != "" {
			err.Msg += "\n" + rest
		}
		panic(err)
	}
	c.nout = int(n)
}

// tensor returns result i as a tensor (nil for None). A result written into argument k (an
// in-place op) is that argument's tensor.
func (c *caller) resTensor(i int) *Tensor {
	v := &c.cbuf.out[i]
	switch v.tag {
	case C.ST_V_TENSOR:
		return newTensor(v.t)
	case C.ST_V_ALIAS:
		return c.args[v.i]
	case C.ST_V_NONE:
		return nil
	}
	panic(&Error{Op: c.ref.String(), Msg: fmt.Sprintf("result %d is not a tensor", i+1)})
}

// tensorList returns result i as []*Tensor (nil entries for None).
func (c *caller) resTensors(i int) []*Tensor {
	v := &c.cbuf.out[i]
	if v.tag != C.ST_V_TENSOR_LIST {
		panic(&Error{Op: c.ref.String(), Msg: fmt.Sprintf("result %d is not a tensor list", i+1)})
	}
	hs := unsafe.Slice((*C.st_tensor)(v.p), int(v.n))
	out := make([]*Tensor, len(hs))
	for k, h := range hs {
		if h != nil {
			out[k] = newTensor(h)
		}
	}
	C.st_free_array(v.p)
	return out
}

func (c *caller) resInt(i int) int64 { return int64(c.cbuf.out[i].i) }

func (c *caller) resFloat(i int) float64 {
	if c.cbuf.out[i].tag == C.ST_V_INT {
		return float64(c.cbuf.out[i].i)
	}
	return float64(c.cbuf.out[i].d)
}

func (c *caller) resBool(i int) bool { return c.cbuf.out[i].i != 0 }

// scalar returns a Scalar result: int64, float64 or bool, as libtorch returned it.
func (c *caller) resScalar(i int) any { return c.resValue(i) }

func (c *caller) resDType(i int) DType { return dtypeFromCode(int(c.cbuf.out[i].i)) }

// value converts result i to the Go value Call returns.
func (c *caller) resValue(i int) any {
	v := &c.cbuf.out[i]
	switch v.tag {
	case C.ST_V_NONE:
		return nil
	case C.ST_V_TENSOR, C.ST_V_ALIAS:
		return c.resTensor(i)
	case C.ST_V_TENSOR_LIST:
		return c.resTensors(i)
	case C.ST_V_INT:
		return int64(v.i)
	case C.ST_V_DOUBLE:
		return float64(v.d)
	case C.ST_V_BOOL:
		return v.i != 0
	case C.ST_V_STRING:
		s := C.GoStringN((*C.char)(v.p), C.int(v.n))
		C.st_free_array(v.p)
		return s
	case C.ST_V_INT_LIST:
		s := append([]int64(nil), unsafe.Slice((*int64)(v.p), int(v.n))...)
		C.st_free_array(v.p)
		return s
	case C.ST_V_DOUBLE_LIST:
		s := append([]float64(nil), unsafe.Slice((*float64)(v.p), int(v.n))...)
		C.st_free_array(v.p)
		return s
	case C.ST_V_DEVICE:
		return Device{Type: DeviceType(v.i), Index: max(int(v.n), 0)}
	}
	panic(&Error{Op: c.ref.String(), Msg: fmt.Sprintf("result %d: unsupported value tag %d", i+1, int(v.tag))})
}

// argPtr adds an optional argument given as a pointer: nil is None.
func argPtr[T any](c *caller, p *T, add func(T)) {
	if p == nil {
		c.argNone()
		return
	}
	add(*p)
}

func (c *caller) argIntPtr(p *int64)     { argPtr(c, p, c.argInt) }
func (c *caller) argFloatPtr(p *float64) { argPtr(c, p, c.argFloat) }
func (c *caller) argBoolPtr(p *bool)     { argPtr(c, p, c.argBool) }
func (c *caller) argDTypePtr(p *DType)   { argPtr(c, p, c.argDType) }
func (c *caller) argLayoutPtr(p *Layout) { argPtr(c, p, c.argLayout) }
func (c *caller) argDevicePtr(p *Device) { argPtr(c, p, c.argDevice) }
func (c *caller) argStrPtr(p *string)    { argPtr(c, p, c.argStr) }
func (c *caller) argMemoryFormatPtr(p *MemoryFormat) {
	argPtr(c, p, c.argMemoryFormat)
}
