package main

import (
	"testing"

	"github.com/seqtorch/seqtorch/train/cli/clitest"
)

// TestUsageListsSubcommands: -h names exactly the subcommands that main.go dispatches, and
// each answers -h with its own usage.
func TestUsageListsSubcommands(t *testing.T) {
	clitest.UsageListsSubcommands(t, "siamese", run)
}
