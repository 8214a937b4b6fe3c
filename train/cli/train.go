package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/train/loop"
	"github.com/seqtorch/seqtorch/train/runlog"
)

// TrainCommand is what a training command brings to the shared command shell: its
// configuration type T, the flags that set it, the checks of it and the training itself.
// [TrainCommand.Run] puts them together with the [RunFlags] (--json, --resume, --force).
type TrainCommand[T any] struct {
	Name     string // the command's name, as [NewFlagSet] takes it
	Synopsis string // the -h text before the flags, as [NewFlagSet] takes it
	// Invocation is how messages call the command ("go run ./train/sms"): an interrupted run
	// prints it before --resume DIR.
	Invocation string
	// Bind registers the configuration flags on fs, writing into c (see [Resume]).
	Bind func(fs *flag.FlagSet, c *T)
	// Normalize fills in what the flags leave open (see [Resume]); nil: nothing.
	Normalize func(c *T) error
	// Validate checks the normalized configuration; bad values are *UsageErrors naming the flag.
	Validate func(c *T) error
	// Saved reads the configuration of the run that --resume dir continues; config is the path
	// of its config.json, which [ResumeDir] has checked exists.
	Saved func(dir, config string) (T, error)
	// Out returns the configuration's run folder (--out): Run sets it to the --resume folder.
	Out func(c *T) *string
	// RunFiles are the command's run-folder files besides those [PrepareOut] knows.
	RunFiles []string
	// Train trains (or, with resume, continues) the run that c describes, writes its run folder
	// and returns the summary that --json writes. log is for the progress.
	Train func(ctx context.Context, c *T, resume bool, log, stderr io.Writer) (summary any, err error)
	// Interrupted tells whether an error of Train is an interruption that left a checkpoint
	// (errors.Is(err, loop.ErrInterrupted)); Run then returns an [InterruptedError] whose
	// message is the command that resumes the run. nil: none is.
	Interrupted func(err error) bool
	// Dist returns the configuration's data-parallel flags; nil: the command has none. Run
	// registers them (Bind must not) and, with --nproc N > 1, launches N workers of the
	// command (see [TrainCommand.Run]).
	Dist func(c *T) *DistFlags
	// Presets are named configurations that --preset NAME selects: each is a list of flags
	// applied before the command line's own, which override them. nil: no --preset flag.
	Presets map[string]Preset
	// Ensemble combines the trained members of an ensemble preset ([Preset.Members]): dirs
	// are their run folders, in the preset's order, inside out; it writes what the ensemble
	// measured into out and returns the summary that --json writes. nil: the command has no
	// ensemble presets.
	Ensemble func(ctx context.Context, out string, dirs []string, log io.Writer) (summary any, err error)
}

// Preset is a named configuration of a training command (see [TrainCommand.Presets]).
type Preset struct {
	Args []string // the flags, as on a command line
	Doc  string   // one line for -h: what the preset is and what it measured
	// Members, when set, make the preset an ensemble: Run trains each named preset (none of
	// them an ensemble) into the folder of its name inside --out, with the command line's
	// flags applied to every member, then hands the folders to [TrainCommand.Ensemble]. Args
	// must then be empty.
	Members []string
}

// EnsembleFile is the file of an ensemble preset's --out folder that lists its members.
const EnsembleFile = "ensemble.json"

// Run is the training command: it reads the command line (or, with --resume, the run's own
// configuration through [Resume]), normalizes and validates the configuration, checks the run
// folder ([PrepareOut], for a new run), trains and writes the summary where --json says.
//
// With Dist, the process may be one of several (see [Worker]). Not a worker, with --nproc N
// > 1, it checks the run folder and then runs N workers of itself through [Launch], with the
// same arguments (and --force for a new run, since the folder passed the check) instead of
// training. As a worker, --nproc must be 1 or the world's size (RANK/WORLD_SIZE set by
// torchrun, say, with another --nproc are refused); a worker other than rank 0 neither checks
// the run folder nor writes --json, logs to stdout (which Launch discards), and ends an
// interruption with a [SilentError] of status 130, as rank 0 prints how to resume.
func (tc *TrainCommand[T]) Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	bind := tc.Bind
	if tc.Dist != nil {
		bind = func(fs *flag.FlagSet, c *T) {
			tc.Bind(fs, c)
			tc.Dist(c).Register(fs)
		}
	}
	fs, c, rf, preset, err := tc.parse(args, bind, stderr)
	if err != nil {
		return err
	}
	if preset != "" {
		p, ok := tc.Presets[preset]
		switch {
		case !ok:
			return Usagef("unknown --preset %q (want %s)", preset, strings.Join(slices.Sorted(maps.Keys(tc.Presets)), ", "))
		case rf.Resume != "":
			return Usagef("--preset with --resume: a resumed run keeps its own settings")
		}
		// Parse again, the preset's flags first: the command line's own come after and win.
		if fs, c, rf, _, err = tc.parse(slices.Concat(p.Args, args), bind, stderr); err != nil {
			return fmt.Errorf("--preset %s: %w", preset, err)
		}
	}
	normalize := tc.Normalize
	if normalize == nil {
		normalize = func(*T) error { return nil }
	}
	if tc.Dist != nil {
		own := normalize
		normalize = func(c *T) error {
			tc.Dist(c).defaults() // a run saved before the flags existed
			return own(c)
		}
	}
	if p, ok := tc.Presets[preset]; ok && len(p.Members) > 0 {
		return tc.runEnsemble(ctx, preset, p, *tc.Out(&c), rf, args, bind, normalize, stdout, stderr)
	}
	resume := rf.Resume != ""
	locked := false // this process holds the run folder's lock
	if resume && locksFolder() {
		// Lock before anything reads or settles the folder: another run may be writing it.
		unlock, err := LockOut(rf.Resume, "--resume")
		if err != nil {
			return err
		}
		defer unlock()
		locked = true
	}
	if resume {
		config, err := ResumeDir(rf.Resume)
		if err != nil {
			return err
		}
		saved, err := tc.Saved(rf.Resume, config)
		if err != nil {
			return err
		}
		if c, err = Resume(fs, rf.Resume, saved, bind, normalize); err != nil {
			return err
		}
		*tc.Out(&c) = rf.Resume
	}
	if err := normalize(&c); err != nil {
		return err
	}
	if tc.Dist != nil { // --nproc's range before the checks that depend on it (--batch)
		if err := tc.Dist(&c).Validate(); err != nil {
			return err
		}
	}
	if err := tc.Validate(&c); err != nil {
		return err
	}
	worker := distributed.Env{WorldSize: 1, LocalWorldSize: 1} // not launched: a world of one
	if tc.Dist != nil {
		d := tc.Dist(&c)
		w, ok, err := Worker()
		if err != nil {
			return &UsageError{Msg: err.Error()}
		}
		switch {
		case ok && d.NProc > 1 && d.NProc != w.WorldSize && Set(fs)["nproc"]:
			return Usagef("--nproc: this process already runs as rank %d of %d (RANK/WORLD_SIZE are set, e.g. by torchrun); drop --nproc", w.Rank, w.WorldSize)
		case ok && d.NProc > 1 && d.NProc != w.WorldSize:
			return Usagef("--resume %s: the run was trained by --nproc %d processes, but this one runs as rank %d of %d (RANK/WORLD_SIZE are set, e.g. by torchrun); resume it with a world of %d",
				rf.Resume, d.NProc, w.Rank, w.WorldSize, d.NProc)
		case !ok && d.NProc > 1:
			return tc.launch(ctx, &c, d, args, resume, rf.Force, locked, stdout, stderr)
		}
		worker = w
	}
	var aside *Aside
	if !resume && (worker.Rank == 0) {
		if locksFolder() {
			unlock, err := LockOut(*tc.Out(&c), "--out")
			if err != nil {
				return err
			}
			defer unlock()
		}
		if aside, err = PrepareOut(*tc.Out(&c), rf.Force, tc.RunFiles...); err != nil {
			return err
		}
	}
	log := rf.Log(stdout, stderr)
	if worker.Rank != 0 {
		log = stdout
	}
	sum, err := tc.Train(ctx, &c, resume, log, stderr)
	// The run --force replaces is discarded once this one has a checkpoint, and put back
	// otherwise.
	if serr := aside.Settle(); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil && tc.Interrupted != nil && tc.Interrupted(err) {
		if worker.Rank != 0 {
			return &SilentError{Code: 130, Err: err}
		}
		return Interrupted(err, tc.Invocation, *tc.Out(&c))
	}
	if err != nil {
		return err
	}
	if worker.Rank != 0 {
		return nil
	}
	return rf.WriteJSON(stdout, sum)
}

// runEnsemble trains the members of the ensemble preset p (named name) into out/<member>, one
// after the other through Run with args (the command line, which names p, cut at a "--")
// followed by the member's --preset and --out, then calls tc.Ensemble. Before the first
// member trains it checks every member's configuration (bind, normalize, Validate) and
// folder, and writes out/ensemble.json (see [WriteEnsemble]). A member that fails or is
// interrupted ends the ensemble with its error; the members trained so far stay in out.
//
// Run again without --force on an unfinished ensemble (ensemble.json but no summary.json), it
// continues: a member whose folder holds a run is resumed (--resume, with the member's
// --epochs, --device and --threads) when every other flag still says what the run was trained
// with, and refused, naming the flag, otherwise; the others train. --force trains all anew.
// Ensembles are trained by one process: under a launcher (RANK set) they are refused, while
// --nproc N trains each member with N workers.
func (tc *TrainCommand[T]) runEnsemble(ctx context.Context, name string, p Preset, out string, rf RunFlags, args []string,
	bind func(*flag.FlagSet, *T), normalize func(*T) error, stdout, stderr io.Writer) error {
	if err := tc.checkEnsemble(name, p); err != nil {
		return err
	}
	if _, ok, _ := Worker(); ok {
		return Usagef("--preset %s trains %d models one after the other: run it in one process (--nproc N trains each with N workers), not under a launcher that sets RANK", name, len(p.Members))
	}
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[:i] // the command line has no arguments after flags; the members' flags follow
	}
	_, errList := os.Lstat(filepath.Join(out, EnsembleFile))
	_, errSum := os.Lstat(filepath.Join(out, SummaryFile))
	if errList == nil && errSum == nil && !rf.Force {
		return Usagef("--out %s already holds an ensemble (%s, %s); add --force to replace it", out, EnsembleFile, SummaryFile)
	}
	dirs := make([]string, len(p.Members))
	margs := make([][]string, len(p.Members)) // each member's command line
	for i, m := range p.Members {
		dirs[i] = filepath.Join(out, m)
		var err error
		if margs[i], err = tc.memberArgs(m, dirs[i], args, rf.Force, bind, normalize); err != nil {
			return fmt.Errorf("--preset %s, member %s: %w", name, m, err)
		}
	}
	unlock, err := LockOut(out, "--out")
	if err != nil {
		return err
	}
	defer unlock()
	// The members are the old ensemble's folders: they are replaced one by one, each kept
	// until its new run has a checkpoint.
	aside, err := PrepareOut(out, rf.Force, slices.Concat([]string{EnsembleFile}, tc.RunFiles)...)
	if err != nil {
		return err
	}
	if err := aside.Settle(); err != nil { // the ensemble's own files hold no checkpoint
		return err
	}
	if err := WriteEnsemble(out, p.Members); err != nil {
		return err
	}
	log := rf.Log(stdout, stderr)
	for i, m := range p.Members {
		what := fmt.Sprintf("--preset %s --out %s", m, dirs[i])
		if margs[i][0] == "--resume" {
			what = "continuing the run in " + dirs[i] + " (--resume)"
		}
		fmt.Fprintf(log, "--preset %s: member %d of %d, %s\n", name, i+1, len(p.Members), what)
		if err := tc.Run(ctx, margs[i], log, stderr); err != nil {
			return err
		}
	}
	sum, err := tc.Ensemble(ctx, out, dirs, log)
	if err != nil {
		return fmt.Errorf("--preset %s: %w", name, err)
	}
	return rf.WriteJSON(stdout, sum)
}

// memberArgs checks member preset m of an ensemble, to be trained in dir with the command
// line args, and returns the command line that trains it: the member's --preset and --out
// after args, or, without force and with a run in dir, --resume dir with the member's
// --epochs, --device and --threads, once [Resume] agrees that every other flag (set or left
// at its default) says what the run was trained with.
func (tc *TrainCommand[T]) memberArgs(m, dir string, args []string, force bool, bind func(*flag.FlagSet, *T), normalize func(*T) error) ([]string, error) {
	fs, c, _, _, err := tc.parse(slices.Concat(tc.Presets[m].Args, args, []string{"--out", dir}), bind, io.Discard)
	if err != nil {
		return nil, err
	}
	if err := normalize(&c); err != nil {
		return nil, err
	}
	if tc.Dist != nil {
		if err := tc.Dist(&c).Validate(); err != nil {
			return nil, err
		}
	}
	if err := tc.Validate(&c); err != nil {
		return nil, err
	}
	train := slices.Concat(args, []string{"--preset", m, "--out", dir, "--json", ""})
	if force {
		return train, nil
	}
	config := filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(config); err != nil {
		_, err := PrepareOut(dir, false) // no run there: refuses only a file
		return train, err
	}
	saved, err := tc.Saved(dir, config)
	if err != nil {
		return nil, err
	}
	// Every configuration flag counts as given, so that Resume compares them all.
	set := Set(fs)
	var ferr error
	fs.VisitAll(func(f *flag.Flag) {
		if !set[f.Name] && !slices.Contains([]string{"force", "resume", "json", "preset"}, f.Name) && ferr == nil {
			ferr = fs.Set(f.Name, f.Value.String())
		}
	})
	if ferr != nil {
		return nil, ferr
	}
	if _, err := Resume(fs, dir, saved, bind, normalize); err != nil {
		return nil, fmt.Errorf("%w; add --force to train the ensemble anew", err)
	}
	resume := []string{"--resume", dir, "--json", ""}
	for _, name := range MayChange {
		if f := fs.Lookup(name); f != nil {
			resume = append(resume, "--"+name, f.Value.String())
		}
	}
	return resume, nil
}

// checkEnsemble refuses an ensemble preset the command cannot train: no Ensemble hook, Args
// set, or members that are not distinct presets of one model named like a folder.
func (tc *TrainCommand[T]) checkEnsemble(name string, p Preset) error {
	if tc.Ensemble == nil || len(p.Args) > 0 {
		return fmt.Errorf("--preset %s: %s cannot train it (an ensemble preset needs TrainCommand.Ensemble and no Args)", name, tc.Name)
	}
	seen := map[string]bool{}
	for _, m := range p.Members {
		mp, ok := tc.Presets[m]
		if !ok || len(mp.Members) > 0 || seen[m] || m != filepath.Base(m) || m == "." || m == ".." {
			return fmt.Errorf("--preset %s: member %q is not a preset of one model, named once, usable as a folder name", name, m)
		}
		seen[m] = true
	}
	return nil
}

// ensembleList is the content of [EnsembleFile].
type ensembleList struct {
	Members []string `json:"members"` // the members' run folders, relative to the ensemble's
}

// WriteEnsemble writes dir/ensemble.json ([EnsembleFile]), naming the members' run folders
// relative to dir, atomically. An ensemble preset writes it before its members train, so a
// folder whose members were finished by hand serves as a whole (see [EnsembleMembers]).
func WriteEnsemble(dir string, members []string) error {
	b, err := json.MarshalIndent(ensembleList{Members: members}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return runlog.AtomicWriteFile(filepath.Join(dir, EnsembleFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// EnsembleMembers returns the run folders of the ensemble in dir (relative members joined to
// dir), or ok false when dir has no [EnsembleFile].
func EnsembleMembers(dir string) (members []string, ok bool, err error) {
	path := filepath.Join(dir, EnsembleFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var l ensembleList
	if err := json.Unmarshal(b, &l); err != nil || len(l.Members) == 0 || slices.Contains(l.Members, "") {
		return nil, false, fmt.Errorf("%s: want {\"members\": [folder, ...]}, the ensemble's run folders", path)
	}
	for _, m := range l.Members {
		if !filepath.IsAbs(m) {
			m = filepath.Join(dir, m)
		}
		members = append(members, m)
	}
	return members, true, nil
}

// parse parses args on a new flag set (its messages to out) with the configuration flags
// (bind), the [RunFlags] and --preset, and returns the flag set, the configuration, the run
// flags and the preset's name.
func (tc *TrainCommand[T]) parse(args []string, bind func(*flag.FlagSet, *T), out io.Writer) (*flag.FlagSet, T, RunFlags, string, error) {
	fs := NewFlagSet(tc.Name, tc.Synopsis, out)
	c := new(T)
	bind(fs, c)
	var rf RunFlags
	rf.Register(fs)
	preset := tc.registerPreset(fs)
	err := Parse(fs, args)
	return fs, *c, rf, *preset, err
}

// registerPreset registers --preset on fs when the command has presets; the returned name
// stays empty otherwise.
func (tc *TrainCommand[T]) registerPreset(fs *flag.FlagSet) *string {
	name := new(string)
	if len(tc.Presets) == 0 {
		return name
	}
	var doc []string
	for _, k := range slices.Sorted(maps.Keys(tc.Presets)) {
		p := tc.Presets[k]
		if len(p.Members) > 0 {
			doc = append(doc, fmt.Sprintf("%s: %s [ensemble of the presets %s]", k, p.Doc, strings.Join(p.Members, ", ")))
			continue
		}
		doc = append(doc, fmt.Sprintf("%s: %s [%s]", k, p.Doc, strings.Join(p.Args, " ")))
	}
	fs.StringVar(name, "preset", "", "a named configuration; flags given with it override its values: "+strings.Join(doc, "; "))
	return name
}

// locksFolder reports whether this process locks the run folder it trains into: a process
// that was not launched, or rank 0 under torchrun; not a worker of [Launch], which holds the
// lock for its workers, nor the other ranks, which do not write the folder.
func locksFolder() bool {
	w, ok, _ := Worker()
	return !ok || (w.Rank == 0 && w.StoreFile == "")
}

// launch checks the run folder of a new run and runs d.NProc workers of the command with
// args (see [TrainCommand.Run]), holding the folder's lock for them.
func (tc *TrainCommand[T]) launch(ctx context.Context, c *T, d *DistFlags, args []string, resume, force, locked bool, stdout, stderr io.Writer) (err error) {
	dir := *tc.Out(c)
	if !locked {
		unlock, err := LockOut(dir, "--out")
		if err != nil {
			return err
		}
		defer unlock()
	}
	if resume {
		// Refuse here, once, a run without a checkpoint to resume: each worker would say so.
		if _, err := loop.ReadCheckpoint(dir); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--resume %s: the run stopped before its first checkpoint, so there is nothing to resume; start it anew with --out %s --force",
				dir, ShellQuote(dir))
		}
	}
	if !resume {
		aside, err := PrepareOut(dir, force, tc.RunFiles...)
		if err != nil {
			return err
		}
		defer func() {
			if serr := aside.Settle(); serr != nil {
				err = errors.Join(err, serr)
			}
		}()
		if !force {
			// Rank 0 checks the folder again; it may now exist. --force goes first, where it
			// cannot follow a "--" that ends the flags.
			args = append([]string{"--force"}, args...)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--nproc %d: the program to launch: %w", d.NProc, err)
	}
	return Launch(ctx, LaunchOptions{
		NProc:      d.NProc,
		Exe:        exe,
		Args:       args,
		Stdout:     stdout,
		Stderr:     stderr,
		Timeout:    d.Timeout,
		MasterAddr: d.MasterAddr,
		MasterPort: d.MasterPort,
		Name:       tc.Name,
	})
}
