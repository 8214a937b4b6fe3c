package atenops

import (
	"reflect"
	"testing"
)

func TestParseSchema(t *testing.T) {
	tests := []struct {
		line string
		want Schema
	}{
		{
			line: "aten::topk(Tensor self, int k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, Tensor indices)",
			want: Schema{Name: "topk", Args: []Arg{
				{Type: "Tensor", Name: "self"}, {Type: "int", Name: "k"},
				{Type: "int", Name: "dim", Default: "-1", HasDef: true},
				{Type: "bool", Name: "largest", Default: "True", HasDef: true},
				{Type: "bool", Name: "sorted", Default: "True", HasDef: true},
			}, Returns: []Arg{{Type: "Tensor", Name: "values"}, {Type: "Tensor", Name: "indices"}}},
		},
		{
			line: "aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)",
			want: Schema{Name: "add_", Overload: "Tensor", Args: []Arg{
				{Type: "Tensor", Name: "self", Write: true, Alias: true}, {Type: "Tensor", Name: "other"},
				{Type: "Scalar", Name: "alpha", Default: "1", HasDef: true, KwOnly: true},
			}, Returns: []Arg{{Type: "Tensor", Write: true, Alias: true}}},
		},
		{
			line: `aten::conv1d.padding(Tensor input, Tensor weight, Tensor? bias=None, int[1] stride=[1], str padding="valid", int[1] dilation=[1, 2]) -> Tensor`,
			want: Schema{Name: "conv1d", Overload: "padding", Args: []Arg{
				{Type: "Tensor", Name: "input"}, {Type: "Tensor", Name: "weight"},
				{Type: "Tensor?", Name: "bias", Default: "None", HasDef: true},
				{Type: "int[1]", Name: "stride", Default: "[1]", HasDef: true},
				{Type: "str", Name: "padding", Default: `"valid"`, HasDef: true},
				{Type: "int[1]", Name: "dilation", Default: "[1, 2]", HasDef: true},
			}, Returns: []Arg{{Type: "Tensor"}}},
		},
		{
			line: "aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]",
			want: Schema{Name: "unbind", Overload: "int", Args: []Arg{
				{Type: "Tensor", Name: "self", Alias: true}, {Type: "int", Name: "dim", Default: "0", HasDef: true},
			}, Returns: []Arg{{Type: "Tensor[]", Alias: true}}},
		},
		{
			line: "aten::set_data(Tensor(a!) self, Tensor new_data) -> ()",
			want: Schema{Name: "set_data", Args: []Arg{
				{Type: "Tensor", Name: "self", Write: true, Alias: true}, {Type: "Tensor", Name: "new_data"},
			}},
		},
	}
	for _, tc := range tests {
		got, err := ParseSchema(tc.line)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		tc.want.Text = tc.line
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("ParseSchema(%s)\n got %+v\nwant %+v", tc.line, *got, tc.want)
		}
	}
	for _, bad := range []string{"prim::foo(int a) -> int", "aten::foo(int a", "aten::foo(int a)"} {
		if _, err := ParseSchema(bad); err == nil {
			t.Errorf("ParseSchema(%q) succeeded, want an error", bad)
		}
	}
}

// Every wrapper in the index has a schema that parses, and Find finds it by its id.
func TestIndex(t *testing.T) {
	if len(List) < 1500 {
		t.Errorf("%d wrappers indexed, want at least 1,500", len(List))
	}
	for _, o := range List {
		if _, err := ParseSchema(o.Schema); err != nil {
			t.Errorf("%s: %v", o.ID(), err)
		}
	}
	if o, ok := Find("aten::topk"); !ok || o.GoName != "Topk" || !o.Method {
		t.Errorf("Find(aten::topk) = %+v, %v", o, ok)
	}
	if _, ok := Find("aten::no_such_op"); ok {
		t.Error("Find found aten::no_such_op")
	}
}
