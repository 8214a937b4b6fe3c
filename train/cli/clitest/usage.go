package clitest

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var subcommandRE = regexp.MustCompile(`(?m)^\s*case "(\w+)":`)

// UsageListsSubcommands checks that usage, a command's --help text, names every subcommand
// that the command's main.go (in the test's folder) dispatches with a `case "NAME":`, as
// "go run ./train/NAME SUB" (the default subcommand, train, aside).
func UsageListsSubcommands(t *testing.T, name, usage string) {
	t.Helper()
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	subs := subcommandRE.FindAllStringSubmatch(string(src), -1)
	if len(subs) < 3 {
		t.Fatalf("found only %d subcommands in main.go", len(subs))
	}
	for _, m := range subs {
		if m[1] == "train" {
			continue // the default
		}
		prefix := "go run ./train/" + name + " " + m[1]
		if !strings.Contains(usage, prefix+" ") && !strings.Contains(usage, prefix+"\n") {
			t.Errorf("--help does not list the subcommand %q:\n%s", m[1], usage)
		}
	}
}
