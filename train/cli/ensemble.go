package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/seqtorch/seqtorch/train/runlog"
)

// EnsembleFile is the file of an ensemble preset's --out folder that lists its members.
const EnsembleFile = "ensemble.json"

// Ensemble is the training of an ensemble preset ([Preset.Members]): its members' command
// lines, checked, and its folder, locked. A training command reads
//
//	ens, err := cli.OpenEnsemble(cl, out, check, files)
//	defer ens.Close()
//	for i, m := range ens.Members {
//		ens.Announce(log, i)
//		err := trainRun(ctx, m, ...) // as the command trains a command line of its own
//	}
//	sum, err := measure(ens.Out, ens.Dirs) // the members together
type Ensemble[T any] struct {
	Preset  string            // the preset's name
	Out     string            // its folder (--out)
	Members []*CommandLine[T] // each member's command line, in the preset's order
	Dirs    []string          // the members' run folders: Out/<member>
	unlock  func()
}

// OpenEnsemble checks the members of cl's ensemble preset, to be trained into out/<member>,
// and makes out ready: it locks out, replaces (with --force) the ensemble that out held and
// writes out/ensemble.json (see [WriteEnsemble]). A member's command line is its preset's
// flags, then cl's (cut at a "--"), then --out out/<member>; check is the command's check of a
// command line, the one it makes before training one (the configuration, or with --resume the
// restored one, normalized and validated). A member that fails it stops the ensemble before
// any training.
//
// Run again without --force on an unfinished ensemble (ensemble.json but no summary.json), the
// ensemble continues: a member whose folder holds a run is resumed (--resume, with the
// member's --epochs, --device and --threads) when every other flag still says what the run
// was trained with, and refused, naming the flag, otherwise; the others train. --force trains
// all anew. Ensembles are trained by one process: under a launcher (RANK set) they are
// refused, while --nproc N trains each member with N workers.
func OpenEnsemble[T any](cl *CommandLine[T], out string, check func(*CommandLine[T]) error, files []string) (*Ensemble[T], error) {
	p := cl.flags.Presets[cl.Preset] // checked by Parse
	if _, ok, _ := Worker(); ok {
		return nil, Usagef("--preset %s trains %d models one after the other: run it in one process (--nproc N trains each with N workers), not under a launcher that sets RANK", cl.Preset, len(p.Members))
	}
	_, errList := os.Lstat(filepath.Join(out, EnsembleFile))
	_, errSum := os.Lstat(filepath.Join(out, SummaryFile))
	if errList == nil && errSum == nil && !cl.Run.Force {
		return nil, Usagef("--out %s already holds an ensemble (%s, %s); add --force to replace it", out, EnsembleFile, SummaryFile)
	}
	e := &Ensemble[T]{Preset: cl.Preset, Out: out}
	for _, m := range p.Members {
		dir := filepath.Join(out, m)
		mcl, err := cl.member(m, dir, check)
		if err != nil {
			return nil, fmt.Errorf("--preset %s, member %s: %w", cl.Preset, m, err)
		}
		e.Members, e.Dirs = append(e.Members, mcl), append(e.Dirs, dir)
	}
	unlock, err := LockOut(out, "--out")
	if err != nil {
		return nil, err
	}
	e.unlock = unlock
	// The members are the old ensemble's folders: they are replaced one by one, each kept
	// until its new run has a checkpoint.
	aside, err := PrepareOut(out, cl.Run.Force, slices.Concat([]string{EnsembleFile}, files)...)
	if err == nil {
		err = aside.Settle() // the ensemble's own files hold no checkpoint
	}
	if err == nil {
		err = WriteEnsemble(out, p.Members)
	}
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// member returns the command line of member preset m, trained in dir (see [OpenEnsemble]):
// a new run, or without --force and with a run in dir, the resumption of that run, once check
// agrees that every flag (set or left at its default) says what it was trained with.
func (c *CommandLine[T]) member(m, dir string, check func(*CommandLine[T]) error) (*CommandLine[T], error) {
	mcl, err := c.withPreset(c.flags.Presets[m], func(name string) bool {
		return !slices.Contains([]string{"force", "resume", "json", "preset", "out"}, name)
	})
	if err != nil {
		return nil, err
	}
	if err := mcl.fs.Set("out", dir); err != nil {
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	mcl.Preset, mcl.Run = m, RunFlags{Force: c.Run.Force}
	args := c.Args
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[:i] // the command line has no arguments after its flags; the member's follow
	}
	mcl.Args = slices.Concat(args, []string{"--preset", m, "--out", dir, "--json", ""})
	if err := check(mcl); err != nil {
		return nil, err
	}
	if c.Run.Force {
		return mcl, nil
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err != nil {
		_, err := PrepareOut(dir, false) // no run there: refuses only a file
		return mcl, err
	}
	mcl.Run = RunFlags{Resume: dir}
	mcl.every = true
	mcl.Args = []string{"--resume", dir, "--json", ""}
	for _, name := range MayChange {
		if f := mcl.fs.Lookup(name); f != nil {
			mcl.Args = append(mcl.Args, "--"+name, f.Value.String())
		}
	}
	if err := check(mcl); err != nil {
		return nil, fmt.Errorf("%w; add --force to train the ensemble anew", err)
	}
	return mcl, nil
}

// Announce prints which member (index i) trains now, and how.
func (e *Ensemble[T]) Announce(w io.Writer, i int) {
	m := e.Members[i]
	what := fmt.Sprintf("--preset %s --out %s", m.Preset, e.Dirs[i])
	if m.Run.Resume != "" {
		what = "continuing the run in " + e.Dirs[i] + " (--resume)"
	}
	fmt.Fprintf(w, "--preset %s: member %d of %d, %s\n", e.Preset, i+1, len(e.Members), what)
}

// Close releases the ensemble folder's lock.
func (e *Ensemble[T]) Close() {
	if e.unlock != nil {
		e.unlock()
		e.unlock = nil
	}
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
