package main

import (
	"io"
	"testing"

	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/cli/clitest"
)

// TestUsageListsSubcommands: -h names every subcommand that main.go dispatches.
func TestUsageListsSubcommands(t *testing.T) {
	_, stderr, err := runCmd("--help")
	if cli.ExitCode("siamese", err, io.Discard) != 0 {
		t.Fatalf("--help: %v", err)
	}
	clitest.UsageListsSubcommands(t, "siamese", stderr)
}
