package nn

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/seqtorch/seqtorch/torch"
)

var (
	moduleType    = reflect.TypeFor[Module]()
	tensorPtrType = reflect.TypeFor[*torch.Tensor]()
	modulesType   = reflect.TypeFor[Modules]()
)

// CheckRegistered reports the parts of m that were never registered: struct fields (exported
// or not, in embedded structs, slices and arrays too) that hold a module which is not one of
// registered anywhere in m (Modules.Add), or a tensor that requires gradients and is not one
// of m's parameters (Modules.AddParameter). Such a part is missing from m's state dict, from
// Trainable (so no optimizer updates it) and from SetTraining, silently: PyTorch registers
// every attribute assignment, Go needs the explicit call. Registered children that are
// themselves composite modules are checked the same way, field by field.
//
// It returns nil when everything is registered, else one error naming each field, e.g.
// "nn: *smsrnn.Model.FC2 (*nn.Linear) is not registered (Modules.Add)". It inspects types by
// reflection and reads RequiresGrad of tensor fields; call it in a model's tests.
func CheckRegistered(m Module) error {
	c := checker{params: map[*torch.Tensor]bool{}, registered: map[Module]bool{m: true},
		seen: map[uintptr]bool{}, holds: map[reflect.Type]bool{}}
	for _, p := range m.NamedParameters() {
		c.params[p.Value] = true
	}
	c.collect(m)
	c.module(reflect.ValueOf(m), fmt.Sprintf("%T", m))
	return errors.Join(c.errs...)
}

type checker struct {
	params     map[*torch.Tensor]bool // every registered parameter of the root
	registered map[Module]bool        // the root and every module registered below it
	seen       map[uintptr]bool       // composite modules already walked
	holds      map[reflect.Type]bool  // memo of mayHold
	errs       []error
}

// collect adds m's registered children, recursively, to c.registered.
func (c *checker) collect(m Module) {
	nc, ok := m.(interface{ NamedChildren() []NamedModule })
	if !ok {
		return
	}
	for _, k := range nc.NamedChildren() {
		if !c.registered[k.Module] {
			c.registered[k.Module] = true
			c.collect(k.Module)
		}
	}
}

// mayHold reports whether a value of type t can hold a module or a tensor, so that large
// slices of numbers are not walked element by element.
func (c *checker) mayHold(t reflect.Type) bool {
	if h, ok := c.holds[t]; ok {
		return h
	}
	c.holds[t] = false // a recursive type holds nothing through itself
	h := false
	switch t.Kind() {
	case reflect.Pointer:
		h = t == tensorPtrType || t.Implements(moduleType)
	case reflect.Interface:
		h = true
	case reflect.Struct:
		h = reflect.PointerTo(t).Implements(moduleType)
		for i := 0; i < t.NumField() && !h; i++ {
			h = c.mayHold(t.Field(i).Type)
		}
	case reflect.Slice, reflect.Array:
		h = c.mayHold(t.Elem())
	}
	c.holds[t] = h
	return h
}

// module walks the fields of the composite module v (a pointer to a struct that embeds
// Modules). Leaf modules (Linear, RNNBase, ...) are not walked: their NamedParameters is
// their registry.
func (c *checker) module(v reflect.Value, path string) {
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct || !embedsModules(v.Elem().Type()) {
		return
	}
	if c.seen[v.Pointer()] {
		return
	}
	c.seen[v.Pointer()] = true
	c.fields(v.Elem(), path)
}

func embedsModules(t reflect.Type) bool {
	for i := range t.NumField() {
		if f := t.Field(i); f.Anonymous && f.Type == modulesType {
			return true
		}
	}
	return false
}

// fields checks every field of the struct value s.
func (c *checker) fields(s reflect.Value, path string) {
	t := s.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type == modulesType || !c.mayHold(f.Type) {
			continue // the registry itself, or plain data
		}
		c.value(s.Field(i), path+"."+f.Name)
	}
}

// value checks one field value (or element of a slice or array).
func (c *checker) value(v reflect.Value, path string) {
	switch {
	case v.Type() == tensorPtrType:
		if v.IsNil() {
			return
		}
		t := (*torch.Tensor)(v.UnsafePointer())
		if !t.Closed() && !c.params[t] && t.RequiresGrad() {
			c.errs = append(c.errs, fmt.Errorf("nn: %s (a tensor that requires grad) is not a registered parameter (Modules.AddParameter)", path))
		}
		return
	case v.Kind() == reflect.Pointer && v.Type().Implements(moduleType):
		if v.IsNil() {
			return
		}
		// An unexported field's value cannot be used as an interface; rebuild it from its
		// address, which is what Add stored.
		mod := reflect.NewAt(v.Type().Elem(), v.UnsafePointer()).Interface().(Module)
		if !c.registered[mod] {
			c.errs = append(c.errs, fmt.Errorf("nn: %s (%s) is not registered (Modules.Add)", path, v.Type()))
			return
		}
		c.module(reflect.ValueOf(mod), path)
		return
	case v.Kind() == reflect.Interface:
		if !v.IsNil() {
			c.value(v.Elem(), path)
		}
		return
	case v.Kind() == reflect.Struct:
		if v.CanAddr() && reflect.PointerTo(v.Type()).Implements(moduleType) {
			c.value(v.Addr(), path) // a module held by value: Add(&m.Field)
			return
		}
		c.fields(v, path)
	case v.Kind() == reflect.Slice || v.Kind() == reflect.Array:
		for i := range v.Len() {
			c.value(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}
