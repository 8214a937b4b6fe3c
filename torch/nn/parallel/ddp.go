// Package parallel is torch.nn.parallel for seqtorch: [DistributedDataParallel], data-parallel
// training over a torch/distributed process group.
package parallel

/*
#cgo CFLAGS: -I${SRCDIR}/../../csrc
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// Options configure [New]; the zero value is PyTorch's defaults.
type Options struct {
	// BucketCapMB is the size of the gradient buckets after the first, in MiB (0: 25, as
	// PyTorch). The first bucket holds up to 1 MiB, as in PyTorch.
	BucketCapMB float64
	// Flat averages the gradients after backward, in buckets of the same sizes, with one
	// all_reduce each, instead of with c10d's Reducer during backward. It is the fallback for a
	// shim without the Reducer; the numbers are the same.
	Flat bool
}

// firstBucketBytes is torch.distributed's _DEFAULT_FIRST_BUCKET_BYTES.
const firstBucketBytes = 1 << 20

// broadcastBytes is DistributedDataParallel's buffer size for the initial broadcast (250 MiB).
const broadcastBytes = 250 << 20

// DistributedDataParallel is torch.nn.parallel.DistributedDataParallel: it keeps a module's
// replicas on the ranks of a process group identical. New broadcasts rank 0's parameters to
// every rank; each [DistributedDataParallel.Backward] then leaves every rank with the gradients
// averaged over the group, so identical optimizer steps keep the replicas identical.
//
// The averaging is libtorch's: c10d's Reducer, hooked into autograd, all-reduces buckets of
// gradients while backward is still running (bucketed as PyTorch buckets them, 1 MiB first,
// then BucketCapMB), each gradient divided by the group size before the sum, as PyTorch does;
// ranks end bit-identical, and a model trained by torch.nn.parallel.DistributedDataParallel on
// the same data gets the same gradients.
//
// Go has no forward hook: call Backward instead of loss.Backward(). Every trainable parameter
// must get a gradient in every synchronized backward (PyTorch's find_unused_parameters=False).
// Backward and NoSync are for the goroutine that trains; a DistributedDataParallel refuses
// overlapping calls with an error.
type DistributedDataParallel struct {
	module  nn.Module
	group   *distributed.ProcessGroup
	params  []*torch.Tensor // trainable, in the module's order
	buckets [][]int         // Flat: parameter indices per bucket
	reducer C.st_reducer    // nil with Flat
	mu      sync.Mutex      // held by Backward and NoSync
	noSync  bool
}

// New wraps m for data-parallel training over g: it checks that every rank's module has the
// same parameters (count, shapes, dtypes), broadcasts rank 0's values to all ranks, and sets up
// the gradient averaging. m's parameters must stay where they are (same tensors) for the
// wrapper's life.
func New(m nn.Module, g *distributed.ProcessGroup, o Options) (*DistributedDataParallel, error) {
	d := &DistributedDataParallel{module: m, group: g, params: nn.Trainable(m)}
	all := nn.Parameters(m)
	if err := verifyShapes(g, all); err != nil {
		return nil, err
	}
	if err := g.BroadcastCoalesced(0, broadcastBytes, all...); err != nil {
		return nil, fmt.Errorf("parallel: broadcasting rank 0's parameters: %w", err)
	}
	capBytes := int64(25 << 20)
	if o.BucketCapMB > 0 {
		capBytes = int64(o.BucketCapMB * (1 << 20))
	}
	if o.Flat {
		d.buckets = flatBuckets(d.params, capBytes)
		return d, nil
	}
	err := torch.WithHandles("DistributedDataParallel", d.params, func(hs []unsafe.Pointer) error {
		cs := make([]C.st_tensor, len(hs))
		for i, h := range hs {
			cs[i] = C.st_tensor(h)
		}
		return g.Handle(func(pg unsafe.Pointer) error {
			var first *C.st_tensor
			if len(cs) > 0 {
				first = &cs[0]
			}
			return torch.ShimError("DistributedDataParallel", unsafe.Pointer(C.st_reducer_new(C.st_pg(pg), first,
				C.int(len(cs)), C.int64_t(capBytes), firstBucketBytes, &d.reducer)))
		})
	})
	if err != nil {
		return nil, fmt.Errorf("parallel: c10d Reducer: %w", err)
	}
	return d, nil
}

// verifyShapes compares every rank's parameter list with rank 0's (as PyTorch's
// _verify_param_shape_across_processes) through a checksum of counts, shapes and dtypes.
func verifyShapes(g *distributed.ProcessGroup, ps []*torch.Tensor) error {
	var sig uint64 = 1469598103934665603 // FNV-1a over (dtype, dims) of each parameter
	mix := func(v int64) {
		for i := 0; i < 8; i++ {
			sig ^= uint64(v>>(8*i)) & 0xff
			sig *= 1099511628211
		}
	}
	mix(int64(len(ps)))
	for _, p := range ps {
		mix(int64(p.DType()))
		for _, n := range p.Shape() {
			mix(n)
		}
	}
	mine := int64(sig >> 1) // fits an int64
	out := make([]*torch.Tensor, g.Size())
	for i := range out {
		out[i] = torch.Zeros([]int64{1}, torch.WithDType(torch.Int64))
		defer out[i].Close()
	}
	in := torch.FromSlice([]int64{mine}, 1)
	defer in.Close()
	if err := g.AllGather(out, in); err != nil {
		return fmt.Errorf("parallel: comparing the ranks' parameters: %w", err)
	}
	for r, t := range out {
		if t.Int64s()[0] != mine && r != g.Rank() {
			return fmt.Errorf("parallel: rank %d's module has other parameters than rank %d's (count, shapes or dtypes differ)", r, g.Rank())
		}
	}
	return nil
}

// flatBuckets groups the parameters, last first (the order gradients become ready), into
// buckets of up to firstBucketBytes for the first and capBytes after, as PyTorch's size-based
// assignment does for one dtype.
func flatBuckets(ps []*torch.Tensor, capBytes int64) [][]int {
	var out [][]int
	var cur []int
	var size int64
	limit := int64(firstBucketBytes)
	for i := len(ps) - 1; i >= 0; i-- {
		cur = append(cur, i)
		size += ps[i].Numel() * elemBytes(ps[i].DType())
		if size >= limit {
			out = append(out, cur)
			cur, size, limit = nil, 0, capBytes
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	for _, b := range out {
		slices.Reverse(b) // parameter order inside a bucket, as the Reducer lays them out
	}
	return out
}

// elemBytes is the size of one element of dtype dt.
func elemBytes(dt torch.DType) int64 {
	switch dt {
	case torch.Float64, torch.Int64:
		return 8
	case torch.Float16:
		return 2
	case torch.Uint8, torch.Bool:
		return 1
	}
	return 4
}

// Module returns the wrapped module.
func (d *DistributedDataParallel) Module() nn.Module { return d.module }

// Group returns the process group.
func (d *DistributedDataParallel) Group() *distributed.ProcessGroup { return d.group }

// errBusy is returned by overlapping calls.
var errBusy = errors.New("parallel: DistributedDataParallel.Backward or NoSync called while another is running")

// Backward runs loss's backward pass and, outside [DistributedDataParallel.NoSync], averages the
// trainable parameters' gradients over the group. A failure of the group (a rank that died or
// hangs) is returned as an error naming what the group knows.
func (d *DistributedDataParallel) Backward(loss *torch.Tensor) error {
	if !d.mu.TryLock() {
		return errBusy
	}
	defer d.mu.Unlock()
	return d.backward(loss)
}

func (d *DistributedDataParallel) backward(loss *torch.Tensor) error {
	if d.noSync {
		return torch.Try(loss.Backward)
	}
	if d.reducer != nil {
		if err := torch.ShimError("Reducer.prepare", unsafe.Pointer(C.st_reducer_prepare(d.reducer))); err != nil {
			return d.group.Explain("DistributedDataParallel backward", err)
		}
		if err := torch.Try(loss.Backward); err != nil {
			return d.group.Explain("DistributedDataParallel backward", err)
		}
		return nil
	}
	if err := torch.Try(loss.Backward); err != nil {
		return err
	}
	return d.averageFlat()
}

// averageFlat averages the gradients bucket by bucket: each bucket's gradients are flattened
// into one tensor, multiplied by 1/size, summed over the group and copied back.
func (d *DistributedDataParallel) averageFlat() error {
	s := torch.NewScope()
	defer s.Close()
	for _, b := range d.buckets {
		grads := make([]*torch.Tensor, len(b))
		flat := make([]*torch.Tensor, len(b))
		for k, i := range b {
			grads[k] = d.params[i].Grad()
			if grads[k] == nil {
				return fmt.Errorf("parallel: parameter %d has no gradient after backward (every trainable parameter must take part)", i)
			}
			flat[k] = grads[k].Reshape(-1)
		}
		buf := torch.Cat(flat, 0).MulScalar(1 / float64(d.group.Size()))
		if err := d.group.AllReduce(buf, distributed.Sum); err != nil {
			return err
		}
		var off int64
		err := torch.Try(func() {
			torch.NoGrad(func() {
				for _, g := range grads {
					n := g.Numel()
					g.CopyFrom(buf.Narrow(0, off, n).View(g.Shape()...))
					off += n
				}
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// NoSync runs f with gradient averaging off (torch's no_sync): backward passes inside only
// accumulate local gradients, and the first synchronized Backward after it averages the
// accumulated sums. Call d.Backward inside f as usual.
func (d *DistributedDataParallel) NoSync(f func() error) error {
	if !d.mu.TryLock() {
		return errBusy
	}
	d.noSync = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.noSync = false
		d.mu.Unlock()
	}()
	return f()
}

// Close releases the Reducer; the module and the group stay the caller's.
func (d *DistributedDataParallel) Close() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reducer != nil {
		C.st_reducer_free(d.reducer)
		d.reducer = nil
	}
}
