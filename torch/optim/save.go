package optim

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
)

// SaveTorch writes o's state dict (Optimizer.StateDict: flat names such as
// "state.0.exp_avg" and "param_groups.0.lr") to path in PyTorch's torch.save format, a
// str→tensor dict that torch.load reads. Training checkpoints save the optimizer with it.
func SaveTorch(path string, o Optimizer) error {
	names, ts, err := o.StateDict()
	if err != nil {
		return err
	}
	defer closeAll(ts)
	if err := torch.SaveDict(path, names, ts); err != nil {
		return fmt.Errorf("optim: SaveTorch: %w", err)
	}
	return nil
}

// LoadTorch replaces o's state with the state dict SaveTorch wrote to path (see
// Optimizer.LoadStateDict: everything is validated before anything changes).
func LoadTorch(path string, o Optimizer) error {
	names, ts, err := torch.LoadDict(path)
	if err != nil {
		return fmt.Errorf("optim: LoadTorch: %w", err)
	}
	defer closeAll(ts)
	if err := o.LoadStateDict(names, ts); err != nil {
		return fmt.Errorf("optim: LoadTorch %s: %w", path, err)
	}
	return nil
}

func closeAll(ts []*torch.Tensor) {
	for _, t := range ts {
		t.Close()
	}
}

// FilePersister saves and restores an optimizer's state in one file, with SaveTorch and
// LoadTorch: the optimizer part of a training checkpoint (it satisfies train/loop's
// Persister).
type FilePersister struct{ opt Optimizer }

// Persister returns the FilePersister of o.
func Persister(o Optimizer) FilePersister { return FilePersister{o} }

// Save writes the optimizer's state dict to path (SaveTorch).
func (p FilePersister) Save(path string) error { return SaveTorch(path, p.opt) }

// Load restores the optimizer's state from path (LoadTorch).
func (p FilePersister) Load(path string) error { return LoadTorch(path, p.opt) }
