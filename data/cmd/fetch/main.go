// Command fetch fills the data cache: `go run ./data/cmd/fetch all` (what `make data` runs) or
// `go run ./data/cmd/fetch NAME...`. Each file comes from the cache, the mirror folder
// (SEQTORCH_MIRROR) or its official URL, sha256-verified.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/seqtorch/seqtorch/data"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fetch:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: fetch all | NAME... (names: %s)", names())
	}
	if len(args) == 1 && args[0] == "all" {
		args = nil
		for _, d := range data.Datasets() {
			args = append(args, d.Name)
		}
	}
	for _, name := range args {
		dir, err := data.Ensure(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-12s %s\n", name, dir)
	}
	return nil
}

func names() string {
	s := ""
	for i, d := range data.Datasets() {
		if i > 0 {
			s += ", "
		}
		s += d.Name
	}
	return s
}
