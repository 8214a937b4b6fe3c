package torch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var updatePrint = flag.Bool("update-print", false, "rewrite testdata/print_repr.json from PyTorch's repr (needs Python with torch)")

// printCase is one tensor to print: float64 values reshaped to shape, converted to dtype, with
// requires_grad set on the leaf when grad is, printed under opts.
type printCase struct {
	name  string
	vals  []float64
	shape []int64
	dtype DType
	grad  bool
	opts  PrintOptions
}

// printMagnitudes are the value patterns of the grid (index i of n elements).
var printMagnitudes = []struct {
	name    string
	intOK   bool // representable in every integer dtype (no nan, inf, fractions or overflow)
	signed  bool // has negative values (not for uint8)
	element func(i, n int) float64
}{
	{"ints", true, false, func(i, n int) float64 { return float64(i % 10) }},
	{"negints", true, true, func(i, n int) float64 { return float64(i%13 - 6) }},
	{"frac", false, true, func(i, n int) float64 { return float64(i)*0.37 - 1.1 }},
	{"tiny", false, false, func(i, n int) float64 { return float64(i+1) * 1e-5 }},
	{"big", false, false, func(i, n int) float64 { return float64(i+1) * 1.5e8 }},
	{"bigint", false, false, func(i, n int) float64 { return float64(i+1) * 1e5 }},
	{"mixed", false, true, func(i, n int) float64 {
		return []float64{1e-3, -123.456, 7, 0.5}[i%4]
	}},
	{"negative", false, true, func(i, n int) float64 { return -float64(i+1) * 0.25 }},
	{"naninf", false, true, func(i, n int) float64 {
		return []float64{math.NaN(), 1.5, math.Inf(1), 0, -2.25, math.Inf(-1)}[i%6]
	}},
	{"naninf_int", false, true, func(i, n int) float64 {
		return []float64{math.NaN(), 3, math.Inf(-1), 12}[i%4]
	}},
	{"nonfinite", false, true, func(i, n int) float64 {
		return []float64{math.NaN(), math.Inf(1), 0, math.Inf(-1)}[i%4]
	}},
	{"zeros", true, false, func(i, n int) float64 { return 0 }},
}

var printShapes = [][]int64{
	{},             // 0-dim
	{5},            // 1-dim
	{3, 4},         // 2-dim
	{2, 3, 4},      // 3-dim
	{0},            // empty
	{0, 3},         // empty, 2-dim
	{2, 0, 4},      // empty, 3-dim
	{7, 20},        // wrapped rows
	{1001},         // summarized, 1-dim
	{40, 30},       // summarized, 2-dim
	{12, 10, 11},   // summarized, 3-dim
	{2, 700},       // summarized in one dimension only
	{2, 2, 2, 150}, // 4-dim, summarized last dimension
}

// smallShapes are the shapes printed for every dtype; the rest only for float32, float64,
// int64 and bool.
var smallShapes = map[string]bool{"scalar": true, "5": true, "3x4": true, "0": true, "0x3": true, "1001": true, "2x700": true}

func printCases() []printCase {
	var cases []printCase
	add := func(c printCase) {
		n := int(numel(c.shape))
		if c.vals == nil {
			c.vals = make([]float64, 0, n)
		}
		cases = append(cases, c)
	}
	shapeName := func(s []int64) string {
		if len(s) == 0 {
			return "scalar"
		}
		p := make([]string, len(s))
		for i, d := range s {
			p[i] = strconv.FormatInt(d, 10)
		}
		return strings.Join(p, "x")
	}
	values := func(m int, shape []int64) []float64 {
		n := int(numel(shape))
		v := make([]float64, n)
		for i := range v {
			v[i] = printMagnitudes[m].element(i, n)
		}
		return v
	}
	for _, dt := range []DType{Float32, Float64, Float16, Int64, Int32, Uint8, Bool} {
		floating := dt == Float32 || dt == Float64 || dt == Float16
		for m, mag := range printMagnitudes {
			if !floating && (!mag.intOK || (dt == Uint8 && mag.signed)) {
				continue
			}
			if dt == Float16 && (mag.name == "big" || mag.name == "bigint") {
				continue // beyond float16's range: inf, covered by naninf
			}
			for _, s := range printShapes {
				if (dt == Float16 || dt == Int32 || dt == Uint8) && !smallShapes[shapeName(s)] {
					continue // the same layout code as float32 and int64: fewer shapes
				}
				add(printCase{name: fmt.Sprintf("%v/%s/%s", dt, mag.name, shapeName(s)), vals: values(m, s), shape: s, dtype: dt})
			}
		}
	}
	// requires_grad on a leaf, with suffixes that wrap onto a new line.
	for _, dt := range []DType{Float32, Float64, Float16} {
		for _, m := range []int{0, 2, 3} {
			for _, s := range [][]int64{{}, {5}, {3, 4}, {0, 3}, {7}, {8}, {9}, {40, 30}} {
				add(printCase{name: fmt.Sprintf("grad/%v/%s/%s", dt, printMagnitudes[m].name, shapeName(s)),
					vals: values(m, s), shape: s, dtype: dt, grad: true})
			}
		}
	}
	// Print options, as torch.set_printoptions.
	opts := []struct {
		name string
		o    PrintOptions
	}{
		{"precision2", PrintOptions{Precision: 2}},
		{"precision8", PrintOptions{Precision: 8}},
		{"threshold5", PrintOptions{Threshold: 5}},
		{"edge1", PrintOptions{EdgeItems: 1, Threshold: 10}},
		{"edge10", PrintOptions{EdgeItems: 10}},
		{"linewidth40", PrintOptions{Linewidth: 40}},
		{"linewidth200", PrintOptions{Linewidth: 200}},
		{"scion", PrintOptions{SciMode: SciOn}},
		{"scioff", PrintOptions{SciMode: SciOff}},
		{"full", PrintOptions{Threshold: math.MaxInt32}},
	}
	optCases := []struct {
		dt   DType
		mags []int
	}{
		{Float32, []int{0, 2, 3, 4, 8}},
		{Float64, []int{2}},
		{Int64, []int{1}},
	}
	for _, op := range opts {
		for _, oc := range optCases {
			if op.name == "full" && oc.dt != Float32 {
				continue
			}
			for _, m := range oc.mags {
				for _, s := range [][]int64{{}, {5}, {3, 4}, {30}, {1001}, {2, 3, 7}} {
					add(printCase{name: fmt.Sprintf("opts/%s/%v/%s/%s", op.name, oc.dt, printMagnitudes[m].name, shapeName(s)),
						vals: values(m, s), shape: s, dtype: oc.dt, opts: op.o, grad: oc.dt == Float64 && len(s) == 2})
				}
			}
		}
	}
	return cases
}

// goTensor builds c's tensor as scripts/print_ref.py builds it in PyTorch.
func (c printCase) goTensor() *Tensor {
	f := FromSlice(c.vals, int64(len(c.vals)))
	defer f.Close()
	r := f.Reshape(c.shape...)
	defer r.Close()
	x := r.ToDType(c.dtype)
	if c.grad {
		x.SetRequiresGrad(true)
	}
	return x
}

// input is c in print_ref.py's JSON form.
func (c printCase) input() map[string]any {
	vals := make([]string, len(c.vals))
	for i, v := range c.vals {
		vals[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	in := map[string]any{"name": c.name, "vals": vals, "shape": append([]int64{}, c.shape...), "dtype": c.dtype.String(), "grad": c.grad}
	o := map[string]any{}
	if c.opts.Precision != 0 {
		o["precision"] = c.opts.Precision
	}
	if c.opts.Threshold != 0 {
		o["threshold"] = c.opts.Threshold
	}
	if c.opts.EdgeItems != 0 {
		o["edgeitems"] = c.opts.EdgeItems
	}
	if c.opts.Linewidth != 0 {
		o["linewidth"] = c.opts.Linewidth
	}
	if c.opts.SciMode != SciAuto {
		o["sci_mode"] = c.opts.SciMode == SciOn
	}
	in["opts"] = o
	return in
}

// inputHash identifies c's input in the goldens, so that a changed case cannot be checked
// against a stale golden.
func (c printCase) inputHash() string {
	b, err := json.Marshal(c.input())
	if err != nil {
		panic(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

const printGoldens = "testdata/print_repr.json"

type printGolden struct {
	Input string `json:"input"`
	Repr  string `json:"repr"`
}

// testPython returns the interpreter with PyTorch by the Makefile's rule ($SEQTORCH_PYTHON,
// else $TORCH_PYTHON, else /usr/bin/python3), or "" and why not when it cannot import torch.
func testPython() (string, string) {
	py := "/usr/bin/python3"
	for _, k := range []string{"SEQTORCH_PYTHON", "TORCH_PYTHON"} {
		if p := os.Getenv(k); p != "" {
			py = p
			break
		}
	}
	cmd := exec.Command(py, "-c", "import torch")
	cmd.Dir = os.TempDir() // never a folder whose torch/ would shadow PyTorch
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("%s cannot import torch: %v: %s", py, err, bytes.TrimSpace(out))
	}
	return py, ""
}

// pythonReprs runs scripts/print_ref.py on the cases.
func pythonReprs(t *testing.T, py string, cases []printCase) map[string]string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "scripts", "print_ref.py"))
	if err != nil {
		t.Fatal(err)
	}
	in := make([]map[string]any, len(cases))
	for i, c := range cases {
		in[i] = c.input()
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script)
	cmd.Dir = os.TempDir()
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", py, script, err, stderr.String())
	}
	var reprs map[string]string
	if err := json.Unmarshal(out, &reprs); err != nil {
		t.Fatalf("print_ref.py output: %v", err)
	}
	return reprs
}

// TestPrintParity compares String with PyTorch's repr over a grid of shapes, dtypes,
// magnitudes, requires_grad and print options: live when Python with torch is at hand (and
// then also checks that the committed goldens are PyTorch's current output), else against the
// goldens that print_ref.py wrote (go test ./torch -run PrintParity -update-print).
func TestPrintParity(t *testing.T) {
	cases := printCases()
	var goldens map[string]printGolden
	if b, err := os.ReadFile(printGoldens); err == nil {
		if err := json.Unmarshal(b, &goldens); err != nil {
			t.Fatalf("%s: %v", printGoldens, err)
		}
	} else if !*updatePrint {
		t.Fatalf("%v (write it with: go test ./torch -run PrintParity -update-print)", err)
	}
	want := map[string]string{}
	py, why := testPython()
	if py == "" {
		if *updatePrint {
			t.Fatalf("-update-print: %s", why)
		}
		t.Logf("comparing with the goldens in %s (%s)", printGoldens, why)
		for _, c := range cases {
			g, ok := goldens[c.name]
			if !ok || g.Input != c.inputHash() {
				t.Fatalf("%s: no golden for case %s as defined now; regenerate with -update-print", printGoldens, c.name)
			}
			want[c.name] = g.Repr
		}
	} else {
		want = pythonReprs(t, py, cases)
		fresh := map[string]printGolden{}
		for _, c := range cases {
			fresh[c.name] = printGolden{Input: c.inputHash(), Repr: want[c.name]}
		}
		if *updatePrint {
			b, err := json.MarshalIndent(fresh, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(printGoldens, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if len(goldens) != len(fresh) {
			t.Errorf("%s holds %d cases, the test defines %d: regenerate with -update-print", printGoldens, len(goldens), len(fresh))
		} else {
			for name, g := range fresh {
				if goldens[name] != g {
					t.Errorf("%s: case %s is stale: regenerate with -update-print", printGoldens, name)
					break
				}
			}
		}
	}
	checkLive(t)
	defer SetPrintOptions(SetPrintOptions(PrintOptions{}))
	bad := 0
	for _, c := range cases {
		x := c.goTensor()
		SetPrintOptions(c.opts)
		live := Live()
		got := fmt.Sprint(x)
		if Live() != live {
			t.Errorf("%s: Live() went from %d to %d while printing", c.name, live, Live())
		}
		x.Close()
		if w, ok := want[c.name]; !ok {
			t.Errorf("%s: PyTorch gave no repr", c.name)
		} else if got != w {
			if bad++; bad <= 20 {
				t.Errorf("%s:\ngot:\n%s\nPyTorch:\n%s", c.name, got, w)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d cases differ from PyTorch", bad, len(cases))
	}
	t.Logf("%d cases", len(cases))
}

// TestStringEdgeCases checks the strings that need no PyTorch: closed and nil tensors, and
// that printing leaves Live unchanged inside a Scope too.
func TestStringEdgeCases(t *testing.T) {
	checkLive(t)
	x := FromSlice([]float32{1, 2, 3})
	cases := []struct {
		name string
		t    *Tensor
		want string
	}{
		{"open", x, "tensor([1., 2., 3.])"},
		{"nil", nil, "<nil>"},
		{"zero", &Tensor{}, "tensor(<closed>)"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(c.t); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	x.Close()
	if got := x.String(); got != "tensor(<closed>)" {
		t.Errorf("closed: %q", got)
	}
	s := NewScope()
	y := Ones([]int64{2000})
	live := Live()
	if got := y.String(); got != "tensor([1., 1., 1.,  ..., 1., 1., 1.])" {
		t.Errorf("in a scope: %q", got)
	}
	if Live() != live {
		t.Errorf("Live() went from %d to %d while printing in a scope", live, Live())
	}
	s.Close()
}

// TestPrintOptionsConcurrent prints from several goroutines while another changes the
// options: each string is one of the two complete renderings (run with -race).
func TestPrintOptionsConcurrent(t *testing.T) {
	checkLive(t)
	defer SetPrintOptions(SetPrintOptions(PrintOptions{}))
	x := FromSlice([]float64{1.5, 2.25, 3})
	defer x.Close()
	ok := map[string]bool{
		"tensor([1.5000, 2.2500, 3.0000], dtype=torch.float64)": true,
		"tensor([1.50, 2.25, 3.00], dtype=torch.float64)":       true,
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			SetPrintOptions(PrintOptions{Precision: 2 + 2*(i%2)})
		}
	}()
	var pw sync.WaitGroup
	for g := 0; g < 4; g++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for i := 0; i < 50; i++ {
				if s := x.String(); !ok[s] {
					t.Errorf("unexpected rendering %q", s)
					return
				}
			}
		}()
	}
	pw.Wait()
	close(done)
	wg.Wait()
}

// TestPrintSuffixes checks the device suffix, which needs a GPU to compare with PyTorch.
func TestPrintSuffixes(t *testing.T) {
	if got := addSuffixes("tensor([1., 2.]", []string{"device='cuda:0'", "requires_grad=True"}, 7, 80); got != "tensor([1., 2.], device='cuda:0', requires_grad=True)" {
		t.Errorf("suffixes: %q", got)
	}
	if got := pyTuple([]int64{0}); got != "(0,)" {
		t.Errorf("pyTuple: %q", got)
	}
}

// BenchmarkPrint measures String for a small tensor and for a summarized 1000×1000 one (which
// copies only the 6×6 printed corner to the host).
func BenchmarkPrint(b *testing.B) {
	for _, shape := range [][]int64{{3, 4}, {1000, 1000}} {
		x := Ones(shape)
		b.Run(fmt.Sprint(shape), func(b *testing.B) {
			for b.Loop() {
				_ = x.String()
			}
		})
		x.Close()
	}
}
