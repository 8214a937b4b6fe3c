package optim

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
)

// Stateful is what has a state dict: every Optimizer and every Scheduler.
type Stateful interface {
	StateDict() (names []string, ts []*torch.Tensor, err error)
	LoadStateDict(names []string, ts []*torch.Tensor) error
}

// SaveTorch writes o's state dict (an optimizer's flat names such as "state.0.exp_avg" and
// "param_groups.0.lr", or a schedule's "last_epoch", "base_lrs", ...) to path in PyTorch's
// torch.save format, a str→tensor dict that torch.load reads. Training checkpoints save the
// optimizer (and its schedule) with it.
func SaveTorch(path string, o Stateful) error {
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
// Optimizer.LoadStateDict and Scheduler.LoadStateDict: everything is validated before
// anything changes).
func LoadTorch(path string, o Stateful) error {
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

// FilePersister saves and restores an optimizer's (or a schedule's) state in one file, with
// SaveTorch and LoadTorch: the optimizer part of a training checkpoint (it satisfies
// train/loop's Persister).
type FilePersister struct{ opt Stateful }

// Persister returns the FilePersister of o, an Optimizer or a Scheduler.
func Persister(o Stateful) FilePersister { return FilePersister{o} }

// Save writes the optimizer's state dict to path (SaveTorch).
func (p FilePersister) Save(path string) error { return SaveTorch(path, p.opt) }

// Load restores the optimizer's state from path (LoadTorch).
func (p FilePersister) Load(path string) error { return LoadTorch(path, p.opt) }
