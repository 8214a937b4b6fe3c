// Package cases holds the parity suite's cases: each builds inputs in Go, lets PyTorch compute
// reference results (scripts/parity_ref.py), and compares Go's own results with them.
//
// # Adding a case
//
// Register a Case from an init function in a file of this package:
//
//	func init() {
//		Register(Case{
//			Name:  "mse/mean",          // unique; also the case's directory name
//			Build: func(dir string) error { ... WriteInputs(dir, "loss", args, inputs) },
//			Check: func(dir string) (float64, error) { ... compare with ReadOutputs(dir) },
//		})
//	}
//
// Build writes dir/spec.json ({"kind": ..., "args": ...}) and dir/in.pt (a dict of tensors in
// torch.save's format) with WriteInputs. parity_ref.py runs the handler registered for the
// kind (@handler("kind") there; add one for a new kind) and writes dir/out.pt, or
// dir/error.txt when it fails. Check recomputes the results in Go from dir/in.pt (ReadInputs)
// and compares them with dir/out.pt through a Cmp. Build and Check run inside a torch.Scope
// that the runner closes, so cases need not free tensors; they share nothing but files.
package cases

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/seqtorch/seqtorch/scripts/internal/modelparity"
	"github.com/seqtorch/seqtorch/torch"
)

// DefaultTol is the largest absolute difference a case accepts unless it states its own.
const DefaultTol = 1e-5

// CUDATol is the tolerance of the cases that run on a CUDA device (Device): cuDNN's recurrent
// kernels sum in another order than the CPU kernels PyTorch's reference uses.
const CUDATol = 1e-4

// Device is where the RNN grid computes its Go side (the runner's -device flag). PyTorch's
// reference always runs on the CPU; results are copied back before comparing. Other cases
// ignore it.
var Device = torch.CPU

// onDevice returns t moved to Device (t itself on the CPU).
func onDevice(t *torch.Tensor) *torch.Tensor {
	if !Device.IsCUDA() {
		return t
	}
	return t.To(Device)
}

// Case is one parity check.
type Case struct {
	Name  string                            // unique; letters, digits and - _ . / only
	Tol   float64                           // largest accepted |Go − PyTorch|; 0 means DefaultTol
	Build func(dir string) error            // writes spec.json and in.pt for Python
	Check func(dir string) (float64, error) // returns the largest |Go − PyTorch| seen
}

// Tolerance returns the case's tolerance.
func (c Case) Tolerance() float64 {
	if c.Tol > 0 {
		return c.Tol
	}
	return DefaultTol
}

var (
	registry []Case
	validRe  = regexp.MustCompile(`^[A-Za-z0-9_.\-/]+$`)
)

// Register adds a case to the suite. It panics on a duplicate or malformed name or a missing
// function: registration happens in init functions, where that is a programming error.
func Register(c Case) {
	if !validRe.MatchString(c.Name) || strings.Contains(c.Name, "..") {
		panic(fmt.Sprintf("parity: case name %q: use letters, digits and - _ . / only", c.Name))
	}
	if c.Build == nil || c.Check == nil {
		panic(fmt.Sprintf("parity: case %q needs Build and Check", c.Name))
	}
	for _, o := range registry {
		if o.Name == c.Name {
			panic(fmt.Sprintf("parity: case %q registered twice", c.Name))
		}
	}
	registry = append(registry, c)
}

// All returns the registered cases sorted by name.
func All() []Case {
	out := slices.Clone(registry)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Dir returns the directory of case name under root (the name's slashes become "__").
func Dir(root, name string) string { return filepath.Join(root, strings.ReplaceAll(name, "/", "__")) }

// ---- files exchanged with Python ----

// Dict is an ordered set of named tensors.
type Dict struct {
	Names []string
	Ts    []*torch.Tensor
}

// Add appends a named tensor and returns d.
func (d *Dict) Add(name string, t *torch.Tensor) *Dict {
	d.Names = append(d.Names, name)
	d.Ts = append(d.Ts, t)
	return d
}

// Get returns the tensor named name.
func (d *Dict) Get(name string) (*torch.Tensor, error) {
	if i := slices.Index(d.Names, name); i >= 0 {
		return d.Ts[i], nil
	}
	return nil, fmt.Errorf("no tensor %q (have %s)", name, strings.Join(d.Names, ", "))
}

// Has reports whether d holds name.
func (d *Dict) Has(name string) bool { return slices.Contains(d.Names, name) }

// MustGet returns the tensor named name, or panics with an error that Check's caller reports.
// Use it inside Check functions for inputs the case itself wrote.
func (d *Dict) MustGet(name string) *torch.Tensor {
	t, err := d.Get(name)
	if err != nil {
		panic(caseError{err})
	}
	return t
}

// caseError is a panic value that the runner turns into the case's error.
type caseError struct{ error }

// Recover turns a panic inside Build or Check (a *torch.Error or a MustGet failure) into an
// error; other panics propagate.
func Recover(err *error) {
	if r := recover(); r != nil {
		var te *torch.Error
		switch e := r.(type) {
		case caseError:
			*err = e.error
		case error:
			if errors.As(e, &te) {
				*err = te
				return
			}
			panic(r)
		default:
			panic(r)
		}
	}
}

type spec struct {
	Kind string `json:"kind"`
	Args any    `json:"args"`
}

// WriteInputs writes dir/spec.json with the handler kind and its arguments (any value
// encoding/json accepts) and dir/in.pt with the tensors.
func WriteInputs(dir, kind string, args any, in *Dict) error {
	b, err := json.MarshalIndent(spec{Kind: kind, Args: args}, "", "  ")
	if err != nil {
		return fmt.Errorf("spec for %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "spec.json"), b, 0o644); err != nil {
		return err
	}
	if in == nil {
		in = &Dict{}
	}
	return torch.SaveDict(filepath.Join(dir, "in.pt"), in.Names, in.Ts)
}

// ReadArgs decodes the args of dir/spec.json into v.
func ReadArgs(dir string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil {
		return err
	}
	s := struct {
		Args json.RawMessage `json:"args"`
	}{}
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "spec.json"), err)
	}
	if err := json.Unmarshal(s.Args, v); err != nil {
		return fmt.Errorf("%s: args: %w", filepath.Join(dir, "spec.json"), err)
	}
	return nil
}

// ReadInputs loads dir/in.pt, the tensors Build wrote.
func ReadInputs(dir string) (*Dict, error) { return readDict(filepath.Join(dir, "in.pt")) }

// ReadBoth loads the case's inputs (ReadInputs) and PyTorch's results (ReadOutputs).
func ReadBoth(dir string) (in, want *Dict, err error) {
	if in, err = ReadInputs(dir); err != nil {
		return nil, nil, err
	}
	if want, err = ReadOutputs(dir); err != nil {
		return nil, nil, err
	}
	return in, want, nil
}

// ReadOutputs loads dir/out.pt, PyTorch's results, or returns the error parity_ref.py
// recorded for the case.
func ReadOutputs(dir string) (*Dict, error) {
	if b, err := os.ReadFile(filepath.Join(dir, "error.txt")); err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return nil, fmt.Errorf("PyTorch side failed: %s", lines[len(lines)-1])
	}
	p := filepath.Join(dir, "out.pt")
	if _, err := os.Stat(p); err != nil {
		return nil, fmt.Errorf("PyTorch wrote no results: %w", err)
	}
	return readDict(p)
}

func readDict(path string) (*Dict, error) {
	names, ts, err := torch.LoadDict(path)
	if err != nil {
		return nil, err
	}
	return &Dict{Names: names, Ts: ts}, nil
}

// ---- comparison ----

// Cmp compares Go's tensors with PyTorch's results and tracks the largest difference.
type Cmp struct {
	want  *Dict
	max   float64
	worst string
	lines []string
	errs  []error
	used  map[string]bool
}

// NewCmp returns a comparer against PyTorch's results want.
func NewCmp(want *Dict) *Cmp {
	c := &Cmp{want: want, used: map[string]bool{}}
	last = c
	return c
}

var last *Cmp

// ResetDetail forgets the last comparison; the runner calls it before each Check.
func ResetDetail() { last = nil }

// LastDetail describes the most recent comparison: the entry with the largest difference
// and, when verbose is set, every entry's difference.
func LastDetail(verbose bool) string {
	if last == nil {
		return ""
	}
	if verbose {
		return strings.Join(last.lines, "\n")
	}
	if last.worst == "" {
		return ""
	}
	return "worst: " + last.worst
}

// T compares got with PyTorch's result name (shapes must match; dtypes are compared as
// float64 values).
func (c *Cmp) T(name string, got *torch.Tensor) {
	c.used[name] = true
	want, err := c.want.Get(name)
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("PyTorch result: %w", err))
		return
	}
	d, err := MaxAbsDiff(got, want)
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", name, err))
		return
	}
	c.Value(name, d)
}

// Value records a difference computed by the case itself.
func (c *Cmp) Value(name string, d float64) {
	if math.IsNaN(d) {
		d = math.Inf(1)
	}
	c.lines = append(c.lines, fmt.Sprintf("    %-32s %.3g", name, d))
	if c.worst == "" || d > c.max {
		c.max, c.worst = d, fmt.Sprintf("%s (%.3g)", name, d)
	}
}

// Scalar compares a Go number with PyTorch's one-element result name.
func (c *Cmp) Scalar(name string, got float64) {
	c.used[name] = true
	want, err := c.want.Get(name)
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("PyTorch result: %w", err))
		return
	}
	var w float64
	if err := torch.Try(func() { w = want.Item() }); err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", name, err))
		return
	}
	c.Value(name, math.Abs(got-w))
}

// Err records a failure of the Go side.
func (c *Cmp) Err(err error) {
	if err != nil {
		c.errs = append(c.errs, err)
	}
}

// Result returns the largest difference and the errors seen, including PyTorch results that
// were never compared when requireAll is set.
func (c *Cmp) Result(requireAll bool) (float64, error) {
	if requireAll {
		for _, n := range c.want.Names {
			if !c.used[n] {
				c.errs = append(c.errs, fmt.Errorf("PyTorch result %q was not compared", n))
			}
		}
	}
	if c.worst == "" && len(c.errs) == 0 {
		c.errs = append(c.errs, errors.New("nothing was compared"))
	}
	return c.max, errors.Join(c.errs...)
}

// MaxAbsDiff returns max |got − want| over all elements with modelparity.MaxAbsDiff: +Inf
// where either holds a NaN (even where both do) or they disagree on an infinity. Shapes must
// match.
func MaxAbsDiff(got, want *torch.Tensor) (float64, error) {
	var gs, ws []int64
	var g, w []float64
	err := torch.Try(func() {
		gs, ws = got.Shape(), want.Shape()
		if slices.Equal(gs, ws) {
			g = got.Detach().ToDType(torch.Float64).Float64s()
			w = want.Detach().ToDType(torch.Float64).Float64s()
		}
	})
	if err != nil {
		return 0, err
	}
	if !slices.Equal(gs, ws) {
		return 0, fmt.Errorf("shape %v, PyTorch has %v", gs, ws)
	}
	return modelparity.MaxAbsDiff(g, w)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
