package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/seqtorch/seqtorch/train/runlog"
)

// ConfigFile is the file of a run folder that holds the run's own configuration, which
// --resume restores.
const ConfigFile = "config.json"

// SummaryFile is the file of a run folder that holds the final summary (--json copies it).
const SummaryFile = "summary.json"

// MayChange are the flags whose values a resumed run takes from the command line rather than
// from its saved configuration.
var MayChange = []string{"epochs", "device", "threads"}

// runMarkers are the entries whose presence makes a folder hold a run ("checkpoint" is the
// training loop's checkpoint folder).
var runMarkers = []string{ConfigFile, "checkpoint", "checkpoint.old", runlog.MetricsFile, SummaryFile}

// RunFlags are the flags of a training command that say where its output goes and whether it
// continues an earlier run. They are not part of the run's configuration.
type RunFlags struct {
	JSON   string // --json PATH: also write the summary there ("-": standard output)
	Resume string // --resume DIR: continue the run in DIR with its own configuration
	Force  bool   // --force: replace the run that --out holds
}

// Register adds --json, --resume and --force to fs.
func (r *RunFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&r.JSON, "json", "", "also write the summary (summary.json's content) to this file; - writes it to standard output and the progress to standard error")
	fs.StringVar(&r.Resume, "resume", "", "continue the interrupted (or finished) run in this folder with its own configuration; only --epochs, --device and --threads may change")
	fs.BoolVar(&r.Force, "force", false, "replace the run that --out already holds")
}

// Log returns where a command's human-readable output goes: stdout, or stderr when the
// summary goes to standard output (--json -).
func (r *RunFlags) Log(stdout, stderr io.Writer) io.Writer {
	if r.JSON == "-" {
		return stderr
	}
	return stdout
}

// WriteJSON writes v as indented JSON to the --json destination: nothing for "", stdout for
// "-", otherwise the file, atomically.
func (r *RunFlags) WriteJSON(stdout io.Writer, v any) error {
	if r.JSON == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	b = append(b, '\n')
	if r.JSON == "-" {
		_, err = stdout.Write(b)
	} else {
		err = runlog.AtomicWriteFile(r.JSON, func(w io.Writer) error {
			_, err := w.Write(b)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("--json %s: %w", r.JSON, err)
	}
	return nil
}

// PrepareOut makes dir ready for a new run. A folder that holds a run (its config.json,
// checkpoint, metrics.jsonl or summary.json) is refused with a *UsageError unless force; with
// force, those entries and the names in files (the command's other run-folder files) are
// moved aside, and nothing else: the returned [Aside] keeps the old run until the new one has
// written its first checkpoint, and puts it back if the new run fails before (call its
// Settle when the run ends). A replacement that a killed process left unsettled is settled
// first. Temporary files a killed run left behind are removed too. dir itself is created by
// the run, not here. Call it holding the folder's lock ([LockOut]) when dir exists.
func PrepareOut(dir string, force bool, files ...string) (*Aside, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, Usagef("--out %s is a file, not a folder", dir)
	}
	if err := settleAside(dir); err != nil {
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	var found []string
	for _, name := range runMarkers {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			found = append(found, name)
		}
	}
	if len(found) > 0 && !force {
		return nil, Usagef("--out %s already holds a run (%s); add --force to replace it, or continue it with --resume %s",
			dir, strings.Join(found, ", "), ShellQuote(dir))
	}
	var aside *Aside
	if force {
		if aside, err = setAside(dir, slices.Concat(runMarkers, files)); err != nil {
			return nil, err
		}
	}
	if err := runlog.RemoveTemp(dir); err != nil {
		return nil, errors.Join(err, aside.Settle())
	}
	return aside, nil
}

// ResumeDir checks that dir holds a run to resume, without creating anything, and removes
// the temporary files a killed run left there. It returns the path of the run's config.json.
func ResumeDir(dir string) (string, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("--resume %s: no such folder", dir)
	case err != nil:
		return "", fmt.Errorf("--resume %s: %w", dir, err)
	case !fi.IsDir():
		return "", fmt.Errorf("--resume %s is a file, not a run folder", dir)
	}
	if err := settleAside(dir); err != nil {
		return "", fmt.Errorf("--resume %s: %w", dir, err)
	}
	cfg := filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(cfg); err != nil {
		return "", fmt.Errorf("--resume %s is not a run folder (no %s)", dir, ConfigFile)
	}
	if err := runlog.RemoveTemp(dir); err != nil {
		return "", err
	}
	return cfg, nil
}

// Resume returns the configuration of the run in dir that --resume continues: saved (the
// run's own, read from its config.json) with the command line's --epochs, --device and
// --threads applied.
//
// fs is the parsed command line. bind registers the command's configuration flags on a value
// of T, as it registered them on fs; normalize fills in what the flags leave open (defaults
// that depend on other flags, sizes parsed from text) and must accept its own output
// unchanged; it may be nil. Any other flag the command line sets must leave the normalized
// configuration as it is: one that changes it is refused with a one-line *UsageError naming
// the flag and the run's value. The RunFlags are not configuration; --out must name dir, if
// given, and --force is refused.
func Resume[T any](fs *flag.FlagSet, dir string, saved T, bind func(*flag.FlagSet, *T), normalize func(*T) error) (T, error) {
	return resume(fs, slices.Sorted(maps.Keys(Set(fs))), dir, saved, bind, normalize)
}

// resume is [Resume] comparing the flags named (set on fs or not) instead of those fs set.
func resume[T any](fs *flag.FlagSet, names []string, dir string, saved T, bind func(*flag.FlagSet, *T), normalize func(*T) error) (T, error) {
	var zero T
	if normalize == nil {
		normalize = func(*T) error { return nil }
	}
	base, err := clone(saved)
	if err != nil {
		return zero, err
	}
	if err := normalize(&base); err != nil {
		return zero, fmt.Errorf("--resume %s: %s: %w", dir, ConfigFile, err)
	}
	// bound returns a copy of the normalized saved configuration and a flag set bound to it.
	bound := func() (*T, *flag.FlagSet, error) {
		c := new(T)
		cfs := flag.NewFlagSet("saved", flag.ContinueOnError)
		cfs.SetOutput(io.Discard)
		bind(cfs, c) // registering writes the flags' defaults into *c: overwrite them
		s, err := clone(base)
		if err != nil {
			return nil, nil, err
		}
		*c = s
		return c, cfs, nil
	}
	var changes []string
	for _, name := range names {
		switch {
		case name == "resume" || name == "json":
			continue
		case name == "force":
			return zero, Usagef("--force does not apply to --resume (the run continues in %s)", dir)
		case name == "out":
			if out := fs.Lookup(name).Value.String(); filepath.Clean(out) != filepath.Clean(dir) {
				return zero, Usagef("--out %s contradicts --resume %s: a resumed run stays in its own folder", out, dir)
			}
			continue
		case slices.Contains(MayChange, name):
			changes = append(changes, name)
			continue
		}
		// Set only this flag on the saved configuration: does it still say the same?
		c, cfs, err := bound()
		if err != nil {
			return zero, err
		}
		f := cfs.Lookup(name)
		if f == nil {
			continue // not a configuration flag
		}
		was, now := f.Value.String(), fs.Lookup(name).Value.String()
		if err := cfs.Set(name, now); err != nil {
			return zero, Usagef("--%s %s: %v", name, now, err)
		}
		if err := normalize(c); err != nil || !reflect.DeepEqual(*c, base) {
			return zero, Usagef("--%s %s contradicts the run in %s (--%s %s); on --resume only --%s may change",
				name, now, dir, name, was, strings.Join(MayChange, ", --"))
		}
	}
	c, cfs, err := bound()
	if err != nil {
		return zero, err
	}
	for _, name := range changes {
		if err := cfs.Set(name, fs.Lookup(name).Value.String()); err != nil {
			return zero, Usagef("--%s: %v", name, err)
		}
	}
	if err := normalize(c); err != nil {
		return zero, err
	}
	return *c, nil
}

// clone deep-copies a configuration through JSON, as config.json stores it.
func clone[T any](v T) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out, fmt.Errorf("configuration: %w", err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("configuration: %w", err)
	}
	return out, nil
}
