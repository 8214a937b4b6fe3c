// Package atenops indexes the ATen operators that package torch wraps with generated Go
// functions and methods: for each, the operator's name, overload and schema, the Go name, and
// the libtorch versions whose registry has it. It is plain data (no libtorch), for tools and
// tests that need to map between ATen and Go — the parity sweep, documentation, a user
// looking up which method runs aten::topk.
package atenops

// Op is one generated wrapper.
type Op struct {
	Name     string // ATen name without the namespace, e.g. "topk", "add_"
	Overload string // overload name, "" for the default one
	GoName   string // the wrapper's name in package torch, e.g. "Topk"
	Method   bool   // a method of *torch.Tensor (the schema's first argument is Tensor self); else a function
	Versions string // the libtorch versions (major.minor, space-separated) whose registry has the operator
	Schema   string // the schema the wrapper's signature follows
}

// ID returns "aten::name" or "aten::name.overload", as torch.Call takes it.
func (o Op) ID() string {
	if o.Overload == "" {
		return "aten::" + o.Name
	}
	return "aten::" + o.Name + "." + o.Overload
}

// Find returns the wrapper of the operator id ("aten::topk", "aten::add.Tensor").
func Find(id string) (Op, bool) {
	for _, o := range List {
		if o.ID() == id {
			return o, true
		}
	}
	return Op{}, false
}
