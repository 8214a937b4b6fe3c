// Package loop is the epoch loop shared by seqtorch's training jobs.
//
// A job describes itself in a [Config]: its batches (a pure function of the epoch), one
// training step, a validation pass, and how to save and load its model and optimizer.
// [Run] then does the rest:
//
//   - all libtorch work happens on the calling goroutine, locked to its OS thread (grad mode is
//     per thread in libtorch): EpochStart, Step, Validate and the persisters run there. Only the
//     iteration of the batch sequence runs on another goroutine, a few batches ahead;
//   - every step runs inside torch.Run, so a step's tensors are freed and a *torch.Error panic
//     (a libtorch failure, a module rejecting its input) becomes an error, not a crash;
//   - the step's loss is accumulated on the device and read back to the host only every
//     ReadEvery steps (for the progress display) and once per epoch;
//   - after each epoch: validation (eval mode, no grad), one metrics.jsonl line, a log line,
//     the best-validation model (kept separately), and a checkpoint;
//   - checkpoints hold the model and optimizer state (and the learning-rate schedule's, if
//     any), the epoch and step reached, the seed, the best validation value and the history.
//     They are written into a temporary folder and swapped in by rename, so a crash leaves
//     either the old or the new checkpoint;
//   - cancelling ctx (Ctrl-C through signal.NotifyContext) stops after the current step, writes a
//     checkpoint that includes the position inside the epoch, and returns [ErrInterrupted];
//   - temporary files that a killed run left in the run folder are removed when Run starts.
//
// # Reproducibility and resuming
//
// Before step i of epoch e the loop calls torch.ManualSeed([StepSeed](seed, e, i)), and the job's
// batches must depend only on its seed and the epoch (data.Batches with Shuffle does). Dropout
// masks and batch order are therefore pure functions of (seed, epoch, step), and a run resumed
// from any checkpoint, even one written in the middle of an epoch, ends with the same weights
// and the same history as an uninterrupted run with the same seed. Seeding per step rather
// than per epoch is what makes mid-epoch checkpoints exact; seeding is cheap.
//
// Epochs are numbered from 1 and steps within an epoch from 0.
package loop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/runlog"
)

// ErrInterrupted is returned (wrapped) by [Run] when ctx was cancelled; a checkpoint of the
// position reached has been written and the run can be resumed. errors.Is also matches it
// against context.Canceled, so code that knows nothing of the loop sees a cancellation.
var ErrInterrupted error = interruptedError{}

type interruptedError struct{}

func (interruptedError) Error() string { return "training interrupted" }

func (interruptedError) Is(target error) bool { return target == context.Canceled }

// Persister saves and loads one part of the training state (the model's parameters, the
// optimizer's state) to and from a single file. Save may write path directly: the loop always
// passes a temporary path and renames it afterwards.
type Persister interface {
	Save(path string) error
	Load(path string) error
}

// PersistFuncs adapts a pair of functions to [Persister].
type PersistFuncs struct {
	SaveFunc func(path string) error
	LoadFunc func(path string) error
}

// Save implements [Persister].
func (p PersistFuncs) Save(path string) error { return p.SaveFunc(path) }

// Load implements [Persister].
func (p PersistFuncs) Load(path string) error { return p.LoadFunc(path) }

// StepResult is what one training step reports.
type StepResult struct {
	// Loss is the mean loss over the batch: a one-element tensor on any device. It may require
	// grad; the loop only reads it (without recording) and the step's scope frees it.
	Loss *torch.Tensor
	// Correct, if not nil, is the number of correct predictions in the batch (a one-element
	// tensor); the loop then reports a training accuracy.
	Correct *torch.Tensor
	// N is the number of examples in the batch; it weights Loss in the epoch mean.
	N int
}

// Metrics are named values of an evaluation, e.g. {"val_loss": 0.1, "val_accuracy": 0.98}.
type Metrics map[string]float64

// Config describes a training job to [Run]. B is the job's batch type.
type Config[B any] struct {
	// Epochs is the number of the last epoch to train (>= 1). A resumed run may raise it.
	Epochs int
	// Seed makes the run repeatable; see the package documentation.
	Seed uint64
	// Dir is the run folder: metrics.jsonl, the checkpoint and the best model go there.
	Dir string
	// Resume continues from the checkpoint in Dir instead of starting afresh.
	Resume bool

	// EpochStart, if not nil, is called on the loop's goroutine before the first step of each
	// epoch, and before the remaining steps of an epoch that a resumed run continues: the
	// place for per-epoch settings such as a learning-rate schedule. Compute them from the
	// epoch number (not by counting calls), so that a resumed run gets the same values.
	EpochStart func(epoch int) error
	// Batches returns the training batches of an epoch. It must be a pure function of the
	// epoch (and the job's seed). Batches itself is called on the loop's goroutine, after
	// EpochStart; the sequence it returns is then iterated on another goroutine, a few
	// batches ahead of the steps, so iterating it must not touch libtorch or the job's
	// mutable state.
	Batches func(epoch int) iter.Seq[B]
	// NumBatches returns how many batches Batches(epoch) yields (for the progress display).
	NumBatches func(epoch int) int
	// Step runs one training step on b: forward, backward, optimizer step. It runs with grad
	// enabled, in training mode, inside torch.Run: the tensors it creates are freed when it
	// returns (torch.Unscope those that must outlive it), and a *torch.Error it panics with
	// (a shape mismatch, a module rejecting its input) is the step's error, as a returned one.
	Step func(b B) (StepResult, error)
	// Validate, if not nil, evaluates the model after each epoch. It runs in eval mode under
	// NoGrad inside torch.Run, as Step does.
	Validate func(epoch int) (Metrics, error)
	// SetTraining switches the model between training (dropout on) and eval mode.
	SetTraining func(training bool)

	// Model and Optimizer persist the state a checkpoint needs (Optimizer may be nil for
	// stateless optimizers).
	Model, Optimizer Persister
	// Scheduler, if not nil, persists a learning-rate schedule's state beside the optimizer's
	// (optim.Persister of the schedule), so that a resumed run continues the schedule. A
	// checkpoint written without one cannot be resumed with one.
	Scheduler Persister
	// ModelFile, OptimizerFile, SchedulerFile and BestFile name the files written (defaults
	// "model.safetensors", "optimizer.pt", "scheduler.pt" and "best.safetensors"); the first
	// three live inside Dir/checkpoint, BestFile in Dir.
	ModelFile, OptimizerFile, SchedulerFile, BestFile string

	// Monitor is the Validate metric that selects the best model (e.g. "val_accuracy");
	// Maximize says whether larger is better. With Monitor empty (or no Validate) the last
	// epoch is the best. Ties keep the earlier epoch.
	Monitor  string
	Maximize bool

	// Progress, if not nil, shows the steps of each epoch (runlog.NewProgress).
	Progress runlog.Progress
	// Log, if not nil, receives one summary line per epoch and notes on resuming.
	Log io.Writer
	// ReadEvery is how often (in steps) the running loss is read back for Progress; each read
	// is a device sync. Zero means 20.
	ReadEvery int
	// Prefetch is how many batches are prepared ahead (zero means 2).
	Prefetch int
	// OnEpoch, if not nil, is called after each epoch's record and checkpoint are written.
	OnEpoch func(Record) error

	// Dist, if not nil, makes this run one rank of a data-parallel job; see [Dist].
	Dist *Dist
}

// Dist is what the loop needs from a data-parallel job (torch/distributed, torch/nn/parallel)
// whose ranks each run [Run] on their shard of every epoch's batches (data.BatchOptions Rank
// and World), with the same number of steps per epoch on every rank:
//
//   - only rank 0 writes the run folder (metrics, best model, checkpoints) and validates; the
//     other ranks read a checkpoint to resume, and none of them writes, prints or validates;
//   - before every step the ranks agree whether to stop (AnyStop): Ctrl-C on any rank stops all
//     of them at the same step, and rank 0's checkpoint then holds that step;
//   - the epoch's training loss and accuracy are over every rank's examples (Sum), as is the
//     partial sum a mid-epoch checkpoint keeps (rank 0 resumes it; the others resume from 0);
//   - each rank seeds libtorch before a step with StepSeed mixed with its rank (rank 0: StepSeed
//     itself), so the ranks draw different dropout masks, reproducibly.
type Dist struct {
	// Rank is this process's rank; rank 0 is the main one.
	Rank int
	// AnyStop reports whether any rank's stop is true (an all-reduce with max). Every rank
	// calls it before every step.
	AnyStop func(stop bool) (bool, error)
	// Sum replaces v with its elementwise sum over the ranks (an all-reduce).
	Sum func(v []float64) error
}

// main reports whether this run writes the run folder (not a rank other than 0).
func (c *Config[B]) main() bool { return c.Dist == nil || c.Dist.Rank == 0 }

// Result is the outcome of [Run].
type Result struct {
	// History holds one record per finished epoch, including those of earlier runs when
	// resumed.
	History []Record
	// BestEpoch is the epoch whose model is in BestPath (0 if no epoch finished).
	BestEpoch int
	// BestValue is the monitored metric at BestEpoch (NaN without a monitor).
	BestValue float64
	// BestPath is the file holding the best model.
	BestPath string
	// StartEpoch and StartStep are where this call began (1 and 0 for a fresh run).
	StartEpoch, StartStep int
	// Interrupted tells whether ctx stopped the run early.
	Interrupted bool
}

const (
	defaultReadEvery = 20
	defaultPrefetch  = 2
)

func (c *Config[B]) withDefaults() error {
	if c.Epochs < 1 {
		return fmt.Errorf("loop: want Epochs >= 1, got %d", c.Epochs)
	}
	if c.Dir == "" {
		return errors.New("loop: Config.Dir is empty")
	}
	if c.Batches == nil || c.Step == nil {
		return errors.New("loop: Config.Batches and Config.Step are required")
	}
	if c.Model == nil {
		return errors.New("loop: Config.Model is required for checkpoints")
	}
	if c.ModelFile == "" {
		c.ModelFile = "model.safetensors"
	}
	if c.OptimizerFile == "" {
		c.OptimizerFile = "optimizer.pt"
	}
	if c.SchedulerFile == "" {
		c.SchedulerFile = "scheduler.pt"
	}
	if c.BestFile == "" {
		c.BestFile = "best.safetensors"
	}
	if c.ReadEvery <= 0 {
		c.ReadEvery = defaultReadEvery
	}
	if c.Prefetch <= 0 {
		c.Prefetch = defaultPrefetch
	}
	if c.SetTraining == nil {
		c.SetTraining = func(bool) {}
	}
	if c.NumBatches == nil {
		c.NumBatches = func(int) int { return 0 }
	}
	return nil
}

// StepSeed is the libtorch seed used before step (0-based) of epoch (1-based): a SplitMix64
// mix of the three numbers, so that neighbouring runs, epochs and steps get unrelated streams.
func StepSeed(seed uint64, epoch, step int) uint64 {
	return splitmix64(seed ^ splitmix64(uint64(epoch)<<32|uint64(uint32(step))))
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Run trains cfg's job until cfg.Epochs or until ctx is cancelled; see the package
// documentation. On cancellation it writes a checkpoint and returns the result so far with an
// error wrapping [ErrInterrupted]. Call it on the goroutine that owns the job's tensors.
func Run[B any](ctx context.Context, cfg Config[B]) (res *Result, err error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	st := &state{
		Version: stateVersion, Seed: cfg.Seed, Epoch: 1, Monitor: cfg.Monitor,
		ModelFile: cfg.ModelFile, OptimizerFile: cfg.OptimizerFile,
	}
	if cfg.Resume {
		if st, err = resume(cfg); err != nil {
			return nil, err
		}
		if !cfg.main() && st.Partial != nil { // the partial sums are all ranks' (see Dist)
			st.Partial = &Partial{TrainSeconds: st.Partial.TrainSeconds, HasCorrect: st.Partial.HasCorrect}
		}
		if cfg.Log != nil && cfg.main() {
			fmt.Fprintf(cfg.Log, "resuming from %s at epoch %d, step %d\n", checkpointDir(cfg.Dir), st.Epoch, st.Step)
		}
	}
	var rl *runlog.Run
	if cfg.main() {
		// A run killed while writing (kill -9, power loss) leaves its temporary files behind.
		if err := runlog.RemoveTemp(cfg.Dir); err != nil {
			return nil, fmt.Errorf("loop: %w", err)
		}
		if err := rewriteMetrics(cfg.Dir, st.History); err != nil {
			return nil, err
		}
		if rl, err = runlog.Open(cfg.Dir); err != nil {
			return nil, fmt.Errorf("loop: %w", err)
		}
		defer func() {
			if cerr := rl.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("loop: %w", cerr)
			}
		}()
	} else {
		cfg.Progress, cfg.Log, cfg.Validate, cfg.OnEpoch = nil, nil, nil, nil
	}

	res = &Result{StartEpoch: st.Epoch, StartStep: st.Step, BestPath: joinPath(cfg.Dir, cfg.BestFile)}
	for ; st.Epoch <= cfg.Epochs; st.Epoch, st.Step, st.Partial = st.Epoch+1, 0, nil {
		rec, interrupted, err := runEpoch(ctx, &cfg, st)
		if err != nil {
			return st.result(res), err
		}
		if interrupted {
			if !cfg.main() {
				res.Interrupted = true
				return st.result(res), fmt.Errorf("loop: epoch %d step %d: %w (rank 0 writes the checkpoint)",
					st.Epoch, st.Step, ErrInterrupted)
			}
			if err := writeCheckpoint(&cfg, st); err != nil {
				return st.result(res), fmt.Errorf("loop: interrupted, and the checkpoint failed: %w", err)
			}
			res.Interrupted = true
			return st.result(res), fmt.Errorf("loop: epoch %d step %d: %w (checkpoint in %s)",
				st.Epoch, st.Step, ErrInterrupted, checkpointDir(cfg.Dir))
		}
		if err := finishEpoch(&cfg, st, rec, rl); err != nil {
			return st.result(res), err
		}
	}
	return st.result(res), nil
}

// runEpoch trains the steps of st.Epoch from st.Step on. It returns the epoch's record
// (without validation) or interrupted=true with st.Step and st.Partial updated.
func runEpoch[B any](ctx context.Context, cfg *Config[B], st *state) (rec Record, interrupted bool, err error) {
	epoch := st.Epoch
	total := cfg.NumBatches(epoch)
	start := time.Now()
	var before float64 // training seconds of this epoch spent before the checkpoint resumed from
	if st.Partial != nil {
		before = st.Partial.TrainSeconds
	}
	acc := newAccumulator(st.Partial)
	defer acc.close()

	cfg.SetTraining(true)
	if cfg.EpochStart != nil {
		if err := cfg.EpochStart(epoch); err != nil {
			return rec, false, fmt.Errorf("loop: epoch %d: start: %w", epoch, err)
		}
	}
	if cfg.Progress != nil {
		cfg.Progress.Start(epoch, total)
		defer cfg.Progress.Done()
		if st.Step > 0 {
			cfg.Progress.Step(st.Step, acc.meanLoss())
		}
	}
	batches, stop := prefetch(cfg.Batches(epoch), cfg.Prefetch)
	defer stop()

	step := 0
	lastRead := st.Step
	for b := range batches {
		if step < st.Step { // done before the checkpoint we resume from
			step++
			continue
		}
		stop, err := cfg.stop(ctx)
		if err != nil {
			return rec, false, fmt.Errorf("loop: epoch %d step %d: %w", epoch, step, err)
		}
		if stop {
			if err := acc.read(); err != nil {
				return rec, false, err
			}
			if cfg.Progress != nil && step > lastRead {
				cfg.Progress.Step(step-lastRead, acc.windowMean())
			}
			if err := acc.sumOver(cfg.Dist); err != nil { // rank 0's checkpoint holds every rank's sums
				return rec, false, fmt.Errorf("loop: epoch %d step %d: %w", epoch, step, err)
			}
			st.Partial = acc.partial()
			st.Partial.TrainSeconds = before + time.Since(start).Seconds()
			return rec, true, nil
		}
		if err := runStep(cfg, acc, b, cfg.stepSeed(epoch, step)); err != nil {
			return rec, false, fmt.Errorf("loop: epoch %d step %d: %w", epoch, step, err)
		}
		step++
		st.Step = step
		if cfg.Progress != nil && (step-lastRead >= cfg.ReadEvery) {
			if err := acc.read(); err != nil {
				return rec, false, fmt.Errorf("loop: epoch %d step %d: %w", epoch, step-1, err)
			}
			cfg.Progress.Step(step-lastRead, acc.windowMean())
			lastRead = step
		}
	}
	if step == st.Step && step == 0 {
		return rec, false, fmt.Errorf("loop: epoch %d has no batches", epoch)
	}
	if err := acc.read(); err != nil {
		return rec, false, fmt.Errorf("loop: epoch %d: %w", epoch, err)
	}
	if cfg.Progress != nil && step > lastRead {
		cfg.Progress.Step(step-lastRead, acc.windowMean())
	}
	if err := acc.sumOver(cfg.Dist); err != nil {
		return rec, false, fmt.Errorf("loop: epoch %d: %w", epoch, err)
	}
	rec = Record{Epoch: epoch, Steps: step, TrainLoss: acc.meanLoss(), TrainAccuracy: acc.accuracy(),
		TrainSeconds: before + time.Since(start).Seconds()}
	if math.IsNaN(rec.TrainLoss) || math.IsInf(rec.TrainLoss, 0) {
		return rec, false, fmt.Errorf("loop: epoch %d: training loss is %v (try a smaller learning rate or --clip)", epoch, rec.TrainLoss)
	}
	return rec, false, nil
}

// stepSeed is the libtorch seed before step of epoch: StepSeed, mixed with the rank for ranks
// other than 0, so that the ranks' dropout masks differ as a single process's would over the
// whole batch (and stay a pure function of the seed, the epoch, the step and the rank).
func (c *Config[B]) stepSeed(epoch, step int) uint64 {
	s := StepSeed(c.Seed, epoch, step)
	if c.Dist != nil && c.Dist.Rank != 0 {
		s = splitmix64(s ^ uint64(c.Dist.Rank))
	}
	return s
}

// stop tells whether to stop before the next step: ctx is cancelled, or (Dist) on any rank.
func (c *Config[B]) stop(ctx context.Context) (bool, error) {
	stop := ctx.Err() != nil
	if c.Dist == nil {
		return stop, nil
	}
	return c.Dist.AnyStop(stop)
}

// runStep seeds libtorch, runs one step through torch.Run (its own scope, a *torch.Error panic
// returned as an error) and adds its loss to acc.
func runStep[B any](cfg *Config[B], acc *accumulator, b B, seed uint64) error {
	return torch.Run(func() error {
		torch.ManualSeed(seed)
		r, err := cfg.Step(b)
		if err != nil {
			return err
		}
		if r.Loss == nil {
			return errors.New("step returned no loss")
		}
		acc.add(r)
		return nil
	})
}

// finishEpoch validates, records, saves the best model and writes the checkpoint.
func finishEpoch[B any](cfg *Config[B], st *state, rec Record, rl *runlog.Run) error {
	if !cfg.main() { // rank 0 validates and writes; see Dist
		rec.Seconds = rec.TrainSeconds
		st.History = append(st.History, rec)
		return nil
	}
	start := time.Now()
	if cfg.Validate != nil {
		cfg.SetTraining(false)
		err := torch.Run(func() (err error) {
			torch.NoGrad(func() { rec.Val, err = cfg.Validate(rec.Epoch) })
			return err
		})
		cfg.SetTraining(true)
		if err != nil {
			return fmt.Errorf("loop: epoch %d: validation: %w", rec.Epoch, err)
		}
	}
	rec.Seconds = rec.TrainSeconds + time.Since(start).Seconds()

	improved := false
	if cfg.Monitor == "" || cfg.Validate == nil {
		improved = true
	} else {
		v, ok := rec.Val[cfg.Monitor]
		if !ok {
			return fmt.Errorf("loop: epoch %d: validation has no metric %q (it has %s)", rec.Epoch, cfg.Monitor, strings.Join(rec.Val.keys(), ", "))
		}
		switch {
		case math.IsNaN(v):
		case st.BestValue == nil:
			improved = true
		case cfg.Maximize && v > *st.BestValue, !cfg.Maximize && v < *st.BestValue:
			improved = true
		}
	}
	if improved {
		if err := saveAtomic(cfg.Model, joinPath(cfg.Dir, cfg.BestFile)); err != nil {
			return fmt.Errorf("loop: epoch %d: save best model: %w", rec.Epoch, err)
		}
		st.BestEpoch = rec.Epoch
		if v, ok := rec.Val[cfg.Monitor]; ok && cfg.Monitor != "" {
			st.BestValue = &v
		}
		rec.Best = true
	}
	st.History = append(st.History, rec)

	// The checkpoint names the next epoch: st.Epoch+1, step 0.
	next := *st
	next.Epoch, next.Step, next.Partial = st.Epoch+1, 0, nil
	if err := writeCheckpoint(cfg, &next); err != nil {
		return fmt.Errorf("loop: epoch %d: %w", rec.Epoch, err)
	}
	if err := rl.WriteEpoch(rec); err != nil {
		return fmt.Errorf("loop: epoch %d: %w", rec.Epoch, err)
	}
	if cfg.Log != nil {
		fmt.Fprintln(cfg.Log, rec.String(cfg.Epochs))
	}
	if cfg.OnEpoch != nil {
		if err := cfg.OnEpoch(rec); err != nil {
			return fmt.Errorf("loop: epoch %d: %w", rec.Epoch, err)
		}
	}
	return nil
}

// prefetch runs seq on its own goroutine, n items ahead. stop ends the goroutine early.
func prefetch[B any](seq iter.Seq[B], n int) (out iter.Seq[B], stop func()) {
	ch := make(chan B, n)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for b := range seq {
			select {
			case ch <- b:
			case <-done:
				return
			}
		}
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			close(done)
			for range ch { // let the producer finish
			}
		}
	}
	return func(yield func(B) bool) {
		for b := range ch {
			if !yield(b) {
				return
			}
		}
	}, stop
}

// accumulator sums an epoch's loss and correct counts on the device. Sums restored from a
// checkpoint seed the device sums, so a resumed epoch adds in the same order as an
// uninterrupted one and ends with the same bits.
type accumulator struct {
	lossSum, correctSum *torch.Tensor // float64 scalars on the loss's device; nil before the first step
	n                   int           // examples seen
	hasCorrect          bool

	loss, correct     float64 // last values read
	lastLoss, lastN   float64 // at the previous window read
	windowLoss, windN float64
}

func newAccumulator(p *Partial) *accumulator {
	a := &accumulator{}
	if p != nil {
		a.n = p.N
		a.hasCorrect = p.HasCorrect
		a.loss, a.correct = p.LossSum, p.CorrectSum
		a.lastLoss, a.lastN = p.LossSum, float64(p.N)
	}
	return a
}

// add accumulates r inside the step's scope (the sums are taken out of it).
func (a *accumulator) add(r StepResult) {
	if a.lossSum == nil {
		opts := []torch.Option{torch.WithDType(torch.Float64), torch.WithDevice(r.Loss.Device())}
		a.lossSum = torch.Scalar(a.loss, opts...)
		a.correctSum = torch.Scalar(a.correct, opts...)
		torch.Unscope(a.lossSum, a.correctSum)
	}
	n := max(r.N, 1)
	torch.NoGrad(func() { // sums of values, not part of any graph
		a.lossSum.AddInPlace(r.Loss.Reshape(), float64(n))
		if r.Correct != nil {
			a.correctSum.AddInPlace(r.Correct.Reshape().ToDType(torch.Float64), 1)
			a.hasCorrect = true
		}
	})
	a.n += n
}

// read copies the device sums to the host (a sync).
func (a *accumulator) read() error {
	if a.lossSum == nil {
		return nil
	}
	return torch.Try(func() {
		a.loss = a.lossSum.Item()
		a.correct = a.correctSum.Item()
		a.windowLoss, a.windN = a.loss-a.lastLoss, float64(a.n)-a.lastN
		a.lastLoss, a.lastN = a.loss, float64(a.n)
	})
}

// sumOver replaces the read sums with their sums over every rank of d (nil: none).
func (a *accumulator) sumOver(d *Dist) error {
	if d == nil {
		return nil
	}
	v := []float64{a.loss, a.correct, float64(a.n)}
	if err := d.Sum(v); err != nil {
		return err
	}
	a.loss, a.correct, a.n = v[0], v[1], int(v[2])
	return nil
}

func (a *accumulator) windowMean() float64 {
	if a.windN == 0 {
		return a.meanLoss()
	}
	return a.windowLoss / a.windN
}

func (a *accumulator) meanLoss() float64 {
	if a.n == 0 {
		return 0
	}
	return a.loss / float64(a.n)
}

func (a *accumulator) accuracy() float64 {
	if !a.hasCorrect || a.n == 0 {
		return math.NaN()
	}
	return a.correct / float64(a.n)
}

func (a *accumulator) partial() *Partial {
	return &Partial{LossSum: a.loss, CorrectSum: a.correct, N: a.n, HasCorrect: a.hasCorrect}
}

func (a *accumulator) close() {
	a.lossSum.Close()
	a.correctSum.Close()
}

func (m Metrics) keys() []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
