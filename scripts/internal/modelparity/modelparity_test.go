package modelparity

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch/torchtest"
)

var nan, inf = math.NaN(), math.Inf(1)

func TestMaxAbsDiff(t *testing.T) {
	for _, c := range []struct {
		name    string
		a, b    []float64
		want    float64
		wantErr bool
	}{
		{"equal", []float64{1, 2}, []float64{1, 2}, 0, false},
		{"largest", []float64{1, 2, 3}, []float64{1.25, 2.5, 3}, 0.5, false},
		{"empty", nil, nil, 0, false},
		{"NaN on the Go side", []float64{nan, 2}, []float64{1, 2}, inf, false},
		{"NaN on the PyTorch side", []float64{1, 2}, []float64{1, nan}, inf, false},
		{"NaN on both sides", []float64{1, nan}, []float64{1, nan}, inf, false},
		{"NaN after a large difference", []float64{0, nan}, []float64{5, nan}, inf, false},
		{"equal infinities", []float64{inf}, []float64{inf}, 0, false},
		{"opposite infinities", []float64{inf}, []float64{-inf}, inf, false},
		{"lengths differ", []float64{1}, []float64{1, 2}, inf, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := MaxAbsDiff(c.a, c.b)
			if got != c.want || (err != nil) != c.wantErr {
				t.Errorf("MaxAbsDiff(%v, %v) = %v, %v; want %v, error %v", c.a, c.b, got, err, c.want, c.wantErr)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		name    string
		goL, py []float64
		wantErr string // "" when the losses must be accepted
	}{
		{"agree", []float64{0.7, 0.6}, []float64{0.7, 0.6 + Tol/2}, ""},
		{"differ", []float64{0.7, 0.6}, []float64{0.7, 0.6 + 2*Tol}, "differ by"},
		{"NaN in Go", []float64{0.7, nan}, []float64{0.7, 0.6}, "step 2: loss is NaN"},
		{"NaN in PyTorch", []float64{0.7, 0.6}, []float64{nan, 0.6}, "step 1: loss is NaN"},
		{"NaN on both sides", []float64{nan, nan}, []float64{nan, nan}, "step 1: loss is NaN"},
		{"lengths differ", []float64{0.7}, []float64{0.7, 0.6}, "1 Go losses, 2 PyTorch losses"},
		{"nothing", nil, nil, "no losses"},
		{"both infinite", []float64{inf}, []float64{inf}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compare(c.goL, c.py)
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("Compare(%v, %v): %v", c.goL, c.py, err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("Compare(%v, %v) = %v, want an error with %q", c.goL, c.py, err, c.wantErr)
			}
		})
	}
}

// TestCases checks the list: unique names, both models, every Siamese loss head, both
// optimizers for each model.
func TestCases(t *testing.T) {
	seen := map[string]bool{}
	opts := map[string]bool{}
	for _, c := range Cases() {
		if seen[c.Name()] {
			t.Errorf("two cases named %s", c.Name())
		}
		seen[c.Name()] = true
		switch c := c.(type) {
		case SMSSpec:
			opts["sms/"+c.Optimizer] = true
		case SiameseCase:
			opts["siamese/"+c.Config.Optimizer] = true
		}
	}
	for _, want := range []string{"sms/adam", "sms/adadelta", "siamese/adam", "siamese/adadelta"} {
		if !opts[want] {
			t.Errorf("no %s case", want)
		}
	}
	for _, head := range []string{"malstm", "contrastive", "triplet", "tai"} {
		if !slices.ContainsFunc(SiameseCases(), func(c SiameseCase) bool { return c.Config.Loss == head }) {
			t.Errorf("no siamese case for the %s head", head)
		}
	}
}

// TestGoSide builds every case and trains it in Go (no Python needed): finite losses, the same
// on a second run, and no tensor left alive.
func TestGoSide(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, c := range Cases() {
		t.Run(c.Name(), func(t *testing.T) {
			torchtest.CheckLive(t)
			dir := t.TempDir()
			if err := c.Build(dir); err != nil {
				t.Fatal(err)
			}
			a, err := c.GoLosses(dir)
			if err != nil {
				t.Fatal(err)
			}
			b, err := c.GoLosses(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != 20 {
				t.Fatalf("%d losses, want 20", len(a))
			}
			for i, l := range a {
				if math.IsNaN(l) || math.IsInf(l, 0) {
					t.Fatalf("step %d: loss %v", i+1, l)
				}
			}
			if d, err := MaxAbsDiff(a, b); d != 0 || err != nil {
				t.Errorf("two Go runs differ by %g (%v)", d, err)
			}
		})
	}
}

// pyTorch returns the interpreter with PyTorch, or skips the test.
func pyTorch(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs PyTorch; skipped with -short")
	}
	python := Python()
	if err := HavePyTorch(python); err != nil {
		t.Skip(err)
	}
	return python
}

// TestParityPyTorch trains every case for 20 steps in Go and with its reference script in
// PyTorch (same libtorch) from the same weights on the same batches, and compares every
// step's loss. The parity suite (go run ./scripts/parity) runs the same cases.
func TestParityPyTorch(t *testing.T) {
	python := pyTorch(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torchtest.CheckLive(t)
	for _, c := range Cases() {
		t.Run(c.Name(), func(t *testing.T) {
			r, err := Run(context.Background(), python, t.TempDir(), c)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("max |Go − PyTorch| over %d losses: %.3g (first %.6f / %.6f, last %.6f / %.6f)",
				len(r.Go), r.Diff, r.Go[0], r.Py[0], r.Go[len(r.Go)-1], r.Py[len(r.Py)-1])
		})
	}
}

// TestNaNLossFails proves that the comparison of each model fails when the losses are NaN:
// the initial weights are NaN, so both sides really train on them and agree on NaN at every
// step, which a comparison by max(|Go − PyTorch|) > Tol would let pass.
func TestNaNLossFails(t *testing.T) {
	python := pyTorch(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torchtest.CheckLive(t)
	for _, c := range []Case{Specs()[0], SiameseCases()[0]} {
		t.Run(c.Name(), func(t *testing.T) {
			dir := t.TempDir()
			if err := c.Build(dir); err != nil {
				t.Fatal(err)
			}
			if err := PoisonWeights(dir); err != nil {
				t.Fatal(err)
			}
			r, err := Check(context.Background(), python, dir, c)
			if len(r.Go) == 0 || len(r.Py) != len(r.Go) {
				t.Fatalf("Check = %v: want both sides' losses", err)
			}
			for i := range r.Go {
				if !math.IsNaN(r.Go[i]) || !math.IsNaN(r.Py[i]) {
					t.Fatalf("step %d: losses Go %v, PyTorch %v; want NaN on both sides", i+1, r.Go[i], r.Py[i])
				}
			}
			if err == nil || !strings.Contains(err.Error(), "loss is NaN") {
				t.Errorf("Check on NaN losses = %v, want a NaN error", err)
			}
		})
	}
}

// TestOptimizerHonoured checks that the Go side trains with the spec's optimizer, as the
// reference scripts do: adadelta and adam give losses further apart than Tol (so a Go side
// that ignored the name would fail the comparison), and an unknown name is an error.
func TestOptimizerHonoured(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torchtest.CheckLive(t)
	losses := map[string][]float64{}
	for _, opt := range []string{"adadelta", "adam", "sgd"} {
		s := Specs()[2]
		s.Optimizer, s.LR = opt, 0.01
		dir := t.TempDir()
		if err := s.Build(dir); err != nil {
			t.Fatal(err)
		}
		l, err := s.GoLosses(dir)
		if opt == "sgd" {
			if err == nil || !strings.Contains(err.Error(), `unknown optimizer "sgd"`) {
				t.Errorf("optimizer sgd: GoLosses = %v, want an unknown-optimizer error", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", opt, err)
		}
		losses[opt] = l
	}
	if d, _ := MaxAbsDiff(losses["adadelta"], losses["adam"]); !(d > Tol) {
		t.Errorf("adadelta and adam losses differ by %g, want more than %g", d, Tol)
	}
	if s := Specs()[2]; s.Optimizer != "adadelta" {
		t.Errorf("%s trains with %q; the parity cases want one SMS case on adadelta", s.Name(), s.Optimizer)
	}
}

// TestReadPyJSON checks that the non-finite values Python's json module writes (NaN,
// Infinity, -Infinity: not JSON) are read as such, so that they reach Compare.
func TestReadPyJSON(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var l floats
	if err := readPyJSON(write("a.json", "[0.5, NaN, Infinity, -Infinity, 1e-3]"), &l); err != nil {
		t.Fatal(err)
	}
	if len(l) != 5 || l[0] != 0.5 || !math.IsNaN(l[1]) || !math.IsInf(l[2], 1) || !math.IsInf(l[3], -1) || l[4] != 1e-3 {
		t.Errorf("read %v", l)
	}
	var r struct{ Losses, Seconds floats }
	if err := readPyJSON(write("b.json", `{"losses": [NaN, 0.25], "seconds": [1.5]}`), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Losses) != 2 || !math.IsNaN(r.Losses[0]) || r.Losses[1] != 0.25 || len(r.Seconds) != 1 || r.Seconds[0] != 1.5 {
		t.Errorf("read %+v", r)
	}
	for _, bad := range []string{`["inf"]`, `[true]`, `[NaN`, `{"losses": 1}`} {
		if err := readPyJSON(write("c.json", bad), &r); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
