package cli

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// Flags are a training command's flags: the configuration T that Bind registers, the
// [RunFlags] (--json, --resume, --force) and, with Presets, --preset. [Flags.Parse] reads a
// command line into a [CommandLine]; the command then checks the configuration once and
// trains it (see [OpenRun]).
type Flags[T any] struct {
	Name     string // the command's name, as [NewFlagSet] takes it
	Synopsis string // the -h text before the flags, as [NewFlagSet] takes it
	// Invocation is how messages call the command ("go run ./train/sms"): an interrupted run
	// prints it before --resume DIR.
	Invocation string
	// Bind registers the configuration's flags on fs (the data-parallel [DistFlags] among
	// them, if the command has them), writing their defaults into c. It must register --out,
	// the run folder.
	Bind func(fs *flag.FlagSet, c *T)
	// Normalize fills in what the flags leave open (see [Resume]); nil: nothing.
	Normalize func(c *T) error
	// Presets are named configurations that --preset NAME selects. nil: no --preset flag.
	Presets map[string]Preset
}

// Preset is a named configuration of a training command (see [Flags.Presets]).
type Preset struct {
	Args []string // the flags, as on a command line
	Doc  string   // one line for -h: what the preset is and what it measured
	// Members, when set, make the preset an ensemble: the command trains each named preset
	// (none of them an ensemble) into the folder of its name inside --out, with the command
	// line's flags applied to every member (see [OpenEnsemble]). Args must then be empty.
	Members []string
}

// CommandLine is a parsed command line of a training command.
type CommandLine[T any] struct {
	// Config is the configuration the flags say, --preset's flags applied first: not yet
	// normalized nor validated, and without what --resume restores (see
	// [CommandLine.Restore]).
	Config T
	Run    RunFlags // --json, --resume, --force
	Preset string   // --preset's name; "" when not given
	// Args is the command line, as a --nproc worker gets it.
	Args []string

	flags *Flags[T]
	fs    *flag.FlagSet // the parsed flags, bound to Config
	// every: Restore compares every configuration flag with the run's, set or not (an
	// ensemble's member, see OpenEnsemble), not only the ones the command line sets.
	every bool
}

// Parse parses args (the command line, without the command's name): the configuration flags,
// the run flags and --preset. -h prints the synopsis and the flags to stderr and returns
// flag.ErrHelp; bad input is a one-line *UsageError. A preset's flags come first and the
// command line's own override them; an unknown preset, a preset with --resume and an ensemble
// preset that is not one are refused.
func (f *Flags[T]) Parse(args []string, stderr io.Writer) (*CommandLine[T], error) {
	cl := f.newCommandLine(stderr)
	if err := Parse(cl.fs, args); err != nil {
		return nil, err
	}
	cl.Args = args
	if cl.Preset == "" {
		return cl, nil
	}
	p, ok := f.Presets[cl.Preset]
	switch {
	case !ok:
		return nil, Usagef("unknown --preset %q (want %s)", cl.Preset, strings.Join(slices.Sorted(maps.Keys(f.Presets)), ", "))
	case cl.Run.Resume != "":
		return nil, Usagef("--preset with --resume: a resumed run keeps its own settings")
	case len(p.Members) > 0:
		return cl, f.checkEnsemble(cl.Preset, p)
	}
	pcl, err := cl.withPreset(p, func(string) bool { return true })
	if err != nil {
		return nil, fmt.Errorf("--preset %s: %w", cl.Preset, err)
	}
	return pcl, nil
}

// Set reports whether the command line (or its preset) set the flag name.
func (c *CommandLine[T]) Set(name string) bool { return Set(c.fs)[name] }

// Restore returns the configuration of the run that --resume names: saved, the run's own
// (its config.json's), with the command line's --epochs, --device and --threads ([MayChange]).
// Any other configuration flag the command line sets must say what the run was trained with,
// or it is refused naming the flag (see [Resume]).
func (c *CommandLine[T]) Restore(saved T) (T, error) {
	names := slices.Sorted(maps.Keys(Set(c.fs)))
	if c.every {
		names = nil
		c.fs.VisitAll(func(f *flag.Flag) {
			if !slices.Contains([]string{"force", "resume", "json", "preset"}, f.Name) {
				names = append(names, f.Name)
			}
		})
	}
	return resume(c.fs, names, c.Run.Resume, saved, c.flags.Bind, c.flags.Normalize)
}

// newCommandLine returns a command line with the flags registered on a new flag set (its
// messages to out) and nothing parsed.
func (f *Flags[T]) newCommandLine(out io.Writer) *CommandLine[T] {
	cl := &CommandLine[T]{flags: f, fs: NewFlagSet(f.Name, f.Synopsis, out)}
	f.Bind(cl.fs, &cl.Config)
	cl.Run.Register(cl.fs)
	if len(f.Presets) > 0 {
		cl.fs.StringVar(&cl.Preset, "preset", "", "a named configuration; flags given with it override its values: "+f.presetDoc())
	}
	return cl
}

// withPreset returns the command line that preset p's flags and then c's own say: p.Args
// parsed, then each flag that c sets and keep accepts set again to c's value. Args stays c's.
func (c *CommandLine[T]) withPreset(p Preset, keep func(name string) bool) (*CommandLine[T], error) {
	pcl := c.flags.newCommandLine(io.Discard)
	if err := Parse(pcl.fs, p.Args); err != nil {
		return nil, err
	}
	for name := range Set(c.fs) {
		if !keep(name) {
			continue
		}
		if err := pcl.fs.Set(name, c.fs.Lookup(name).Value.String()); err != nil {
			return nil, Usagef("--%s: %v", name, err)
		}
	}
	pcl.Args = c.Args
	return pcl, nil
}

// presetDoc describes the presets for --preset's -h line.
func (f *Flags[T]) presetDoc() string {
	var doc []string
	for _, k := range slices.Sorted(maps.Keys(f.Presets)) {
		p := f.Presets[k]
		if len(p.Members) > 0 {
			doc = append(doc, fmt.Sprintf("%s: %s [ensemble of the presets %s]", k, p.Doc, strings.Join(p.Members, ", ")))
			continue
		}
		doc = append(doc, fmt.Sprintf("%s: %s [%s]", k, p.Doc, strings.Join(p.Args, " ")))
	}
	return strings.Join(doc, "; ")
}

// checkEnsemble refuses an ensemble preset the command cannot train: Args set, or members
// that are not distinct presets of one model named like a folder.
func (f *Flags[T]) checkEnsemble(name string, p Preset) error {
	if len(p.Args) > 0 {
		return fmt.Errorf("--preset %s: an ensemble preset takes no flags of its own (its members have them)", name)
	}
	seen := map[string]bool{}
	for _, m := range p.Members {
		mp, ok := f.Presets[m]
		if !ok || len(mp.Members) > 0 || seen[m] || m != filepath.Base(m) || m == "." || m == ".." {
			return fmt.Errorf("--preset %s: member %q is not a preset of one model, named once, usable as a folder name", name, m)
		}
		seen[m] = true
	}
	return nil
}
