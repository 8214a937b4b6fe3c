package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/nn/parallel"
	"github.com/seqtorch/seqtorch/train/loop"
)

// Parallel is a training command's place in a data-parallel run: rank Rank of World, with the
// process group and the module's DistributedDataParallel when World > 1. The zero World (a
// process that was not launched) behaves as a world of one. A training command calls
// [JoinParallel] first, [Parallel.Wrap] once its model is built, and then takes the batch
// sharding, the loop hooks and the backward pass from it.
type Parallel struct {
	Env   distributed.Env
	Group *distributed.ProcessGroup         // nil in a world of one
	DDP   *parallel.DistributedDataParallel // set by Wrap
}

// JoinParallel joins the process group of a launched process (RANK, WORLD_SIZE, ... as
// [Launch] or torchrun set them); a process that was not launched, or a world of one, joins
// nothing. The group is NCCL's when dev is a CUDA device and the libtorch has NCCL, else
// Gloo's. timeout (--dist-timeout; <= 0: SEQTORCH_DIST_TIMEOUT, else 5 minutes) bounds the
// rendezvous and every collective, however the process was launched. Warnings (a store
// reachable from other machines) go to warn. Close releases the group.
func JoinParallel(dev torch.Device, timeout time.Duration, warn io.Writer) (*Parallel, error) {
	e, ok, err := distributed.ReadEnv(nil)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	p := &Parallel{Env: e}
	if !ok || e.WorldSize < 2 {
		return p, nil
	}
	backend := "gloo"
	if dev.IsCUDA() && distributed.NCCLAvailable() {
		backend = "nccl"
	}
	if p.Group, err = distributed.Init(e, distributed.InitOptions{Backend: backend, Timeout: timeout, Warn: warn}); err != nil {
		return nil, fmt.Errorf("rank %d of %d: %w", e.Rank, e.WorldSize, err)
	}
	return p, nil
}

// World is the number of ranks (1 when not launched).
func (p *Parallel) World() int { return max(p.Env.WorldSize, 1) }

// Main reports whether this process writes the run folder, the summary and the progress.
func (p *Parallel) Main() bool { return p.Env.Rank == 0 }

// Device returns the device this rank trains on: dev, except that each rank of a CUDA run
// takes the GPU of its local rank (cuda:LOCAL_RANK), as torchrun users expect.
func (p *Parallel) Device(dev torch.Device) torch.Device {
	if dev.IsCUDA() && p.World() > 1 {
		return torch.CUDA(p.Env.LocalRank)
	}
	return dev
}

// Output returns w for rank 0 and io.Discard for the others: only rank 0 prints.
func (p *Parallel) Output(w io.Writer) io.Writer {
	if p.Main() {
		return w
	}
	return io.Discard
}

// Shard returns o with this rank's part of every epoch (data.BatchOptions Rank, World, as
// PyTorch's DistributedSampler shards). o.Size is the global batch, the examples one
// optimizer step sees over all ranks: each rank takes o.Size/World of them, so a run keeps its
// hyperparameters (and, up to float rounding and the grouping of examples, its results) when
// the number of processes changes. PyTorch scripts usually give the batch per process instead;
// to match one, pass World times its batch size. o.Size must be a multiple of World.
func (p *Parallel) Shard(o data.BatchOptions) (data.BatchOptions, error) {
	w := p.World()
	if w < 2 {
		return o, nil
	}
	if err := CheckBatch(o.Size, w); err != nil {
		return o, err
	}
	o.Size /= w
	o.Rank, o.World = p.Env.Rank, w
	return o, nil
}

// CheckBatch refuses a global --batch that nproc processes cannot split evenly (see
// [Parallel.Shard]); commands call it while validating, before any process starts.
func CheckBatch(batch, nproc int) error {
	if nproc > 1 && batch%nproc != 0 {
		return Usagef("--batch %d: with %d data-parallel processes it must be a multiple of %d (each process takes batch/%d examples per step)", batch, nproc, nproc, nproc)
	}
	return nil
}

// Wrap makes m data-parallel over the group (DistributedDataParallel, with rank 0's parameters
// broadcast to all); nothing in a world of one.
func (p *Parallel) Wrap(m nn.Module) error {
	if p.Group == nil {
		return nil
	}
	d, err := parallel.New(m, p.Group, parallel.Options{})
	if err != nil {
		return err
	}
	p.DDP = d
	return nil
}

// Backward runs loss's backward pass; with Wrap's DistributedDataParallel, the gradients are
// then averaged over the ranks. A failure panics with *torch.Error, as loss.Backward does
// (the training loop turns it into the step's error).
func (p *Parallel) Backward(loss *torch.Tensor) {
	if p.DDP == nil {
		loss.Backward()
		return
	}
	if err := p.DDP.Backward(loss); err != nil {
		panic(&torch.Error{Op: "DistributedDataParallel", Msg: err.Error()})
	}
}

// Loop returns the training loop's hooks for this rank (nil in a world of one).
func (p *Parallel) Loop() *loop.Dist {
	if p.Group == nil {
		return nil
	}
	g := p.Group
	// allReduce reduces v over the ranks in place.
	allReduce := func(v []float64, op distributed.ReduceOp) error {
		t := torch.FromSlice(v, int64(len(v)))
		defer t.Close()
		if err := g.AllReduce(t, op); err != nil {
			return err
		}
		copy(v, t.Float64s())
		return nil
	}
	return &loop.Dist{
		Rank: p.Env.Rank,
		AnyStop: func(stop bool) (bool, error) {
			v := []float64{0}
			if stop {
				v[0] = 1
			}
			err := allReduce(v, distributed.Max)
			return v[0] > 0, err
		},
		Sum: func(v []float64) error { return allReduce(v, distributed.Sum) },
	}
}

// Close releases the DistributedDataParallel and the group.
func (p *Parallel) Close() {
	if p == nil {
		return
	}
	p.DDP.Close()
	p.Group.Close()
}
