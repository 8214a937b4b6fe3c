// Command sms trains, applies and studies the recurrent SMS spam classifier (models/smsrnn) on
// the SMS Spam Collection.
//
// Usage:
//
//	go run ./train/sms [flags]                       train (see -h for the flags)
//	go run ./train/sms --resume DIR                  continue an interrupted run
//	go run ./train/sms predict --model DIR "msg" ... classify messages (or stdin lines)
//	go run ./train/sms report --out DIR              reproduce the study as DIR/REPORT.md
//	go run ./train/sms bench inputs|export|latency   inputs of scripts/bench (see bench.go)
//
// Training writes into --out: metrics.jsonl (one line per epoch), summary.json (test metrics
// of the best-validation model), curves.png, params.txt, config.json, vocab.txt,
// model.safetensors (the best-validation model, PyTorch parameter names) and checkpoint/.
// Ctrl-C stops after the current step, writes a checkpoint and exits with status 130.
//
// The data split is leakage-free: identical messages (after normalisation) never straddle
// train, validation and test. The vocabulary comes from the training part only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/loop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError marks bad command-line input (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// interruptedError carries the resume hint of an interrupted run (exit status 130).
type interruptedError struct {
	dir string
	err error
}

func (e *interruptedError) Error() string {
	return fmt.Sprintf("interrupted; checkpoint saved. Resume with: go run ./train/sms --resume %s", e.dir)
}

func (e *interruptedError) Unwrap() error { return e.err }

// exitCode prints err as one line and returns the process's exit status.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, loop.ErrInterrupted):
		fmt.Fprintln(stderr, "sms:", err)
		return 130
	}
	fmt.Fprintln(stderr, "sms:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// run is the whole command: args without the program name. A libtorch failure that escapes
// the training loop's own boundary still ends here as an error, never as a panic.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	if terr := torch.Try(func() { err = dispatch(ctx, args, stdout, stderr) }); terr != nil {
		return terr
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "predict":
			return runPredict(ctx, args[1:], stdout, stderr)
		case "report":
			return runReport(ctx, args[1:], stdout, stderr)
		case "bench":
			return runBench(ctx, args[1:], stdout, stderr)
		case "train":
			args = args[1:]
		}
	}
	return runTrain(ctx, args, stdout, stderr)
}
