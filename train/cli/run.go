package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/train/loop"
)

// Run is a training process's hold on its run folder, from the parsed command line to the
// summary. A training command reads
//
//	run, err := cli.OpenRun(cl)       // --resume DIR: lock DIR, check that it holds a run
//	defer run.Close()
//	c, err := ...                     // the configuration: cl.Config, or cl.Restore(saved); checked
//	err = run.Start(out, dist, files) // place this process; a new run's rank 0 checks --out
//	if run.Launcher() {
//		return run.Launch(ctx, stdout, stderr) // --nproc N > 1: N workers train instead
//	}
//	sum, err := train(ctx, c, run.Resume, run.Log(stdout, stderr))
//	return run.Finish(stdout, sum, err) // interruption, --json
//
// With --nproc N > 1, a process that was not launched checks the run folder and runs N workers
// of itself through [Launch], with the same arguments (and --force for a new run, since the
// folder passed the check) instead of training. A worker must be one of a world of --nproc
// processes (RANK/WORLD_SIZE set by torchrun, say, with another --nproc are refused); a worker
// other than rank 0 neither checks the run folder nor writes --json, logs to stdout (which
// Launch discards), and ends an interruption with a [SilentError] of status 130, as rank 0
// prints how to resume.
type Run struct {
	Dir    string          // the run folder: --resume's, or what [Run.Start] got
	Resume bool            // the run continues the one in Dir (--resume)
	Worker distributed.Env // this process's rank; rank 0 of 1 when it was not launched

	name, invocation string   // the command's, for messages
	flags            RunFlags // --json, --resume, --force
	args             []string // the command line, for the workers
	nprocSet         bool     // the command line sets --nproc
	launch           *DistFlags
	locked           bool // this process holds the run folder's lock
	unlock           []func()
	aside            *Aside
}

// OpenRun begins the run that cl describes. With --resume DIR it locks DIR (unless the
// launcher of this worker holds the lock) and checks that it holds a run ([ResumeDir]), before
// the command reads the run's configuration. Close releases what the run holds.
func OpenRun[T any](cl *CommandLine[T]) (*Run, error) {
	r := &Run{Dir: cl.Run.Resume, Resume: cl.Run.Resume != "", name: cl.flags.Name, invocation: cl.flags.Invocation,
		flags: cl.Run, args: cl.Args, nprocSet: cl.Set("nproc")}
	if !r.Resume {
		return r, nil
	}
	if locksFolder() {
		// Lock before anything reads or settles the folder: another run may be writing it.
		if err := r.lock(r.Dir, "--resume"); err != nil {
			return nil, err
		}
	}
	if _, err := ResumeDir(r.Dir); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Start places this process in the run whose checked configuration has the run folder dir
// (--out; a resumed run's own) and the data-parallel flags d: as a worker of the world RANK
// and WORLD_SIZE say, or as the launcher of d.NProc > 1 workers (see [Run.Launcher]), or
// alone. For a new run, rank 0 and the launcher lock dir and check it ([PrepareOut]; files
// are the command's run-folder files besides those PrepareOut knows).
func (r *Run) Start(dir string, d DistFlags, files []string) error {
	r.Dir = dir
	w, ok, err := Worker()
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	switch {
	case ok && d.NProc > 1 && d.NProc != w.WorldSize && r.nprocSet:
		return Usagef("--nproc: this process already runs as rank %d of %d (RANK/WORLD_SIZE are set, e.g. by torchrun); drop --nproc", w.Rank, w.WorldSize)
	case ok && d.NProc > 1 && d.NProc != w.WorldSize:
		return Usagef("--resume %s: the run was trained by --nproc %d processes, but this one runs as rank %d of %d (RANK/WORLD_SIZE are set, e.g. by torchrun); resume it with a world of %d",
			r.Dir, d.NProc, w.Rank, w.WorldSize, d.NProc)
	case !ok && d.NProc > 1:
		r.launch = &d
	}
	r.Worker = w
	if r.Resume && r.launch != nil {
		// Refuse here, once, a run without a checkpoint to resume: each worker would say so.
		if _, err := loop.ReadCheckpoint(dir); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--resume %s: the run stopped before its first checkpoint, so there is nothing to resume; start it anew with --out %s --force",
				dir, ShellQuote(dir))
		}
	}
	if r.Resume || w.Rank != 0 {
		return nil
	}
	if !r.locked && (r.launch != nil || locksFolder()) {
		if err := r.lock(dir, "--out"); err != nil {
			return err
		}
	}
	r.aside, err = PrepareOut(dir, r.flags.Force, files...)
	return err
}

// Launcher reports whether this process launches the run's --nproc workers ([Run.Launch])
// instead of training.
func (r *Run) Launcher() bool { return r.launch != nil }

// Launch runs the --nproc workers of the command with its command line, holding the run
// folder's lock for them. A new run's workers get --force too: the folder passed Start's
// check, and rank 0 checks it again.
func (r *Run) Launch(ctx context.Context, stdout, stderr io.Writer) (err error) {
	if r.launch == nil {
		return errors.New("cli: Run.Launch of a process that is no launcher")
	}
	defer func() {
		if serr := r.aside.Settle(); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	args := r.args
	if !r.Resume && !r.flags.Force {
		// --force goes first, where it cannot follow a "--" that ends the flags.
		args = append([]string{"--force"}, args...)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--nproc %d: the program to launch: %w", r.launch.NProc, err)
	}
	return Launch(ctx, LaunchOptions{
		NProc:      r.launch.NProc,
		Exe:        exe,
		Args:       args,
		Stdout:     stdout,
		Stderr:     stderr,
		Timeout:    r.launch.Timeout,
		MasterAddr: r.launch.MasterAddr,
		MasterPort: r.launch.MasterPort,
		Name:       r.name,
	})
}

// Log returns where the training's human-readable output goes: stdout, or stderr when the
// summary goes to standard output (--json -); a worker other than rank 0 logs to stdout.
func (r *Run) Log(stdout, stderr io.Writer) io.Writer {
	if r.Worker.Rank != 0 {
		return stdout
	}
	return r.flags.Log(stdout, stderr)
}

// Finish ends a run that trained: err is the training's error and summary what --json
// writes. The run --force replaces is discarded once this one has a checkpoint, and put back
// otherwise. An interruption that left a checkpoint (err wraps loop.ErrInterrupted) becomes an
// [InterruptedError] whose message is the command that resumes the run (a [SilentError] of
// status 130 on ranks other than 0). Rank 0 then writes summary where --json says.
func (r *Run) Finish(stdout io.Writer, summary any, err error) error {
	if serr := r.aside.Settle(); serr != nil {
		err = errors.Join(err, serr)
	}
	r.aside = nil
	switch {
	case errors.Is(err, loop.ErrInterrupted) && r.Worker.Rank != 0:
		return &SilentError{Code: 130, Err: err}
	case errors.Is(err, loop.ErrInterrupted):
		return Interrupted(err, r.invocation, r.Dir)
	case err != nil:
		return err
	case r.Worker.Rank != 0:
		return nil
	}
	return r.flags.WriteJSON(stdout, summary)
}

// Close releases the run folder's lock.
func (r *Run) Close() {
	for i := len(r.unlock) - 1; i >= 0; i-- {
		r.unlock[i]()
	}
	r.unlock = nil
}

// lock locks dir (see [LockOut]) until Close.
func (r *Run) lock(dir, flag string) error {
	unlock, err := LockOut(dir, flag)
	if err != nil {
		return err
	}
	r.unlock = append(r.unlock, unlock)
	r.locked = true
	return nil
}

// locksFolder reports whether this process locks the run folder it trains into: a process
// that was not launched, or rank 0 under torchrun; not a worker of [Launch], which holds the
// lock for its workers, nor the other ranks, which do not write the folder.
func locksFolder() bool {
	w, ok, _ := Worker()
	return !ok || (w.Rank == 0 && w.StoreFile == "")
}
