package cases

import (
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/scripts/internal/modelparity"
)

// TestModelCasesRegistered checks that every harness case (both models) is in the suite.
func TestModelCasesRegistered(t *testing.T) {
	var names []string
	for _, c := range All() {
		names = append(names, c.Name)
	}
	for _, c := range modelparity.Cases() {
		if !slices.Contains(names, "model/"+c.Name()) {
			t.Errorf("case model/%s is not registered", c.Name())
		}
	}
}

// TestModelCaseNaNFails runs the suite's first SMS and first Siamese case on NaN initial
// weights: both sides then report NaN losses, and the case must fail.
func TestModelCaseNaNFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PyTorch; skipped with -short")
	}
	if err := modelparity.HavePyTorch(modelparity.Python()); err != nil {
		t.Skip(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, c := range []modelparity.Case{modelparity.Specs()[0], modelparity.SiameseCases()[0]} {
		sc := modelCase(c)
		t.Run(sc.Name, func(t *testing.T) {
			dir := t.TempDir()
			if err := sc.Build(dir); err != nil {
				t.Fatal(err)
			}
			if err := modelparity.PoisonWeights(filepath.Join(dir, "model")); err != nil {
				t.Fatal(err)
			}
			d, err := sc.Check(dir)
			if err == nil || !strings.Contains(err.Error(), "loss is NaN") || !math.IsInf(d, 1) {
				t.Errorf("Check on NaN weights = %v, %v; want +Inf and a NaN error", d, err)
			}
		})
	}
}
