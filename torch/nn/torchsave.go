// State dicts in PyTorch's torch.save format (a zip of a pickle and raw tensor data); the
// format itself is written and read by package torch (SaveDict, LoadDict).

package nn

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
)

// SaveTorch writes m's state dict in PyTorch's torch.save format, loadable in Python with
// model.load_state_dict(torch.load(path)). The file is replaced atomically.
func SaveTorch(path string, m Module) error {
	names, ts := StateDict(m)
	var det []*torch.Tensor
	defer func() { closeAll(det) }()
	if err := torch.Try(func() {
		for _, t := range ts {
			det = append(det, t.Detach()) // as state_dict(): no requires_grad in the file
		}
	}); err != nil {
		return fmt.Errorf("nn: SaveTorch %s: %w", path, err)
	}
	if err := torch.SaveDict(path, names, det); err != nil {
		return fmt.Errorf("nn: SaveTorch: %w", err)
	}
	return nil
}

// LoadTorch loads a state dict written by SaveTorch or by Python's
// torch.save(model.state_dict(), path) into m, strictly (see LoadStateDict).
func LoadTorch(path string, m Module) error {
	names, ts, err := torch.LoadDict(path)
	if err != nil {
		return fmt.Errorf("nn: LoadTorch: %w", err)
	}
	defer closeAll(ts)
	if err := LoadStateDict(m, names, ts); err != nil {
		return fmt.Errorf("nn: LoadTorch %s: %w", path, err)
	}
	return nil
}
