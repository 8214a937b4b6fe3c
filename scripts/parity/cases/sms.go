package cases

import (
	"path/filepath"

	"github.com/seqtorch/seqtorch/scripts/smsparity"
	"github.com/seqtorch/seqtorch/torch"
)

// The SMS classifier trained for 20 steps from the same initial weights on the same batches,
// in Go (models/smsrnn) and in PyTorch (scripts/sms_ref.py, called by parity_ref.py's "sms"
// handler): the per-step losses must agree within smsparity.Tol.
func init() {
	for _, spec := range smsparity.Specs() {
		Register(Case{
			Name: spec.Name,
			Tol:  smsparity.Tol,
			Build: func(dir string) error {
				// smsparity keeps its own files (spec.json among them) in a subfolder.
				if err := smsparity.Build(filepath.Join(dir, "job"), spec); err != nil {
					return err
				}
				return WriteInputs(dir, "sms", map[string]string{"sub": "job"}, &Dict{})
			},
			Check: func(dir string) (float64, error) {
				want, err := ReadOutputs(dir)
				if err != nil {
					return 0, err
				}
				got, err := smsparity.GoLosses(filepath.Join(dir, "job"))
				if err != nil {
					return 0, err
				}
				c := NewCmp(want)
				c.T("losses", torch.FromSlice(got))
				return c.Result(true)
			},
		})
	}
}
