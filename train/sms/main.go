// Command sms trains, applies and studies the recurrent SMS spam classifier (models/smsrnn) on
// the SMS Spam Collection.
//
// Usage:
//
//	go run ./train/sms [flags]                       train (see -h for the flags)
//	go run ./train/sms --resume DIR                  continue an interrupted run
//	go run ./train/sms predict --model DIR "msg" ... classify messages (or stdin lines)
//	go run ./train/sms evaluate --model DIR[,DIR]    validation and test metrics (of an ensemble)
//	go run ./train/sms serve --model DIR             serve the classifier over HTTP (see serve.go)
//	go run ./train/sms report --out DIR              reproduce the study as DIR/REPORT.md
//
// Training writes into --out: metrics.jsonl (one line per epoch), summary.json (test metrics
// of the best-validation model), curves.png, params.txt, config.json, vocab.txt,
// model.safetensors (the best-validation model, PyTorch parameter names) and checkpoint/.
// Ctrl-C stops after the current step, writes a checkpoint, prints the command that resumes the
// run and exits with status 130. --resume DIR continues a run with its own configuration
// (config.json): only --epochs, --device and --threads may change. --out refuses a folder that
// holds another run unless --force. --json PATH also writes the summary to PATH (- for standard
// output). Bad command-line input exits with status 2 and one line.
//
// The data split is leakage-free: identical messages (after normalisation) never straddle
// train, validation and test. The vocabulary comes from the training part only.
package main

import (
	"context"
	"io"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
)

// invocation is how the documentation and the messages call this command.
const invocation = "go run ./train/sms"

func main() { cli.Main("sms", run) }

// run is the whole command: args without the program name. It runs through torch.Run, the
// command's boundary: a *torch.Error that escapes the inner boundaries (the training loop's
// step, the server's batch) still ends here as an error, never as a panic, and tensors the
// command created outside inner scopes are freed when it ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return torch.Run(func() error { return dispatch(ctx, args, stdout, stderr) })
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "predict":
			return runPredict(ctx, args[1:], stdout, stderr)
		case "serve":
			return runServe(ctx, args[1:], stdout, stderr)
		case "evaluate":
			return runEvaluate(ctx, args[1:], stdout, stderr)
		case "report":
			return runReport(ctx, args[1:], stdout, stderr)
		case "train":
			args = args[1:]
		}
	}
	return runTrain(ctx, args, stdout, stderr)
}
