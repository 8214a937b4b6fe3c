package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
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
	code, _, stderr := runCmd(context.Background(), "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, m := range subs {
		if m[1] == "train" {
			continue // the default
		}
		if !strings.Contains(stderr, "go run ./train/sms "+m[1]+" ") && !strings.Contains(stderr, "go run ./train/sms "+m[1]+"\n") {
			t.Errorf("--help does not list the subcommand %q:\n%s", m[1], stderr)
		}
	}
}
