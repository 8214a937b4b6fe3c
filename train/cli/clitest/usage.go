package clitest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// Subcommands returns the subcommands that the Go source src dispatches: the string cases of
// its `switch args[0]` statements, in order, without the default subcommand "train". A
// source without such a switch is an error.
func Subcommands(src []byte) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", src, 0)
	if err != nil {
		return nil, err
	}
	var subs []string
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		sw, ok := n.(*ast.SwitchStmt)
		if !ok || !isArgs0(sw.Tag) {
			return true
		}
		found = true
		for _, stmt := range sw.Body.List {
			for _, e := range stmt.(*ast.CaseClause).List {
				lit, ok := e.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				if s, err := strconv.Unquote(lit.Value); err == nil && s != "train" {
					subs = append(subs, s)
				}
			}
		}
		return true
	})
	if !found {
		return nil, errors.New("no `switch args[0]` dispatches the subcommands")
	}
	return subs, nil
}

// isArgs0 tells whether e is args[0].
func isArgs0(e ast.Expr) bool {
	ix, ok := e.(*ast.IndexExpr)
	if !ok {
		return false
	}
	id, ok := ix.X.(*ast.Ident)
	lit, isLit := ix.Index.(*ast.BasicLit)
	return ok && id.Name == "args" && isLit && lit.Value == "0"
}

// UsageMismatch compares usage, the --help text of the command name, with subs, the
// subcommands it dispatches: missing are those it does not list as "go run ./train/NAME SUB",
// extra those it lists that are not dispatched.
func UsageMismatch(name, usage string, subs []string) (missing, extra []string) {
	listed := regexp.MustCompile(`go run \./train/`+regexp.QuoteMeta(name)+` ([a-z][a-z0-9-]*)\b`).FindAllStringSubmatch(usage, -1)
	var names []string
	for _, m := range listed {
		names = append(names, m[1])
	}
	for _, s := range subs {
		if !slices.Contains(names, s) {
			missing = append(missing, s)
		}
	}
	for _, n := range names {
		if !slices.Contains(subs, n) && !slices.Contains(extra, n) {
			extra = append(extra, n)
		}
	}
	return missing, extra
}

// UsageListsSubcommands checks the command name against the dispatch switch of its main.go
// (in the test's folder, see [Subcommands]): its --help names exactly the subcommands the
// switch dispatches, as "go run ./train/NAME SUB", and each of them answers SUB -h with
// usage of its own (so the switch reaches it), through run, the command.
func UsageListsSubcommands(t *testing.T, name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	t.Helper()
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	subs, err := Subcommands(src)
	if err != nil || len(subs) == 0 {
		t.Fatalf("main.go: subcommands %q, %v", subs, err)
	}
	usage, err := help(run, "--help")
	if err != nil {
		t.Fatal(err)
	}
	missing, extra := UsageMismatch(name, usage, subs)
	if len(missing) > 0 {
		t.Errorf("--help does not list the subcommands %q that main.go dispatches:\n%s", missing, usage)
	}
	if len(extra) > 0 {
		t.Errorf("--help lists the subcommands %q that main.go does not dispatch:\n%s", extra, usage)
	}
	for _, sub := range subs {
		u, err := help(run, sub, "-h")
		if err != nil {
			t.Errorf("%s -h: %v", sub, err)
			continue
		}
		if !regexp.MustCompile(`usage: go run \./train/` + regexp.QuoteMeta(name) + ` ` + regexp.QuoteMeta(sub) + `\b`).MatchString(u) {
			t.Errorf("%s -h does not print the subcommand's usage:\n%s", sub, u)
		}
	}
}

// help runs the command with args, which ask for help, and returns what it printed.
func help(run func(ctx context.Context, args []string, stdout, stderr io.Writer) error, args ...string) (string, error) {
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, &out); !errors.Is(err, flag.ErrHelp) {
		return "", fmt.Errorf("%q: %v, want flag.ErrHelp", args, err)
	}
	return out.String(), nil
}
