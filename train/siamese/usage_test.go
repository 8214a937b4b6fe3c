package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/train/cli"
)

// TestUsageListsSubcommands: -h names every subcommand that main.go dispatches.
func TestUsageListsSubcommands(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	subs := regexp.MustCompile(`(?m)^\s*case "(\w+)":`).FindAllStringSubmatch(string(src), -1)
	if len(subs) < 3 {
		t.Fatalf("found only %d subcommands in main.go", len(subs))
	}
	_, stderr, err := runCmd("--help")
	if cli.ExitCode("siamese", err, io.Discard) != 0 {
		t.Fatalf("--help: %v", err)
	}
	for _, m := range subs {
		if m[1] == "train" {
			continue // the default
		}
		if !strings.Contains(stderr, "go run ./train/siamese "+m[1]+" ") && !strings.Contains(stderr, "go run ./train/siamese "+m[1]+"\n") {
			t.Errorf("--help does not list the subcommand %q:\n%s", m[1], stderr)
		}
	}
}
