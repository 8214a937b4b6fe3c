// Command siamese trains and queries the Siamese BiLSTM (MaLSTM) sentence-similarity model on
// SICK (Marelli et al. 2014).
//
// Usage:
//
//	go run ./train/siamese [flags]                          train; see -h
//	go run ./train/siamese similarity --model DIR "s1" "s2" relatedness of two sentences
//	go run ./train/siamese report --out DIR                 the whole study as REPORT.md
//
// Training writes a run folder (--out): metrics.jsonl (one line per epoch), summary.json,
// curves.png, params.txt, model.safetensors (the best TRIAL epoch's state dict, PyTorch names),
// vocab.txt, config.json, tsne.png and tsne.html, and checkpoint/ for --resume.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/seqtorch/seqtorch/train/loop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, errHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "siamese:", err)
		if errors.Is(err, loop.ErrInterrupted) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// errHelp is returned after -h printed the usage.
var errHelp = errors.New("help requested")

// run dispatches to the subcommands; the default is training.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "similarity":
			return runSimilarity(args[1:], stdout, stderr)
		case "report":
			return runReport(ctx, args[1:], stdout, stderr)
		case "train":
			args = args[1:]
		}
	}
	o, err := parseTrainFlags(args, stderr)
	if err != nil {
		return err
	}
	_, err = train(ctx, o, stdout, stderr)
	return err
}
