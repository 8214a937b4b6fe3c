// Package modelparity trains seqtorch's two models side by side with their PyTorch reference
// scripts, on the same libtorch, and compares the loss of every step. It is test support: the
// parity suite (scripts/parity), this package's tests and the benchmarks (scripts/bench,
// scripts/smsbench) use it; no package under models/ or train/ imports it.
//
// A Case writes an exchange folder (the initial weights as a torch.save state dict with
// PyTorch's names, the batches and the settings), trains on it in Go (GoLosses), and runs its
// reference script on the same folder (PyLosses):
//
//   - SMSSpec: the SMS classifier (models/smsrnn) against scripts/sms_ref.py;
//   - SiameseCase: the Siamese BiLSTM (models/siamese) against scripts/siamese_ref.py.
//
// Compare is the one comparison: the two loss sequences must have the same length and agree
// to within Tol at every step, and a NaN on either side fails, whatever the other side holds.
package modelparity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// Tol is the largest accepted |Go − PyTorch| of a step's loss.
const Tol = 1e-4

// Case is one model trained side by side in Go and in PyTorch.
type Case interface {
	// Name names the case, e.g. "sms/rnn-packed" or "siamese/tai-bilstm-max-adam".
	Name() string
	// Build creates the model and writes the exchange folder dir (created if missing).
	Build(dir string) error
	// GoLosses trains, in Go, the model Build wrote in dir and returns every step's loss.
	GoLosses(dir string) ([]float64, error)
	// PyLosses runs the reference script with python on dir and returns every step's loss.
	PyLosses(ctx context.Context, python, dir string) ([]float64, error)
}

// Cases returns every case: the SMS specs, then the Siamese cases.
func Cases() []Case {
	var out []Case
	for _, s := range Specs() {
		out = append(out, s)
	}
	for _, c := range SiameseCases() {
		out = append(out, c)
	}
	return out
}

// Result is one case's outcome: the largest loss difference and both loss sequences.
type Result struct {
	Diff   float64
	Go, Py []float64
}

// Run builds c in dir, trains it in Go and in PyTorch and compares the losses. The error is
// non-nil when a side fails or when Compare rejects the losses (then r holds them).
func Run(ctx context.Context, python, dir string, c Case) (r Result, err error) {
	if err := c.Build(dir); err != nil {
		return r, fmt.Errorf("%s: build: %w", c.Name(), err)
	}
	return Check(ctx, python, dir, c)
}

// Check trains the case Build wrote in dir in Go and in PyTorch and compares the losses.
func Check(ctx context.Context, python, dir string, c Case) (r Result, err error) {
	if r.Go, err = c.GoLosses(dir); err != nil {
		return r, fmt.Errorf("%s: Go: %w", c.Name(), err)
	}
	if r.Py, err = c.PyLosses(ctx, python, dir); err != nil {
		return r, fmt.Errorf("%s: PyTorch: %w", c.Name(), err)
	}
	r.Diff, err = Compare(r.Go, r.Py)
	if err != nil {
		return r, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return r, nil
}

// MaxAbsDiff returns the largest |a[i] − b[i]|. It is +Inf when a value on either side is NaN
// (even where both are) or the two disagree on an infinity; equal infinities differ by 0. It
// fails when the lengths differ.
func MaxAbsDiff(a, b []float64) (float64, error) {
	if len(a) != len(b) {
		return math.Inf(1), fmt.Errorf("%d values against %d", len(a), len(b))
	}
	var d float64
	for i := range a {
		switch x := math.Abs(a[i] - b[i]); {
		case math.IsNaN(a[i]) || math.IsNaN(b[i]):
			return math.Inf(1), nil
		case a[i] == b[i]:
		case x > d:
			d = x
		}
	}
	return d, nil
}

// Compare checks Go's losses against PyTorch's: the same number, none NaN, every step within
// Tol. It returns the largest difference (+Inf with a NaN).
func Compare(goL, pyL []float64) (float64, error) {
	d, err := MaxAbsDiff(goL, pyL)
	if err != nil {
		return d, fmt.Errorf("%d Go losses, %d PyTorch losses", len(goL), len(pyL))
	}
	for i := range goL {
		if math.IsNaN(goL[i]) || math.IsNaN(pyL[i]) {
			return d, fmt.Errorf("step %d: loss is NaN (Go %v, PyTorch %v)", i+1, goL[i], pyL[i])
		}
	}
	if len(goL) == 0 {
		return d, errors.New("no losses to compare")
	}
	if !(d <= Tol) {
		return d, fmt.Errorf("losses differ by %.3g > %g\nGo:      %v\nPyTorch: %v", d, Tol, goL, pyL)
	}
	return d, nil
}

// Python returns the interpreter that has PyTorch, by the Makefile's rule: $SEQTORCH_PYTHON,
// else $TORCH_PYTHON (the PyTorch whose libtorch `make libtorch` used), else /usr/bin/python3
// (Debian's python3-torch).
func Python() string {
	for _, k := range []string{"SEQTORCH_PYTHON", "TORCH_PYTHON"} {
		if p := os.Getenv(k); p != "" {
			return p
		}
	}
	return "/usr/bin/python3"
}

// HavePyTorch returns nil if python can import torch, else why not.
func HavePyTorch(python string) error {
	cmd := exec.Command(python, "-c", "import torch")
	cmd.Dir = os.TempDir() // never a folder whose torch/ would shadow PyTorch
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s cannot import torch (apt-get install python3-torch, or set SEQTORCH_PYTHON): %v: %s", python, err, lastLine(out))
	}
	return nil
}

func lastLine(b []byte) string {
	s := string(b)
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}

// Script finds scripts/NAME: beside this package's source (go run, go test), else in the
// working directory or one of its parents (a binary run from the checkout).
func Script(name string) (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", "..", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", name, err)
	}
	for {
		p := filepath.Join(dir, "scripts", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tried = append(tried, "scripts/"+name+" above the working directory")
			return "", fmt.Errorf("%s not found (tried %q)", name, tried)
		}
		dir = parent
	}
}

// runScript runs python script args... in dir with one libtorch, OpenMP and BLAS thread.
func runScript(ctx context.Context, python, name, dir string, args ...string) error {
	script, err := Script(name)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, python, append([]string{script}, args...)...)
	cmd.Dir = dir // never the repository root, whose torch/ folder would shadow PyTorch
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "PYTHONDONTWRITEBYTECODE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", python, script, err, out)
	}
	return nil
}

// nonFinite matches what Python's json module writes for non-finite floats (not JSON).
var nonFinite = regexp.MustCompile(`-?Infinity|NaN`)

// readPyJSON reads a JSON document that Python's json module wrote into v, whose float
// slices must have type floats: a NaN or infinite loss must reach Compare, not fail here.
func readPyJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(nonFinite.ReplaceAll(b, []byte(`"$0"`)), v); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

// floats is a JSON array of numbers in which "NaN", "Infinity" and "-Infinity" (readPyJSON's
// quoted forms of Python's tokens) stand for themselves.
type floats []float64

func (f *floats) UnmarshalJSON(b []byte) error {
	var raw []any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*f = make(floats, len(raw))
	for i, r := range raw {
		switch r := r.(type) {
		case float64:
			(*f)[i] = r
		case string:
			x, err := strconv.ParseFloat(r, 64)
			if err != nil || !nonFinite.MatchString(r) {
				return fmt.Errorf("element %d: %q is not a number", i, r)
			}
			(*f)[i] = x
		default:
			return fmt.Errorf("element %d: %v is not a number", i, r)
		}
	}
	return nil
}

// NewOptimizer returns the optimizer named name over params, with PyTorch's defaults besides
// the learning rate: "adam" (also the empty name) or "adadelta", as the reference scripts
// build them.
func NewOptimizer(name string, lr float64, params []*torch.Tensor) (optim.Optimizer, error) {
	switch name {
	case "adadelta":
		return optim.NewAdadelta(params, optim.AdadeltaOptions{LR: new(lr)})
	case "adam", "":
		return optim.NewAdam(params, optim.AdamOptions{LR: new(lr)})
	}
	return nil, fmt.Errorf("unknown optimizer %q (want adam or adadelta)", name)
}

// startTraining returns m's trainable parameters and the optimizer named name over them (free
// it with closeOptimizer), and puts m in training mode.
func startTraining(m nn.Module, name string, lr float64) ([]*torch.Tensor, optim.Optimizer, error) {
	params := nn.Trainable(m)
	opt, err := NewOptimizer(name, lr, params)
	if err != nil {
		return nil, nil, err
	}
	m.SetTraining(true)
	return params, opt, nil
}

// closeOptimizer frees the optimizer's state.
func closeOptimizer(o optim.Optimizer) {
	if c, ok := o.(interface{ Close() }); ok {
		c.Close()
	}
}

// PoisonWeights overwrites every floating-point tensor of dir/init.pt, the initial weights
// Build wrote, with NaN, so that both sides train on NaN weights and every loss is NaN.
// Tests use it to prove that a NaN loss fails the comparison.
func PoisonWeights(dir string) error {
	path := filepath.Join(dir, "init.pt")
	names, ts, err := torch.LoadDict(path)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range ts {
			t.Close()
		}
	}()
	n := 0
	err = torch.Try(func() {
		for _, t := range ts {
			if d := t.DType(); d == torch.Float32 || d == torch.Float64 {
				t.Fill(math.NaN())
				n++
			}
		}
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s has no floating-point tensor", path)
	}
	return torch.SaveDict(path, names, ts)
}
