package cases

import (
	"context"
	"path/filepath"

	"github.com/seqtorch/seqtorch/scripts/internal/modelparity"
)

// The two models, each trained for 20 steps from the same initial weights on the same batches
// in Go and with its PyTorch reference script (scripts/sms_ref.py, scripts/siamese_ref.py),
// one case per modelparity.Cases entry: the SMS classifier's cells, packing, dropout, clipping
// and optimizers, and every Siamese loss head. These cases do not go through parity_ref.py:
// Build writes the harness's exchange folder into dir/model (no dir/spec.json, so
// parity_ref.py skips it) and Check trains in Go, runs the reference script on the folder and
// compares every step's loss with modelparity.Compare (a NaN on either side fails).
func init() {
	for _, c := range modelparity.Cases() {
		Register(modelCase(c))
	}
}

// modelCase turns a harness case into a suite case named "model/" + its name.
func modelCase(c modelparity.Case) Case {
	return Case{
		Name:  "model/" + c.Name(),
		Tol:   modelparity.Tol,
		Build: func(dir string) error { return c.Build(filepath.Join(dir, "model")) },
		Check: func(dir string) (float64, error) {
			r, err := modelparity.Check(context.Background(), modelparity.Python(), filepath.Join(dir, "model"), c)
			return r.Diff, err
		},
	}
}
