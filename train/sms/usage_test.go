package main

import (
	"context"
	"testing"

	"github.com/seqtorch/seqtorch/train/cli/clitest"
)

// TestUsageListsSubcommands: -h names every subcommand that main.go dispatches.
func TestUsageListsSubcommands(t *testing.T) {
	code, _, stderr := runCmd(context.Background(), "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	clitest.UsageListsSubcommands(t, "sms", stderr)
}
