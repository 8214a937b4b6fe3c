package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/seqtorch/seqtorch/scripts/internal/smsrun"
	"github.com/seqtorch/seqtorch/torch"
)

// smsCommands are the subcommands that give the SMS items' PyTorch side its inputs and time
// the Go predict path, each on a run folder that `go run ./train/sms` wrote (package smsrun):
//
//	bench sms-inputs -model RUN -dir DIR
//	    writes DIR/spec.json, DIR/init.pt and DIR/batches.pt: RUN's initial weights and the
//	    epoch-1 batches it trained on, for `sms_ref.py bench DIR` and `bench_ddp.py epoch DIR`.
//	bench sms-export -model RUN -dir DIR [-message TEXT]
//	    writes DIR/model.pt (RUN's weights, torch.load-able) and DIR/latency.json (the model
//	    configuration and the message's token ids), for `sms_ref.py latency DIR`,
//	    scripts/sms_serve_ref.py and scripts/sms_jit_export.py.
//	bench sms-latency -model RUN [-n 3000] [-warmup 300] [-threads 1] [-message TEXT]
//	    loads RUN once and times the single-message predict path (tokenize → ids → tensor →
//	    forward without gradients → softmax → host) n times after warm-up; prints one line
//	    "BENCH {json}" with p50_us, p99_us, mean_us, tokenize_p50_us, tokens and p_spam.
var smsCommands = map[string]func(args []string, stdout, stderr io.Writer) error{
	"sms-inputs":  runSMSInputs,
	"sms-export":  runSMSExport,
	"sms-latency": runSMSLatency,
}

// smsFlags parses the flags of an sms-* subcommand: -model RUN (required), those that add
// registers, and -dir DIR (required when dir is not nil). It opens RUN.
func smsFlags(name string, args []string, stderr io.Writer, dir *string, add func(*flag.FlagSet)) (*smsrun.Run, error) {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "run folder written by go run ./train/sms (required)")
	if dir != nil {
		fs.StringVar(dir, "dir", "", "folder to write (created if missing; required)")
	}
	if add != nil {
		add(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *model == "" || (dir != nil && *dir == "") || fs.NArg() > 0 {
		usage := "-model RUN"
		if dir != nil {
			usage += " -dir DIR"
		}
		return nil, fmt.Errorf("usage: bench %s %s (-h lists the flags)", name, usage)
	}
	return smsrun.Open(*model)
}

func runSMSInputs(args []string, stdout, stderr io.Writer) error {
	var dir string
	r, err := smsFlags("sms-inputs", args, stderr, &dir, nil)
	if err != nil {
		return err
	}
	sp, err := smsrun.WriteInputs(r, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d batches of %d, vocabulary %d\n", dir, sp.Steps, sp.Batch, r.Vocab.Len())
	return nil
}

func runSMSExport(args []string, stdout, stderr io.Writer) error {
	var dir, msg string
	r, err := smsFlags("sms-export", args, stderr, &dir, func(fs *flag.FlagSet) {
		fs.StringVar(&msg, "message", smsrun.BenchMessage, "the message")
	})
	if err != nil {
		return err
	}
	ls, err := smsrun.Export(r, dir, msg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d tokens, p_spam %.6f\n", dir, len(ls.IDs), ls.PSpam)
	return nil
}

func runSMSLatency(args []string, stdout, stderr io.Writer) error {
	o := smsrun.LatencyOptions{}
	var threads int
	r, err := smsFlags("sms-latency", args, stderr, nil, func(fs *flag.FlagSet) {
		fs.IntVar(&o.N, "n", 3000, "timed predictions")
		fs.IntVar(&o.Warmup, "warmup", 300, "untimed predictions first")
		fs.IntVar(&threads, "threads", 1, "libtorch threads")
		fs.StringVar(&o.Message, "message", smsrun.BenchMessage, "the message")
	})
	if err != nil {
		return err
	}
	if o.N < 1 || o.Warmup < 0 || threads < 1 {
		return errors.New("bench sms-latency: -n and -threads must be positive, -warmup >= 0")
	}
	if err := torch.SetNumThreads(threads); err != nil {
		return err
	}
	m, err := smsrun.Latency(r, o)
	if err != nil {
		return err
	}
	out, err := json.Marshal(map[string]any{"metrics": m})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "BENCH %s\n", out)
	return err
}
