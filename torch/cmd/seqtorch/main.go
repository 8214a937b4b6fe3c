// Command seqtorch sets up seqtorch's C shim for the libtorch on this machine and tells which
// one a program will load.
//
//	seqtorch setup [-force]   build libseqtorch.so for the libtorch found (LIBTORCH, TORCH_PYTHON,
//	                          or Debian's packages) into the user cache, then print `info`'s line
//	seqtorch info             print the libtorch version and source, CUDA, BLAS and the shim's path
//	seqtorch path             print the path of the shim a program would load
//
// From a module that requires seqtorch:
//
//	go run github.com/seqtorch/seqtorch/torch/cmd/seqtorch setup
//
// The command carries the shim's sources, so a binary built here and copied to another machine
// (say, a GPU machine without Go) can run setup there too.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "seqtorch:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage: seqtorch setup [-force] | info | path")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	fs := flag.NewFlagSet("seqtorch "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	force := false
	if args[0] == "setup" {
		fs.BoolVar(&force, "force", false, "rebuild even when the cache holds a shim for this libtorch")
	}
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		return fmt.Errorf("%s: %v (%w)", args[0], err, errUsage)
	}
	switch args[0] {
	case "setup":
		lib, err := torch.Setup(ctx, torch.SetupOptions{Force: force, Stdout: stdout, Stderr: stderr})
		if err != nil {
			return err
		}
		// Describe the library just built, whatever Load would find first in this process.
		if err := os.Setenv("SEQTORCH_LIB", lib); err != nil {
			return err
		}
		return info(stdout)
	case "info":
		return info(stdout)
	case "path":
		if err := torch.Load(); err != nil {
			return err
		}
		l, _ := torch.Loaded()
		_, err := fmt.Fprintln(stdout, l.Path)
		return err
	}
	return fmt.Errorf("unknown command %q (%w)", args[0], errUsage)
}

func info(w io.Writer) error {
	s, err := torch.Summary()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, s)
	return err
}
