package main

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch/atenops"
)

// The committed wrappers and skipped list must be what the generator makes of the committed
// schema dumps and package torch's hand-written names.
func TestGeneratedUpToDate(t *testing.T) {
	versions, err := ReadSchemas("schemas")
	if err != nil {
		t.Fatal(err)
	}
	taken, err := HandWritten("../..", "aten_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	code, skipped, index, err := Generate(versions, taken)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{"../../aten_gen.go": code, "skipped.txt": skipped, "../../atenops/ops_gen.go": index} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run `go generate ./torch`", path)
		}
	}
	if n := bytes.Count(code, []byte("\nfunc ")); n < 1500 {
		t.Errorf("%d generated functions and methods, want at least 1,500", n)
	}
}

func TestParseSchema(t *testing.T) {
	tests := []struct {
		line string
		want atenops.Schema
	}{
		{
			line: "aten::topk(Tensor self, int k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, Tensor indices)",
			want: atenops.Schema{Name: "topk", Args: []atenops.Arg{
				{Type: "Tensor", Name: "self"}, {Type: "int", Name: "k"},
				{Type: "int", Name: "dim", Default: "-1", HasDef: true},
				{Type: "bool", Name: "largest", Default: "True", HasDef: true},
				{Type: "bool", Name: "sorted", Default: "True", HasDef: true},
			}, Returns: []atenops.Arg{{Type: "Tensor", Name: "values"}, {Type: "Tensor", Name: "indices"}}},
		},
		{
			line: "aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)",
			want: atenops.Schema{Name: "add_", Overload: "Tensor", Args: []atenops.Arg{
				{Type: "Tensor", Name: "self", Write: true, Alias: true}, {Type: "Tensor", Name: "other"},
				{Type: "Scalar", Name: "alpha", Default: "1", HasDef: true, KwOnly: true},
			}, Returns: []atenops.Arg{{Type: "Tensor", Write: true, Alias: true}}},
		},
		{
			line: `aten::conv1d.padding(Tensor input, Tensor weight, Tensor? bias=None, int[1] stride=[1], str padding="valid", int[1] dilation=[1, 2]) -> Tensor`,
			want: atenops.Schema{Name: "conv1d", Overload: "padding", Args: []atenops.Arg{
				{Type: "Tensor", Name: "input"}, {Type: "Tensor", Name: "weight"},
				{Type: "Tensor?", Name: "bias", Default: "None", HasDef: true},
				{Type: "int[1]", Name: "stride", Default: "[1]", HasDef: true},
				{Type: "str", Name: "padding", Default: `"valid"`, HasDef: true},
				{Type: "int[1]", Name: "dilation", Default: "[1, 2]", HasDef: true},
			}, Returns: []atenops.Arg{{Type: "Tensor"}}},
		},
		{
			line: "aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]",
			want: atenops.Schema{Name: "unbind", Overload: "int", Args: []atenops.Arg{
				{Type: "Tensor", Name: "self", Alias: true}, {Type: "int", Name: "dim", Default: "0", HasDef: true},
			}, Returns: []atenops.Arg{{Type: "Tensor[]", Alias: true}}},
		},
		{
			line: "aten::set_data(Tensor(a!) self, Tensor new_data) -> ()",
			want: atenops.Schema{Name: "set_data", Args: []atenops.Arg{
				{Type: "Tensor", Name: "self", Write: true, Alias: true}, {Type: "Tensor", Name: "new_data"},
			}},
		},
	}
	for _, tc := range tests {
		got, err := atenops.ParseSchema(tc.line)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		tc.want.Text = tc.line
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("atenops.ParseSchema(%s)\n got %+v\nwant %+v", tc.line, *got, tc.want)
		}
	}
	for _, bad := range []string{"prim::foo(int a) -> int", "aten::foo(int a", "aten::foo(int a)"} {
		if _, err := atenops.ParseSchema(bad); err == nil {
			t.Errorf("atenops.ParseSchema(%q) succeeded, want an error", bad)
		}
	}
}

func TestNames(t *testing.T) {
	v := Version{Name: "1.13", Schemas: map[string]*atenops.Schema{}}
	for _, l := range []string{
		"aten::topk(Tensor self, int k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, Tensor indices)",
		"aten::topk.values(Tensor self, int k, int dim=-1, bool largest=True, bool sorted=True, *, Tensor(a!) values, Tensor(b!) indices) -> (Tensor(a!) values, Tensor(b!) indices)",
		"aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
		"aten::add.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
		"aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)",
		"aten::index.Tensor(Tensor self, Tensor?[] indices) -> Tensor",
		"aten::index.Tensor_out(Tensor self, Tensor?[] indices, *, Tensor(a!) out) -> Tensor(a!)",
		"aten::zeros(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor",
		"aten::_internal(Tensor self) -> Tensor",
		"aten::sum.dim_DimnameList(Tensor self, str[1] dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
		"aten::log_softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor",
	} {
		s, err := atenops.ParseSchema(l)
		if err != nil {
			t.Fatal(err)
		}
		v.Schemas[s.ID()] = s
	}
	taken := Taken{Funcs: map[string]bool{}, Methods: map[string]bool{"AddScalar": true}}
	code, skipped, _, err := Generate([]Version{v}, taken)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"func (t *Tensor) Topk(k int64, dim int64, largest bool, sorted bool) (*Tensor, *Tensor) {",
		"func (t *Tensor) TopkValues(k int64, dim int64, largest bool, sorted bool, values *Tensor, indices *Tensor) (*Tensor, *Tensor) {",
		"func (t *Tensor) AddTensor(other *Tensor, alpha any) *Tensor {",
		"func (t *Tensor) AddInPlace(other *Tensor, alpha any) *Tensor {", // add_ has one overload here
		"func (t *Tensor) Index(indices []*Tensor) *Tensor {",
		"func (t *Tensor) IndexTensorOut(indices []*Tensor, out *Tensor) *Tensor {",
		"func Zeros(size []int64, dtype *DType, layout *Layout, device *Device, pinMemory *bool) *Tensor {",
		"func (t *Tensor) LogSoftmax(dim int64, dtype *DType) *Tensor {",
	} {
		if !strings.Contains(string(code), want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	for _, want := range []string{
		"aten::_internal\tinternal (name starts with _)",
		"aten::add.Scalar\thand-written method AddScalar has the name",
		"aten::sum.dim_DimnameList\tnamed-tensor overload (Dimname)",
	} {
		if !strings.Contains(string(skipped), want) {
			t.Errorf("skipped list lacks %q", want)
		}
	}
}
