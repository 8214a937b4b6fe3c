package main

import (
	"bytes"
	"os"
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
