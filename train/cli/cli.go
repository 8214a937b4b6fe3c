// Package cli is the command shell shared by seqtorch's training commands (train/sms,
// train/siamese): one way to parse flags, report errors and exit, and one set of run-folder
// rules.
//
// A command's main is one line, cli.Main("sms", run), where run has the signature
// run(ctx, args, stdout, stderr) error and ctx is cancelled by Ctrl-C. The error decides the
// exit status (see [ExitCode]): 0 for success and -h, 2 for bad command-line input
// ([UsageError], one line), 130 for an interrupted run ([InterruptedError], whose message is
// the command that resumes it) and 1 for everything else. Errors are printed as one line,
// prefixed with the command's name.
//
// The run folder rules (see [RunFlags]): --out refuses a folder that holds another run
// unless --force; --resume DIR restores the run's own configuration and refuses flags that
// contradict it, except --epochs, --device and --threads; --json PATH writes the summary
// ("-" for standard output); temporary files a killed run left behind are removed at start.
//
// A training command is a plain function over small helpers, reading top to bottom: its
// [Flags] parse the command line once ([Flags.Parse], --preset applied); the command checks
// the configuration once, where it enters (the flags', or [CommandLine.Restore] of the run
// --resume names); a [Run] ([OpenRun], [Run.Start]) holds the run folder, launches the
// --nproc workers ([Run.Launch]) and ends the run ([Run.Finish]: interruption, --json); an
// ensemble preset's members are checked and trained in turn through [OpenEnsemble].
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

// UsageError is bad command-line input: an unknown flag, a value out of range, flags that
// contradict each other or the run being resumed. It exits with status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Sprintf(format, args...)}
}

// InterruptedError is returned by a command whose training Ctrl-C stopped after writing a
// checkpoint. It exits with status 130; its message tells how to resume.
type InterruptedError struct {
	// Resume is the command line that continues the run, e.g.
	// "go run ./train/sms --resume runs/sms".
	Resume string
	// Err is the training loop's error (it wraps loop.ErrInterrupted).
	Err error
}

func (e *InterruptedError) Error() string {
	return "interrupted; checkpoint saved. Resume with: " + e.Resume
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// Interrupted returns the *InterruptedError of a run in dir that Ctrl-C stopped (err wraps
// loop.ErrInterrupted): its message is "invocation --resume dir".
func Interrupted(err error, invocation, dir string) error {
	return &InterruptedError{Resume: invocation + " --resume " + ShellQuote(dir), Err: err}
}

// ShellQuote returns s quoted for a POSIX shell when it needs quoting.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-:=+,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Main runs a command: run gets the arguments without the program name and a context that
// Ctrl-C cancels; Main then exits with [ExitCode]'s status.
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(ExitCode(name, err, os.Stderr))
}

// ExitCode prints err on stderr as one line prefixed with "name: " (nothing for nil or
// flag.ErrHelp) and returns the exit status: 0 for nil and flag.ErrHelp, 2 for a
// [UsageError], 130 for an interrupted run (an [InterruptedError], or any error matching
// context.Canceled, as the training loop's ErrInterrupted does) and 1 otherwise. A
// [SilentError] prints nothing and gives its own code.
func ExitCode(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var se *SilentError
	if errors.As(err, &se) {
		return se.Code
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, oneLine(err.Error()))
	var ue *UsageError
	var ie *InterruptedError
	switch {
	case errors.As(err, &ie), errors.Is(err, context.Canceled):
		return 130
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// oneLine joins the lines of a message (a libtorch error may have several).
func oneLine(s string) string {
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// FlagError names the flag in err's message once: "--name: message", or "--message" when the
// message already begins with the flag's name (as `device "tpu": want cpu, ...` does).
func FlagError(name string, err error) error {
	if strings.HasPrefix(err.Error(), name+" ") || strings.HasPrefix(err.Error(), name+":") {
		return fmt.Errorf("--%w", err)
	}
	return fmt.Errorf("--%s: %w", name, err)
}

// NewFlagSet returns a flag set whose -h prints synopsis (the usage lines, without a final
// newline) and then the flags to stderr.
func NewFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args with fs and refuses positional arguments. -h prints fs's usage and
// returns flag.ErrHelp; any other problem is a one-line *UsageError (the flag package's own
// message, without the usage text it would print).
func Parse(fs *flag.FlagSet, args []string) error {
	if err := ParseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q (flags come first; -h lists them)", fs.Arg(0))
	}
	return nil
}

// ParseArgs is [Parse] for commands that take positional arguments (fs.Args()).
func ParseArgs(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return flag.ErrHelp
	case err != nil:
		return Usagef("%v (-h lists the flags)", err)
	}
	return nil
}

// Set returns the names of the flags that args set on fs (after Parse).
func Set(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// ModelFlags are the flags of a subcommand that loads a trained model (predict, serve):
// --model DIR, --device and --threads.
type ModelFlags struct {
	Model   string // --model: the run folder
	Device  string // --device: auto, cpu, cuda or cuda:N
	Threads int    // --threads: libtorch intra-op threads
	// Help, when set before Register, is --model's help text (a command whose --model takes
	// more than one folder, say).
	Help     string
	required bool
}

// Register adds --model, --device and --threads to fs. model is --model's default; "" makes
// the flag required (see [ModelFlags.Check]).
func (m *ModelFlags) Register(fs *flag.FlagSet, model string) {
	help := "run folder of a trained model"
	if m.Help != "" {
		help = m.Help
	}
	if m.required = model == ""; m.required {
		help += " (required)"
	}
	fs.StringVar(&m.Model, "model", model, help)
	fs.StringVar(&m.Device, "device", "auto", "device: auto, cpu, cuda or cuda:N")
	fs.IntVar(&m.Threads, "threads", 1, "libtorch threads")
}

// Check refuses a missing required --model and a --threads below 1 with a *UsageError whose
// message begins with "sub: " (the subcommand's name).
func (m *ModelFlags) Check(sub string) error {
	if m.required && m.Model == "" {
		return Usagef("%s: --model DIR is required", sub)
	}
	if m.Threads < 1 {
		return Usagef("%s: --threads must be positive, got %d", sub, m.Threads)
	}
	return nil
}
