// Command parity runs seqtorch's PyTorch parity suite: every case builds its inputs and initial
// weights in Go, PyTorch (scripts/parity_ref.py, one Python process for all cases) computes
// reference results from them, and Go computes its own and compares. The model/* cases, whole
// training runs of the two models, run their own reference scripts through
// scripts/internal/modelparity instead. It prints one row per case (name, largest absolute
// difference, PASS/FAIL) and a final "N passed, N failed" line, and exits with status 1 when a
// case fails.
//
// Usage (from the repository root; make parity does this):
//
//	go run ./scripts/parity [-run REGEXP] [-v] [-keep] [-list]
//
// The Python interpreter is modelparity.Python(): $SEQTORCH_PYTHON, else $TORCH_PYTHON, else
// /usr/bin/python3; it needs PyTorch, ideally the same version as the libtorch the shim links.
// Cases live in scripts/internal/parity/cases; see that package's documentation to add one.
// The ddp/* cases start this command again, once per rank, with SEQTORCH_PARITY_DDP set (see
// cases.DDPRankMain).
//
// # Cases
//
// Go builds inputs and initial weights, PyTorch (Debian's python3-torch on the same libtorch)
// computes the reference, and Go compares forward outputs, final states, gradients of every
// parameter and input, optimizer steps and whole training runs:
//
//   - {RNN tanh, RNN relu, LSTM, GRU} × {1, 2 layers} × {uni, bi} × {batch_first or not} ×
//     {padded, packed unsorted};
//   - every loss; every optimizer and gradient clipping; Embedding with padding_idx;
//     initialisation after manual_seed; the seed's reference RNN class; state dicts
//     Go → Python → Go;
//   - model/*: 20 training steps of the SMS and Siamese models, their poolings, the SMS model's
//     subwords and every Siamese head, the Tai head's entailment output included
//     (scripts/internal/modelparity runs scripts/sms_ref.py and scripts/siamese_ref.py for
//     these; every step's loss must agree to 1e-4);
//   - ddp/*: Go's data-parallel training against torch.nn.parallel.DistributedDataParallel over
//     gloo, 2 processes each;
//   - aten/*: a sweep of the generated ATen surface — 563 operators (every generated *Tensor
//     method whose arguments the sweep can fill and that PyTorch accepts on random float64 3×4
//     inputs, on both libtorch 1.13 and 2.6; scripts/internal/parity/cases/aten.go says how
//     the list is made) run on the same inputs in Go and in PyTorch
//     (torch.ops.aten.NAME.OVERLOAD), outputs and the gradients of their sum compared
//     (tolerance 1e-9, float64; all 0 when last run);
//   - inplace/*: in-place chains on non-leaf tensors (mul_, add_, masked_fill_, clamp_ and
//     chains of them) with the gradients of the leaves.
//
// A NaN on either side fails a comparison, even where both sides have it. Go and PyTorch call
// the same kernels, so the differences are 0 or a few ulps, except for the LSTM and GRU on the
// CPU, which run seqtorch's fused kernels (see scripts/bench's documentation, "Where the speed
// comes from"): their outputs and gradients are within 9.6e-7 of PyTorch's over the grid (the
// worst measured by `go run ./scripts/parity`: 9.54e-7, a GRU case). Under `make compat` the
// suite also checks that files written by torch.SaveDict and nn.SaveTorch load with PyTorch
// 2.6's torch.load (weights_only=True).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/seqtorch/seqtorch/scripts/internal/modelparity"
	"github.com/seqtorch/seqtorch/scripts/internal/parity/cases"
	"github.com/seqtorch/seqtorch/torch"
)

func main() {
	runtime.LockOSThread() // libtorch's grad mode is per OS thread
	cases.DDPRankMain()    // a rank of a ddp case, re-executed by the case's Check, ends here
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errFailed) {
			fmt.Fprintln(os.Stderr, "parity:", err)
		}
		os.Exit(1)
	}
}

var errFailed = errors.New("some cases failed")

type result struct {
	name   string
	diff   float64
	tol    float64
	err    error
	detail string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	filter := fs.String("run", "", "run only cases whose name matches this regular expression")
	verbose := fs.Bool("v", false, "print every compared entry's difference")
	keep := fs.Bool("keep", false, "keep the exchange directory (printed) for inspection")
	list := fs.Bool("list", false, "list the cases and exit")
	ref := fs.String("ref", "", "path of parity_ref.py (default: found next to this command's source)")
	timeout := fs.Duration("timeout", 10*time.Minute, "limit for the PyTorch run")
	device := fs.String("device", "cpu", "device of the Go side of the RNN grid: cpu or cuda[:N] (tolerance then 1e-4; PyTorch's reference stays on the CPU)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	dev, err := torch.ParseDevice(*device)
	if err != nil {
		return fmt.Errorf("-device: %w", err)
	}
	cases.Device = dev
	var re *regexp.Regexp
	if *filter != "" {
		var err error
		if re, err = regexp.Compile(*filter); err != nil {
			return fmt.Errorf("-run: %w", err)
		}
	}
	var selected []cases.Case
	for _, c := range cases.All() {
		if re == nil || re.MatchString(c.Name) {
			selected = append(selected, c)
		}
	}
	if *list {
		for _, c := range selected {
			fmt.Fprintln(stdout, c.Name)
		}
		return nil
	}
	if len(selected) == 0 {
		return fmt.Errorf("no case matches %q", *filter)
	}
	script, err := findRef(*ref)
	if err != nil {
		return err
	}
	python := modelparity.Python()
	if err := torch.SetNumThreads(1); err != nil {
		return err
	}

	root, err := os.MkdirTemp("", "seqtorch-parity-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintln(stderr, "exchange directory:", root)
	} else {
		defer os.RemoveAll(root)
	}

	start := time.Now()
	results := make([]result, len(selected))
	for i, c := range selected {
		results[i] = result{name: c.Name, tol: c.Tolerance()}
		if cases.Device.IsCUDA() && strings.HasPrefix(c.Name, "rnn/") {
			results[i].tol = max(results[i].tol, cases.CUDATol)
		}
		if cases.Device.IsCUDA() && strings.HasPrefix(c.Name, "aten/") {
			results[i].tol = max(results[i].tol, cases.AtenCUDATol)
		}
		dir := cases.Dir(root, c.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		results[i].err = guard(func() error { return c.Build(dir) })
		if results[i].err != nil {
			results[i].err = fmt.Errorf("build: %w", results[i].err)
		}
	}
	buildTime := time.Since(start)

	pyStart := time.Now()
	pyErr := runPython(ctx, *timeout, python, script, root)
	pyTime := time.Since(pyStart)

	checkStart := time.Now()
	for i, c := range selected {
		r := &results[i]
		if r.err != nil {
			continue
		}
		if pyErr != nil {
			r.err = pyErr
			continue
		}
		dir := cases.Dir(root, c.Name)
		cases.ResetDetail()
		r.err = guard(func() error {
			d, err := c.Check(dir)
			r.diff = d
			return err
		})
		r.detail = cases.LastDetail(*verbose)
	}
	checkTime := time.Since(checkStart)

	if b, err := os.ReadFile(filepath.Join(root, "_python.txt")); err == nil {
		fmt.Fprintf(stdout, "Go: libtorch %s (%s); reference: %s (%s)\n", torch.Version(), torch.BLAS(), strings.TrimSpace(string(b)), python)
	}
	width := len("case")
	for _, r := range results {
		width = max(width, len(r.name))
	}
	fmt.Fprintf(stdout, "%-*s  %12s  %s\n", width, "case", "max_abs_diff", "result")
	passed, failed := 0, 0
	worst, worstName := 0.0, ""
	for _, r := range results {
		ok := r.err == nil && r.diff <= r.tol
		status := "PASS"
		if !ok {
			status = "FAIL"
			failed++
		} else {
			passed++
		}
		diff := fmt.Sprintf("%12.3e", r.diff)
		if r.err != nil {
			diff = fmt.Sprintf("%12s", "-")
		} else if r.diff > worst || worstName == "" {
			worst, worstName = r.diff, r.name
		}
		fmt.Fprintf(stdout, "%-*s  %s  %s", width, r.name, diff, status)
		if r.tol != cases.DefaultTol {
			fmt.Fprintf(stdout, " (tol %.0e)", r.tol)
		}
		fmt.Fprintln(stdout)
		if r.err != nil {
			fmt.Fprintf(stdout, "    %s\n", strings.ReplaceAll(r.err.Error(), "\n", "\n    "))
		}
		if r.detail != "" && (*verbose || !ok) {
			fmt.Fprintln(stdout, indent(r.detail))
		}
	}
	if worstName != "" {
		fmt.Fprintf(stdout, "worst difference: %.3e (%s); time: build %.1fs, PyTorch %.1fs, Go %.1fs\n",
			worst, worstName, buildTime.Seconds(), pyTime.Seconds(), checkTime.Seconds())
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return errFailed
	}
	return nil
}

func indent(s string) string {
	if strings.HasPrefix(s, "    ") {
		return s
	}
	return "    " + s
}

// guard runs f inside a torch.Scope (freeing the case's tensors) with autograd on, turns a
// panic from libtorch or a missing input into an error, and reports tensors left open.
func guard(f func() error) (err error) {
	start := torch.Live()
	func() {
		s := torch.NewScope()
		defer s.Close()
		defer cases.Recover(&err)
		torch.SetGradEnabled(true)
		err = f()
	}()
	if n := torch.Live() - start; n != 0 && err == nil {
		err = fmt.Errorf("%d tensors left open (torch.Live went from %d to %d)", n, start, start+n)
	}
	return err
}

// findRef locates parity_ref.py: the flag's value, else next to this source file (go run),
// else scripts/parity_ref.py under the working directory.
func findRef(flagValue string) (string, error) {
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", fmt.Errorf("-ref: %w", err)
		}
		return flagValue, nil
	}
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "parity_ref.py"))
	}
	candidates = append(candidates, filepath.Join("scripts", "parity_ref.py"))
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("cannot find parity_ref.py (looked in %s); pass -ref", strings.Join(candidates, ", "))
}

// runPython runs parity_ref.py once over root. Per-case failures are written by the script
// into the cases' directories; an error here means the script as a whole did not run.
func runPython(ctx context.Context, timeout time.Duration, python, script, root string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	abs, err := filepath.Abs(script)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, python, abs, root)
	cmd.Dir = root // never the repository root, whose torch/ folder would shadow PyTorch
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		cmd.Env = append(cmd.Env, "OPENBLAS_NUM_THREADS=1")
	}
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = "..." + msg[len(msg)-2000:]
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("PyTorch side (%s %s) timed out after %v", python, abs, timeout)
		}
		return fmt.Errorf("PyTorch side (%s %s) failed: %v\n%s", python, abs, err, msg)
	}
	return nil
}
