package distributed

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/seqtorch/seqtorch/torch"
)

// ReduceOp is a reduction of [ProcessGroup.AllReduce] (torch.distributed.ReduceOp).
type ReduceOp int

// The reductions; their values are c10d's.
const (
	Sum     ReduceOp = C.ST_REDUCE_SUM
	Avg     ReduceOp = C.ST_REDUCE_AVG // Gloo has none: the group sums, then divides by its size
	Product ReduceOp = C.ST_REDUCE_PRODUCT
	Min     ReduceOp = C.ST_REDUCE_MIN
	Max     ReduceOp = C.ST_REDUCE_MAX
)

func (op ReduceOp) String() string {
	switch op {
	case Sum:
		return "sum"
	case Avg:
		return "avg"
	case Product:
		return "product"
	case Min:
		return "min"
	case Max:
		return "max"
	}
	return fmt.Sprintf("ReduceOp(%d)", int(op))
}

// ProcessGroup is a c10d process group: ranks 0..Size()-1 that run collectives together. Its
// methods are safe from many goroutines (calls are serialized; see the package documentation
// on ordering). A failed collective leaves the group unusable: close it.
type ProcessGroup struct {
	mu      sync.Mutex
	h       C.st_pg
	rank    int
	size    int
	backend string
	timeout time.Duration
	store   *Store   // kept open while the group lives
	owned   []func() // released by Close: Init's stores and heartbeat
	health  *health  // nil: no heartbeat (a group not made by Init)
}

// GlooOptions configure [NewProcessGroupGloo].
type GlooOptions struct {
	// Timeout bounds every collective and the rendezvous (0: DefaultTimeout).
	Timeout time.Duration
	// Interface is the network interface Gloo's transport binds (GLOO_SOCKET_IFNAME in
	// PyTorch); Host, when Interface is empty, the address it binds. Both empty: the address
	// this machine's hostname resolves to.
	Interface, Host string
}

// NewProcessGroupGloo joins rank (of size ranks) to a Gloo group that rendezvous through store.
// It returns once every rank has joined, or fails after the timeout. store must stay open while
// the group is used.
func NewProcessGroupGloo(store *Store, rank, size int, o GlooOptions) (*ProcessGroup, error) {
	if err := checkRank(rank, size); err != nil {
		return nil, err
	}
	iface, host := C.CString(o.Interface), C.CString(o.Host)
	defer C.free(unsafe.Pointer(iface))
	defer C.free(unsafe.Pointer(host))
	var h C.st_pg
	err := store.use("NewProcessGroupGloo", func(s C.st_store) C.st_err {
		return C.st_pg_gloo(s, C.int(rank), C.int(size), iface, host, millis(o.Timeout), &h)
	})
	if err != nil {
		return nil, fmt.Errorf("distributed: gloo group, rank %d of %d: %w", rank, size, err)
	}
	return &ProcessGroup{h: h, rank: rank, size: size, backend: "gloo", timeout: orDefault(o.Timeout), store: store}, nil
}

// NewProcessGroupNCCL joins rank to an NCCL group (CUDA tensors) through store; see
// [NCCLAvailable].
func NewProcessGroupNCCL(store *Store, rank, size int, timeout time.Duration) (*ProcessGroup, error) {
	if err := checkRank(rank, size); err != nil {
		return nil, err
	}
	var h C.st_pg
	err := store.use("NewProcessGroupNCCL", func(s C.st_store) C.st_err {
		return C.st_pg_nccl(s, C.int(rank), C.int(size), millis(timeout), &h)
	})
	if err != nil {
		return nil, fmt.Errorf("distributed: nccl group, rank %d of %d: %w", rank, size, err)
	}
	return &ProcessGroup{h: h, rank: rank, size: size, backend: "nccl", timeout: orDefault(timeout), store: store}, nil
}

func checkRank(rank, size int) error {
	if size < 1 || rank < 0 || rank >= size {
		return fmt.Errorf("distributed: rank %d of %d: want 0 <= rank < size", rank, size)
	}
	return nil
}

func orDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}

// Rank is this process's rank in the group.
func (g *ProcessGroup) Rank() int { return g.rank }

// Size is the number of ranks.
func (g *ProcessGroup) Size() int { return g.size }

// Backend is "gloo" or "nccl".
func (g *ProcessGroup) Backend() string { return g.backend }

// Timeout is how long a collective waits for the other ranks.
func (g *ProcessGroup) Timeout() time.Duration { return g.timeout }

// Store is the store the group rendezvoused through.
func (g *ProcessGroup) Store() *Store { return g.store }

// ErrClosed is returned by the collectives of a closed group.
var ErrClosed = errors.New("distributed: process group is closed")

// collective runs f with the group's handle and the tensors' handles, serialized with the
// group's other calls; a failure is wrapped with the operation, the rank and, for groups with
// a heartbeat, which ranks stopped.
func (g *ProcessGroup) collective(op string, ts []*torch.Tensor, f func(C.st_pg, []C.st_tensor) C.st_err) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.h == nil {
		return ErrClosed
	}
	err := torch.WithHandles(op, ts, func(hs []unsafe.Pointer) error {
		cs := make([]C.st_tensor, len(hs))
		for i, h := range hs {
			cs[i] = C.st_tensor(h)
		}
		return shimErr(op, f(g.h, cs))
	})
	if err != nil {
		return g.explain(op, err)
	}
	return nil
}

// explain wraps a failed collective's error with the rank and what the heartbeat tells.
func (g *ProcessGroup) explain(op string, err error) error {
	why := ""
	if g.health != nil {
		why = g.health.diagnose()
	}
	if why != "" {
		return fmt.Errorf("distributed: %s on rank %d of %d failed: %s: %w", op, g.rank, g.size, why, err)
	}
	return fmt.Errorf("distributed: %s on rank %d of %d failed: %w", op, g.rank, g.size, err)
}

func first(cs []C.st_tensor) *C.st_tensor {
	if len(cs) == 0 {
		return nil
	}
	return &cs[0]
}

// AllReduce reduces t over the group in place: afterwards every rank's t holds the reduction
// (torch.distributed.all_reduce).
func (g *ProcessGroup) AllReduce(t *torch.Tensor, op ReduceOp) error {
	return g.AllReduceMany(op, t)
}

// AllReduceMany reduces several tensors in one collective call.
func (g *ProcessGroup) AllReduceMany(op ReduceOp, ts ...*torch.Tensor) error {
	return g.collective("all_reduce", ts, func(h C.st_pg, cs []C.st_tensor) C.st_err {
		return C.st_pg_all_reduce(h, first(cs), C.int(len(cs)), C.int(op))
	})
}

// Broadcast copies rank src's t into every rank's t (torch.distributed.broadcast).
func (g *ProcessGroup) Broadcast(t *torch.Tensor, src int) error {
	if err := checkRank(src, g.size); err != nil {
		return err
	}
	return g.collective("broadcast", []*torch.Tensor{t}, func(h C.st_pg, cs []C.st_tensor) C.st_err {
		return C.st_pg_broadcast(h, first(cs), 1, C.int(src))
	})
}

// BroadcastCoalesced broadcasts ts from rank src, flattened into buffers of up to bufferBytes
// (c10d's broadcast_coalesced, which DistributedDataParallel uses for the initial parameters).
func (g *ProcessGroup) BroadcastCoalesced(src int, bufferBytes int64, ts ...*torch.Tensor) error {
	if err := checkRank(src, g.size); err != nil {
		return err
	}
	return g.collective("broadcast_coalesced", ts, func(h C.st_pg, cs []C.st_tensor) C.st_err {
		return C.st_pg_broadcast_coalesced(h, first(cs), C.int(len(cs)), C.int64_t(bufferBytes), C.int(src))
	})
}

// AllGather fills out[r] with rank r's t, for every rank r (torch.distributed.all_gather).
// out has Size() tensors shaped like t.
func (g *ProcessGroup) AllGather(out []*torch.Tensor, t *torch.Tensor) error {
	if len(out) != g.size {
		return fmt.Errorf("distributed: all_gather: %d output tensors for a group of %d", len(out), g.size)
	}
	ts := append(append([]*torch.Tensor{}, out...), t)
	return g.collective("all_gather", ts, func(h C.st_pg, cs []C.st_tensor) C.st_err {
		return C.st_pg_all_gather(h, first(cs), C.int(g.size), cs[g.size])
	})
}

// Barrier returns once every rank has called it (torch.distributed.barrier).
func (g *ProcessGroup) Barrier() error {
	return g.collective("barrier", nil, func(h C.st_pg, _ []C.st_tensor) C.st_err { return C.st_pg_barrier(h) })
}

// Handle runs f with the group's shim handle (shim.h's st_pg), serialized with its
// collectives: for torch/nn/parallel, which binds c10d's Reducer to the group.
func (g *ProcessGroup) Handle(f func(h unsafe.Pointer) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.h == nil {
		return ErrClosed
	}
	return f(unsafe.Pointer(g.h))
}

// Explain wraps err, a failure of a collective run outside the group's methods (a Reducer's,
// during backward), as the group's own failures are: with the rank and which ranks stopped.
func (g *ProcessGroup) Explain(op string, err error) error {
	if err == nil {
		return nil
	}
	return g.explain(op, err)
}

// Close leaves the group and releases what [Init] opened for it (the store, the heartbeat).
// It is idempotent.
func (g *ProcessGroup) Close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	if g.h != nil {
		C.st_pg_free(g.h)
		g.h = nil
	}
	owned := g.owned
	g.owned = nil
	g.mu.Unlock()
	for i := len(owned) - 1; i >= 0; i-- {
		owned[i]()
	}
}
