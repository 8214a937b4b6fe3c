package cases

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/atenops"
)

// The sweep of the generated ATen surface: for every operator listed in testdata/aten_sweep.txt,
// the generated *torch.Tensor method runs on random float64 inputs (shape 3×4, values in
// [0.1, 1.1)), PyTorch runs the same operator (torch.ops.aten.NAME.OVERLOAD) on the same inputs,
// and the outputs are compared; where PyTorch can differentiate the op, so are the gradients of
// the sum of its floating-point outputs with respect to every input. Arguments the op does not
// require take their schema defaults; required ones take fixed values by type and name
// (atenPlan).
//
// With the runner's -device cuda the Go side computes on the GPU (AtenCUDATol) against
// PyTorch's CPU results; scripts/gpu-check.sh runs the suite that way.
//
// testdata/aten_sweep.txt is what the discovery run keeps: every candidate (a generated method
// whose arguments atenPlan can fill, minus random and uninitialised ops) for which PyTorch and
// Go both computed and agreed, on libtorch 1.13 and on 2.6: the PASS rows of
//
//	SEQTORCH_ATEN_DISCOVER=1 go run ./scripts/parity -run '^aten/'
//
// here and under `scripts/compat.sh env SEQTORCH_ATEN_DISCOVER=1 go run ./scripts/parity -run
// '^aten/'`, intersected. The candidates left out are refused by PyTorch itself with these
// inputs (shape or dtype requirements: 1-d, integer or complex inputs, a required string), give
// NaN on both sides (acosh of values below 1), or return complex tensors (seqtorch's DType has
// no complex types).

const atenSweepList = "scripts/internal/parity/cases/testdata/aten_sweep.txt"

// atenTol: Go and PyTorch run the same kernels on the same float64 inputs; only the order of
// parallel reductions may differ.
const atenTol = 1e-9

// AtenCUDATol is the sweep's tolerance when Go computes on a CUDA device (the -device flag)
// against PyTorch on the CPU: other kernels, float64 still.
const AtenCUDATol = 1e-7

func init() {
	discover := os.Getenv("SEQTORCH_ATEN_DISCOVER") != ""
	listed := map[string]bool{}
	if !discover {
		for _, id := range readSweepList() {
			listed[id] = true
		}
	}
	for _, o := range atenops.List {
		if !o.Method || (!discover && !listed[o.ID()]) {
			continue
		}
		p, ok := atenPlan(o)
		if !ok {
			continue
		}
		Register(Case{
			Name:  "aten/" + strings.TrimPrefix(o.ID(), "aten::"),
			Tol:   atenTol,
			Build: p.build,
			Check: p.check,
		})
	}
}

// readSweepList returns the operator ids of the sweep list (found from the working directory
// or the source file's, so that `go test` in this package finds it too).
func readSweepList() []string {
	path := atenSweepList
	if _, err := os.Stat(path); err != nil {
		_, file, _, _ := runtime.Caller(0)
		path = filepath.Join(filepath.Dir(file), "testdata", "aten_sweep.txt")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil // the registry test reports a short sweep
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			ids = append(ids, l)
		}
	}
	return ids
}

// atenArg is one argument of a sweep call: a tensor input (by name), a list of them, or a value.
type atenArg struct {
	T     string   `json:"t,omitempty"`     // an input tensor's name
	TL    []string `json:"tl,omitempty"`    // input tensors' names (Tensor[])
	V     any      `json:"v"`               // a number, bool, string or int list
	DType string   `json:"dtype,omitempty"` // a ScalarType
	None  bool     `json:"none,omitempty"`
	Name  string   `json:"name"`         // the schema's argument name
	Kw    bool     `json:"kw,omitempty"` // keyword-only: Python passes it by name
	goArg bool     // the Go wrapper takes it (Generator? arguments are not in its signature)
}

type atenCall struct {
	op     atenops.Op
	args   []atenArg
	inputs []string
}

// randomOps draw random numbers or return uninitialised memory: their results cannot match.
var randomOps = []string{"rand", "bernoulli", "dropout", "normal", "poisson", "multinomial", "uniform",
	"exponential", "geometric", "cauchy", "log_normal", "random", "empty", "resize", "rrelu"}

// atenPlan chooses the arguments of a sweep call of o, or reports that it cannot.
func atenPlan(o atenops.Op) (*atenCall, bool) {
	for _, r := range randomOps {
		if strings.Contains(o.Name, r) {
			return nil, false
		}
	}
	s, err := atenops.ParseSchema(o.Schema)
	if err != nil {
		return nil, false
	}
	for _, r := range s.Returns {
		if r.Type == "ScalarType" {
			return nil, false
		}
	}
	c := &atenCall{op: o}
	tensor := func() string {
		n := fmt.Sprintf("in%d", len(c.inputs))
		c.inputs = append(c.inputs, n)
		return n
	}
	for i, a := range s.Args {
		if a.Write && i > 0 {
			return nil, false // out= variants: the sweep compares functional results
		}
		v := atenArg{Name: a.Name, Kw: a.KwOnly, goArg: true}
		none := a.HasDef && a.Default == "None"
		switch {
		case i == 0:
			v.T = tensor()
		case none:
			v.None = true
			v.goArg = a.Type != "Generator?"
		case a.Type == "Tensor" || a.Type == "Tensor?":
			v.T = tensor()
		case a.Type == "Tensor[]":
			v.TL = []string{tensor(), tensor()}
		case a.Type == "int" || a.Type == "SymInt" || a.Type == "int?" || a.Type == "SymInt?":
			n := int64(1)
			if a.HasDef {
				d, err := strconv.ParseInt(a.Default, 10, 64)
				if err != nil {
					return nil, false
				}
				n = d
			}
			v.V = n
		case strings.HasPrefix(a.Type, "int[") || strings.HasPrefix(a.Type, "SymInt["):
			l := []int64{1}
			if a.Name == "size" || a.Name == "shape" {
				l = []int64{3, 4}
			}
			if a.HasDef {
				d, ok := parseIntList(a.Default)
				if !ok {
					return nil, false
				}
				l = d
			}
			v.V = l
		case a.Type == "float" || a.Type == "float?" || a.Type == "Scalar" || a.Type == "Scalar?":
			var x any = 0.5
			if a.HasDef {
				if n, err := strconv.ParseInt(a.Default, 10, 64); err == nil && a.Type != "float" && a.Type != "float?" {
					x = n
				} else if f, err := strconv.ParseFloat(a.Default, 64); err == nil {
					x = f
				} else {
					return nil, false
				}
			}
			v.V = x
		case a.Type == "bool" || a.Type == "bool?":
			b := false
			if a.HasDef {
				switch a.Default {
				case "True":
					b = true
				case "False":
				default:
					return nil, false
				}
			}
			v.V = b
		case a.Type == "ScalarType" && !a.HasDef:
			v.DType = "float64"
		case a.Type == "str" && a.HasDef && strings.HasPrefix(a.Default, `"`):
			str, err := strconv.Unquote(a.Default)
			if err != nil {
				return nil, false
			}
			v.V = str
		default:
			return nil, false
		}
		c.args = append(c.args, v)
	}
	return c, true
}

func parseIntList(s string) ([]int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return []int64{n}, true
	}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, false
	}
	out := []int64{}
	for _, f := range strings.Split(strings.Trim(s, "[]"), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

func (c *atenCall) build(dir string) error {
	torch.ManualSeed(1)
	in := &Dict{}
	for _, n := range c.inputs {
		in.Add(n, torch.Rand([]int64{3, 4}, torch.WithDType(torch.Float64)).AddScalar(0.1))
	}
	args := map[string]any{"name": c.op.Name, "overload": c.op.Overload, "args": c.args}
	return WriteInputs(dir, "aten", args, in)
}

func (c *atenCall) check(dir string) (d float64, err error) {
	defer Recover(&err)
	in, want, err := ReadBoth(dir)
	if err != nil {
		return 0, err
	}
	cmp := NewCmp(want)
	// Every tensor input becomes a leaf (requiring grad), and the op gets a copy of it (not a
	// leaf), so that in-place ops are allowed and differentiable, as on the PyTorch side.
	leaves := map[string]*torch.Tensor{}
	for _, n := range c.inputs {
		leaves[n] = onDevice(in.MustGet(n)).Clone().SetRequiresGrad(true)
	}
	self := leaves[c.args[0].T].Clone()
	m := reflect.ValueOf(self).MethodByName(c.op.GoName)
	if !m.IsValid() {
		return 0, fmt.Errorf("torch.Tensor has no method %s", c.op.GoName)
	}
	var vals []reflect.Value
	k := 0
	for _, a := range c.args[1:] {
		if !a.goArg {
			continue
		}
		pt := m.Type().In(k)
		k++
		v, err := goValue(a, pt, leaves)
		if err != nil {
			return 0, err
		}
		vals = append(vals, v)
	}
	var outs []*torch.Tensor
	for _, r := range m.Call(vals) {
		outs = append(outs, flatResult(r)...)
	}
	cmp.Scalar("nout", float64(len(outs)))
	var loss *torch.Tensor
	for i, o := range outs {
		cmp.T(fmt.Sprintf("out%d", i), o)
		if o.DType() == torch.Float64 && o.RequiresGrad() {
			s := o.Sum()
			if loss == nil {
				loss = s
			} else {
				loss = loss.Add(s)
			}
		}
	}
	hasGrad := want.Has("hasgrad")
	if hasGrad {
		cmp.Scalar("hasgrad", b2f(loss != nil))
	}
	if hasGrad && loss != nil {
		loss.Backward()
		for _, n := range c.inputs {
			key := "grad_" + n
			g := leaves[n].Grad()
			switch {
			case want.Has(key) && g != nil:
				cmp.T(key, g)
			case want.Has(key) != (g != nil):
				cmp.Err(fmt.Errorf("%s: PyTorch has a gradient: %v, Go: %v", n, want.Has(key), g != nil))
			}
		}
	}
	return cmp.Result(false)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// goValue converts a sweep argument to the Go parameter type pt of the wrapper.
func goValue(a atenArg, pt reflect.Type, leaves map[string]*torch.Tensor) (reflect.Value, error) {
	if a.None {
		return reflect.Zero(pt), nil
	}
	if a.T != "" {
		return reflect.ValueOf(leaves[a.T].Clone()), nil
	}
	if a.TL != nil {
		ts := make([]*torch.Tensor, len(a.TL))
		for i, n := range a.TL {
			ts[i] = leaves[n].Clone()
		}
		return reflect.ValueOf(ts), nil
	}
	if a.DType != "" {
		v := reflect.ValueOf(torch.Float64)
		if pt.Kind() == reflect.Pointer {
			p := reflect.New(pt.Elem())
			p.Elem().Set(v)
			return p, nil
		}
		return v, nil
	}
	v := reflect.ValueOf(a.V)
	if pt.Kind() == reflect.Interface { // Scalar
		return v, nil
	}
	base := pt
	if pt.Kind() == reflect.Pointer {
		base = pt.Elem()
	}
	if !v.Type().ConvertibleTo(base) {
		return reflect.Value{}, fmt.Errorf("sweep value %v (%T) does not fit parameter type %v", a.V, a.V, pt)
	}
	v = v.Convert(base)
	if pt.Kind() == reflect.Pointer {
		p := reflect.New(base)
		p.Elem().Set(v)
		return p, nil
	}
	return v, nil
}

// flatResult turns one Go result into tensors, as the PyTorch side flattens its results.
func flatResult(r reflect.Value) []*torch.Tensor {
	switch x := r.Interface().(type) {
	case *torch.Tensor:
		if x == nil {
			return nil
		}
		return []*torch.Tensor{x}
	case []*torch.Tensor:
		return x
	case int64:
		return []*torch.Tensor{torch.Scalar(float64(x), torch.WithDType(torch.Float64))}
	case float64:
		return []*torch.Tensor{torch.Scalar(x, torch.WithDType(torch.Float64))}
	case bool:
		return []*torch.Tensor{torch.Scalar(b2f(x), torch.WithDType(torch.Float64))}
	case nil:
		return nil
	default:
		panic(fmt.Sprintf("unexpected result type %T", x))
	}
}
