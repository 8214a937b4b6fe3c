package cli

import (
	"context"
	"flag"
	"io"
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
}

// Run is the training command: it reads the command line (or, with --resume, the run's own
// configuration through [Resume]), normalizes and validates the configuration, checks the run
// folder ([PrepareOut], for a new run), trains and writes the summary where --json says.
func (tc *TrainCommand[T]) Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := NewFlagSet(tc.Name, tc.Synopsis, stderr)
	var c T
	tc.Bind(fs, &c)
	var rf RunFlags
	rf.Register(fs)
	if err := Parse(fs, args); err != nil {
		return err
	}
	normalize := tc.Normalize
	if normalize == nil {
		normalize = func(*T) error { return nil }
	}
	resume := rf.Resume != ""
	if resume {
		config, err := ResumeDir(rf.Resume)
		if err != nil {
			return err
		}
		saved, err := tc.Saved(rf.Resume, config)
		if err != nil {
			return err
		}
		if c, err = Resume(fs, rf.Resume, saved, tc.Bind, normalize); err != nil {
			return err
		}
		*tc.Out(&c) = rf.Resume
	}
	if err := normalize(&c); err != nil {
		return err
	}
	if err := tc.Validate(&c); err != nil {
		return err
	}
	if !resume {
		if err := PrepareOut(*tc.Out(&c), rf.Force, tc.RunFiles...); err != nil {
			return err
		}
	}
	sum, err := tc.Train(ctx, &c, resume, rf.Log(stdout, stderr), stderr)
	if err != nil && tc.Interrupted != nil && tc.Interrupted(err) {
		return Interrupted(err, tc.Invocation, *tc.Out(&c))
	}
	if err != nil {
		return err
	}
	return rf.WriteJSON(stdout, sum)
}
