package smsparity

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
)

// python returns the interpreter with PyTorch, or skips the test.
func python(t *testing.T) string {
	t.Helper()
	py := os.Getenv("SEQTORCH_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skipf("no PyTorch for %s (install python3-torch): %v", py, err)
	}
	return py
}

// TestParityPyTorch trains each case 20 steps in Go and in PyTorch from the same weights on the
// same batches and compares the losses.
func TestParityPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python three times; skipped with -short")
	}
	py := python(t)
	script, err := filepath.Abs(filepath.Join("..", "sms_ref.py"))
	if err != nil {
		t.Fatal(err)
	}
	start := torch.Live()
	for _, s := range Specs() {
		t.Run(s.Name, func(t *testing.T) {
			diff, goL, pyL, err := Run(context.Background(), py, script, t.TempDir(), s)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("max |Go − PyTorch| over %d losses: %.3g (first %.6f / %.6f, last %.6f / %.6f)",
				len(goL), diff, goL[0], pyL[0], goL[len(goL)-1], pyL[len(pyL)-1])
			if diff > Tol {
				t.Errorf("losses differ by %.3g > %g\nGo: %v\nPy: %v", diff, Tol, goL, pyL)
			}
		})
	}
	if got := torch.Live(); got != start {
		t.Errorf("torch.Live() = %d, want %d", got, start)
	}
}

func TestCompare(t *testing.T) {
	if d, err := Compare([]float64{1, 2}, []float64{1, 2.5}); err != nil || d != 0.5 {
		t.Errorf("Compare = %v, %v", d, err)
	}
	if _, err := Compare([]float64{1}, nil); err == nil {
		t.Error("length mismatch accepted")
	}
}
