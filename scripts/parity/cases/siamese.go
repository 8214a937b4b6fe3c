package cases

import (
	"context"
	"fmt"
	"time"

	"github.com/seqtorch/seqtorch/models/siamese/parityref"
)

// The Siamese MaLSTM model (models/siamese) trained for parityref.Steps steps against its
// PyTorch class in scripts/siamese_ref.py, one case per parityref.Cases entry (every loss
// head: malstm, contrastive, triplet, tai). These cases do not go through parity_ref.py:
// Build writes parityref's exchange folder (no spec.json, so parity_ref.py skips it) and
// Check trains in Go, runs siamese_ref.py on the folder and compares every step's loss.
func init() {
	for _, c := range parityref.Cases() {
		Register(Case{
			Name: "model/siamese/" + c.Name,
			Tol:  parityref.Tol,
			Build: func(dir string) error {
				return parityref.Build(dir, c)
			},
			Check: func(dir string) (float64, error) {
				goL, err := parityref.GoLosses(dir)
				if err != nil {
					return 0, err
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				py, err := parityref.RunPython(ctx, parityref.Python(), dir)
				if err != nil {
					return 0, err
				}
				if len(goL) != parityref.Steps || len(py.Losses) != parityref.Steps {
					return 0, fmt.Errorf("%d Go and %d PyTorch losses, want %d each", len(goL), len(py.Losses), parityref.Steps)
				}
				return parityref.MaxAbsDiff(goL, py.Losses), nil
			},
		})
	}
}
