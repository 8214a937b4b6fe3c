// Command siamese trains and queries the Siamese BiLSTM (MaLSTM) sentence-similarity model on
// SICK (Marelli et al. 2014).
//
// Usage:
//
//	go run ./train/siamese [flags]                          train; see -h
//	go run ./train/siamese --resume DIR                     continue an interrupted run
//	go run ./train/siamese similarity --model DIR "s1" "s2" relatedness of two sentences
//	go run ./train/siamese evaluate --model DIR[,DIR...]    TRIAL and TEST metrics (several folders: an ensemble)
//	go run ./train/siamese serve --model DIR                serve the model over HTTP (see serve.go)
//	go run ./train/siamese report --out DIR                 the whole study as REPORT.md
//
// Training writes a run folder (--out): metrics.jsonl (one line per epoch), summary.json,
// curves.png, params.txt, model.safetensors (the best TRIAL epoch's state dict, PyTorch names),
// vocab.txt, config.json (the model and the training settings), tsne.png and tsne.html, and
// checkpoint/ for --resume.
//
// The command shell is train/sms's (train/cli): Ctrl-C writes a checkpoint, prints the command
// that resumes the run and exits with status 130; --resume DIR continues a run with its own
// settings (only --epochs, --device and --threads may change); --out refuses a folder that
// holds another run unless --force; --json PATH also writes the summary to PATH (- for
// standard output, the log then going to standard error); bad command-line input exits with
// status 2 and one line.
package main

import (
	"context"
	"io"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
)

// invocation is how the documentation and the messages call this command.
const invocation = "go run ./train/siamese"

func main() { cli.Main("siamese", run) }

// run is the whole command: args without the program name; the default subcommand is
// training. It runs through torch.Run, the command's boundary: a *torch.Error that escapes
// the inner boundaries (the training loop's step, the server's batch) still ends here as an
// error, never as a panic, and tensors the command created outside inner scopes are freed
// when it ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return torch.Run(func() error { return dispatch(ctx, args, stdout, stderr) })
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "similarity":
			return runSimilarity(args[1:], stdout, stderr)
		case "evaluate":
			return runEvaluate(args[1:], stdout, stderr)
		case "serve":
			return runServe(ctx, args[1:], stdout, stderr)
		case "report":
			return runReport(ctx, args[1:], stdout, stderr)
		case "train":
			args = args[1:]
		}
	}
	return runTrain(ctx, args, stdout, stderr)
}
