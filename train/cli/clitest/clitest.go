// Package clitest holds the test helpers of the training commands (train/sms,
// train/siamese, train/jitserve): golden files (Golden: their reports, the one-line error
// messages of ErrorLine), the log of a serving command (ServeLog), and running the command
// from the test binary for --nproc's workers.
package clitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/train/cli"
)

// ErrorLine checks a command's error as cli.Main reports it: exit status code and, after
// what the command itself wrote to standard error (stderr, which should be nothing), one line
// beginning with "name: ". It returns the golden-file line "caseName: exit N: message" with
// dir written as DIR.
func ErrorLine(t *testing.T, name, caseName string, err error, code int, stderr, dir string) string {
	t.Helper()
	all := bytes.NewBufferString(stderr)
	got := cli.ExitCode(name, err, all)
	msg := all.String()
	if got != code {
		t.Errorf("exit %d, want %d (%s)", got, code, msg)
	}
	if !strings.HasPrefix(msg, name+": ") || strings.Count(msg, "\n") != 1 {
		t.Errorf("stderr is not one line starting with %q: %q", name+": ", msg)
	}
	return fmt.Sprintf("%s: exit %d: %s", caseName, got, strings.ReplaceAll(msg, dir, "DIR"))
}

// NotCreated fails t for each path that exists (refused commands must create nothing).
func NotCreated(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a refused command created %s", p)
		}
	}
}

// Golden compares got with the golden file at path, or with update (a test binary's -update
// flag) rewrites the file. A difference fails t and shows got, with the command that rewrites
// the file.
func Golden(t *testing.T, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	rerun := fmt.Sprintf("go test -run '^%s$' -update", strings.SplitN(t.Name(), "/", 2)[0])
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v (%s writes it)", err, rerun)
		return
	}
	if got != string(want) {
		t.Errorf("the output differs from %s (%s rewrites it):\n%s", path, rerun, got)
	}
}

// commandVar, set to a command's name, makes a test binary run that command instead of its
// tests (see [Main]).
const commandVar = "SEQTORCH_TEST_COMMAND"

// Main is a command package's TestMain. --nproc starts the running executable again as its
// workers, and in a test that executable is the test binary: in a test that called
// [AsCommand], the workers' binary runs the command (cli.Main(name, run)) instead of the tests.
func Main(m *testing.M, name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	if os.Getenv(commandVar) == name {
		cli.Main(name, run)
	}
	os.Exit(m.Run())
}

// AsCommand makes the processes that the test starts from its own binary (--nproc's workers)
// run the command name; see [Main].
func AsCommand(t *testing.T, name string) { t.Setenv(commandVar, name) }
