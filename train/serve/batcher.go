package serve

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/seqtorch/seqtorch/torch"
)

// ErrClosed is returned by [Batcher.Do] once the batcher is closed (the server is stopping).
var ErrClosed = &Error{Status: http.StatusServiceUnavailable, Msg: "the server is shutting down"}

// BatchFunc runs the model on a batch of inputs and returns one output per input, in order.
// It is called on the model goroutine only (see [Batcher.Run]), inside torch.Run: the tensors
// it creates are freed when it returns, and a *torch.Error it panics with fails the batch
// with that error, as a returned one does.
type BatchFunc[In, Out any] func(in []In) ([]Out, error)

// job is one Do call: its inputs may be split over several forward passes.
type job[In, Out any] struct {
	ctx  context.Context
	in   []In
	out  []Out
	err  error
	done chan struct{}
	// Owned by the model goroutine:
	next    int  // first input not yet scheduled
	pending int  // inputs scheduled or not, not yet answered
	closed  bool // done is closed
}

func (j *job[In, Out]) finish(err error) {
	if j.closed {
		return
	}
	j.err = err
	j.closed = true
	close(j.done)
}

// part is the slice [from, to) of a job's inputs in a batch.
type part[In, Out any] struct {
	j        *job[In, Out]
	from, to int
}

// Batcher micro-batches concurrent requests onto one model goroutine: [Batcher.Do], called
// from any number of HTTP handlers, queues its inputs; [Batcher.Run], on the model goroutine,
// collects up to maxBatch inputs — waiting at most maxWait after the first for more to arrive
// — runs one forward pass over them and answers every request it served. A request larger
// than maxBatch is split over several passes. Only Run's goroutine calls the model, so the
// handlers never touch libtorch.
type Batcher[In, Out any] struct {
	run      BatchFunc[In, Out]
	maxBatch int
	maxWait  time.Duration
	metrics  *Metrics

	mu     sync.RWMutex
	closed bool
	queue  chan *job[In, Out]
	once   sync.Once
}

// NewBatcher returns a batcher running f over at most maxBatch inputs at a time, waiting at
// most maxWait for a batch to fill (0: run with whatever is queued as soon as the model is
// free). metrics may be nil.
func NewBatcher[In, Out any](f BatchFunc[In, Out], maxBatch int, maxWait time.Duration, metrics *Metrics) *Batcher[In, Out] {
	if maxBatch < 1 {
		panic(fmt.Sprintf("serve: NewBatcher: maxBatch %d < 1", maxBatch))
	}
	return &Batcher[In, Out]{run: f, maxBatch: maxBatch, maxWait: max(maxWait, 0), metrics: metrics,
		queue: make(chan *job[In, Out], 1024)}
}

// Do runs the model on in, batched with other callers' inputs, and returns its outputs in
// order. It returns ctx's error if ctx ends first (the inputs are then skipped if not yet
// run), [ErrClosed] after Close, and the model's error (as an error the server answers with
// 500) if the forward pass fails.
func (b *Batcher[In, Out]) Do(ctx context.Context, in []In) ([]Out, error) {
	if len(in) == 0 {
		return nil, nil
	}
	j := &job[In, Out]{ctx: ctx, in: in, out: make([]Out, len(in)), done: make(chan struct{}), pending: len(in)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case b.queue <- j:
	case <-ctx.Done():
		b.mu.RUnlock()
		return nil, ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case <-j.done:
		if j.err != nil {
			return nil, j.err
		}
		return j.out, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops accepting work; Run answers what is queued and returns. Close does not wait.
func (b *Batcher[In, Out]) Close() {
	b.once.Do(func() {
		b.mu.Lock()
		b.closed = true
		close(b.queue)
		b.mu.Unlock()
	})
}

// Run is the model goroutine's loop; it returns after [Batcher.Close] once the queue is
// answered. It locks the calling goroutine to its OS thread and runs with gradients off
// (torch.NoGrad: libtorch's grad mode is per thread), so the goroutine that loaded the model
// can call Run and the model stays on one thread. A panic in the model (a *torch.Error or
// any other) fails that batch's requests, never the server.
func (b *Batcher[In, Out]) Run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torch.NoGrad(b.loop)
}

func (b *Batcher[In, Out]) loop() {
	var (
		carry *job[In, Out] // a job whose inputs are only partly scheduled
		parts []part[In, Out]
		batch []In
		timer *time.Timer
	)
	open := true
	for open || carry != nil {
		parts, batch = parts[:0], batch[:0]
		// add schedules as much of j as fits; it keeps the rest in carry.
		add := func(j *job[In, Out]) {
			if j.closed || j.ctx.Err() != nil {
				j.finish(j.ctx.Err())
				return
			}
			to := min(len(j.in), j.next+b.maxBatch-len(batch))
			parts = append(parts, part[In, Out]{j, j.next, to})
			batch = append(batch, j.in[j.next:to]...)
			j.next = to
			if to < len(j.in) {
				carry = j
			}
		}
		if carry != nil {
			j := carry
			carry = nil
			add(j)
		}
		var deadline time.Time
		for len(batch) < b.maxBatch && carry == nil && open {
			var j *job[In, Out]
			var ok bool
			if len(batch) == 0 {
				j, ok = <-b.queue // idle: wait for work
			} else {
				select {
				case j, ok = <-b.queue:
				default:
					if b.maxWait == 0 {
						goto run
					}
					if deadline.IsZero() {
						deadline = time.Now().Add(b.maxWait)
						if timer == nil {
							timer = time.NewTimer(b.maxWait)
						} else {
							timer.Reset(b.maxWait)
						}
					}
					select {
					case j, ok = <-b.queue:
					case <-timer.C:
						goto run
					}
				}
			}
			if !ok {
				open = false
				break
			}
			add(j)
		}
	run:
		if timer != nil && !deadline.IsZero() {
			timer.Stop()
		}
		if len(batch) == 0 {
			continue
		}
		out, err := b.call(batch)
		k := 0
		for _, p := range parts {
			n := p.to - p.from
			if err == nil {
				copy(p.j.out[p.from:p.to], out[k:k+n])
			}
			k += n
			p.j.pending -= n
			if err != nil {
				p.j.finish(err)
			} else if p.j.pending == 0 {
				p.j.finish(nil)
			}
		}
		if carry != nil && carry.closed { // failed: drop the rest
			carry = nil
		}
		clear(batch) // let the inputs go
	}
}

// call runs the model on batch through torch.Run, the boundary that frees the pass's tensors and
// returns a *torch.Error as the batch's error; any other panic (a bug in the model) fails the
// batch too, never the server. It checks the number of outputs.
func (b *Batcher[In, Out]) call(batch []In) (out []Out, err error) {
	t0 := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("model failed: %v", r)
		}
		if err == nil && len(out) != len(batch) {
			err = fmt.Errorf("model returned %d outputs for %d inputs", len(out), len(batch))
		}
		if b.metrics != nil {
			b.metrics.BatchDone(len(batch), time.Since(t0), err)
		}
	}()
	err = torch.Run(func() (err error) {
		out, err = b.run(batch)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
