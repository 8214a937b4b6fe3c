package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch/distributed"
)

// testProcessEnv makes the test binary a worker instead of running the tests (see
// TestMain): "helper" runs helperProcess, "toy" the data-parallel toy command.
const testProcessEnv = "SEQTORCH_CLI_TEST_PROCESS"

func TestMain(m *testing.M) {
	switch os.Getenv(testProcessEnv) {
	case "helper":
		os.Exit(helperProcess(os.Args[1:]))
	case "toy":
		os.Exit(toyProcess(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helperWait bounds every wait of a helper process, so that none outlives a failed test
// for long.
const helperWait = 20 * time.Second

// helperProcess is one worker of the Launch tests; args are the mode and the folder where
// each worker creates a file named by its rank once it handles its signals. Modes:
//
//	env        print the worker environment on stderr
//	output     print on stdout and stderr, rank 1 partial lines
//	fail       rank 1 waits for the others, then exits 3; the others wait for SIGTERM
//	killself   as fail, but rank 1 kills itself with SIGKILL
//	deaf-term  as fail, but rank 0 ignores SIGTERM
//	interrupt  every rank waits for SIGINT and exits 130
//	deaf-int   as interrupt, but rank 0 ignores SIGINT
func helperProcess(args []string) int {
	if len(args) != 2 {
		fmt.Fprintf(os.Stderr, "helper: want mode and folder, got %q\n", args)
		return 2
	}
	mode, ready := args[0], args[1]
	rank := os.Getenv(distributed.EnvRank)
	world, _ := strconv.Atoi(os.Getenv(distributed.EnvWorldSize))
	signals := make(chan os.Signal, 1)
	markReady := func() {
		if err := os.WriteFile(filepath.Join(ready, rank), nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	waitSignal := func(what string, code int) int {
		markReady()
		select {
		case <-signals:
			fmt.Fprintf(os.Stderr, "rank %s %s\n", rank, what)
			return code
		case <-time.After(helperWait):
			fmt.Fprintf(os.Stderr, "rank %s: no signal\n", rank)
			return 0
		}
	}
	waitOthers := func() {
		for range helperWait / (10 * time.Millisecond) {
			if entries, _ := os.ReadDir(ready); len(entries) >= world-1 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	switch mode {
	case "env":
		store := os.Getenv(distributed.EnvStoreFile)
		_, dirErr := os.Stat(filepath.Dir(store))
		_, fileErr := os.Stat(store)
		w, ok, err := Worker()
		fmt.Fprintf(os.Stderr, "RANK=%s WORLD_SIZE=%s LOCAL_RANK=%s LOCAL_WORLD_SIZE=%s MASTER_ADDR=%s MASTER_PORT=%q SEQTORCH_DIST_TIMEOUT=%s store-folder=%v store-file=%v own-group=%v worker=%d/%d,%v,%v\n",
			rank, os.Getenv(distributed.EnvWorldSize), os.Getenv(distributed.EnvLocalRank), os.Getenv(distributed.EnvLocalWorldSize), os.Getenv(distributed.EnvMasterAddr), os.Getenv(distributed.EnvMasterPort),
			os.Getenv(distributed.EnvTimeout), dirErr == nil, fileErr == nil, syscall.Getpgrp() == os.Getpid(), w.Rank, w.WorldSize, ok, err)
		fmt.Printf("store %s\n", store)
		return 0
	case "output":
		fmt.Printf("rank %s out\n", rank)
		if rank == "0" {
			fmt.Fprintln(os.Stderr, "rank 0 err")
			return 0
		}
		os.Stderr.WriteString("half a ")
		os.Stderr.WriteString("line\nnext line\nno newline")
		return 0
	case "fail", "killself", "deaf-term":
		if rank != "1" {
			if mode == "deaf-term" && rank == "0" {
				signal.Ignore(syscall.SIGTERM)
			} else {
				signal.Notify(signals, syscall.SIGTERM)
			}
			return waitSignal("terminated", 143)
		}
		waitOthers()
		if mode == "killself" {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(helperWait)
		}
		return 3
	case "interrupt", "deaf-int":
		if mode == "deaf-int" && rank == "0" {
			signal.Ignore(syscall.SIGINT)
		} else {
			signal.Notify(signals, syscall.SIGINT)
		}
		return waitSignal("interrupted", 130)
	}
	fmt.Fprintf(os.Stderr, "helper: unknown mode %q\n", mode)
	return 2
}

// lines returns the lines of s, sorted (the ranks' lines come in any order).
func lines(s string) []string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(l)
	return l
}

func TestLaunch(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		nproc   int
		cancel  bool // cancel the context once every worker is ready
		deaf    bool // a worker ignores the signal: kill it at once
		code    int  // ExitCode's
		printed string
		stdout  string
		stderr  []string // its lines, sorted
	}{
		{name: "output", mode: "output", nproc: 2, stdout: "rank 0 out\n",
			stderr: []string{"[rank 1] half a line", "[rank 1] next line", "[rank 1] no newline", "rank 0 err"}},
		{name: "one worker", mode: "output", nproc: 1, stdout: "rank 0 out\n", stderr: []string{"rank 0 err"}},
		{name: "exit 3", mode: "fail", nproc: 3, code: 3, stderr: []string{
			"[rank 2] rank 2 terminated", "rank 0 terminated", "toy: rank 1 exited with status 3; stopping the other 2 workers"}},
		{name: "SIGKILL", mode: "killself", nproc: 2, code: 1, stderr: []string{
			"rank 0 terminated", "toy: rank 1 was killed by signal SIGKILL; stopping the other 1 worker"}},
		{name: "SIGTERM ignored", mode: "deaf-term", nproc: 2, deaf: true, code: 3, stderr: []string{
			"toy: rank 1 exited with status 3; stopping the other 1 worker"}},
		{name: "interrupt", mode: "interrupt", nproc: 2, cancel: true, code: 130, stderr: []string{
			"[rank 1] rank 1 interrupted", "rank 0 interrupted"}},
		{name: "SIGINT ignored", mode: "deaf-int", nproc: 2, cancel: true, deaf: true, code: 130,
			printed: "toy: interrupted (context canceled), but rank 0 did not stop within 2s and was killed; its checkpoint may be missing\n",
			stderr:  []string{"[rank 1] rank 1 interrupted"}},
	}
	defer func(i, f time.Duration) { interruptGrace, failGrace = i, f }(interruptGrace, failGrace)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			timeout := helperWait
			interruptGrace, failGrace = helperWait, helperWait
			if tc.deaf {
				// The deaf worker is killed after this; the other must stop by then, which
				// a loaded machine does not promise within milliseconds.
				timeout = 2 * time.Second
				interruptGrace, failGrace = 0, 0
			}
			ready := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var so, se bytes.Buffer
			done := make(chan error, 1)
			go func() {
				done <- Launch(ctx, LaunchOptions{
					NProc:   tc.nproc,
					Exe:     os.Args[0],
					Args:    []string{tc.mode, ready},
					Env:     append(os.Environ(), testProcessEnv+"=helper"),
					Stdout:  &so,
					Stderr:  &se,
					Timeout: timeout,
					Name:    "toy",
				})
			}()
			if tc.cancel {
				for range 2000 {
					if entries, _ := os.ReadDir(ready); len(entries) == tc.nproc {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("Launch did not return within a minute")
			}
			var printed bytes.Buffer
			if code := ExitCode("toy", err, &printed); code != tc.code || printed.String() != tc.printed {
				t.Errorf("%v: exit %d, printed %q; want %d, %q", err, code, printed.String(), tc.code, tc.printed)
			}
			if tc.cancel && !errors.Is(err, context.Canceled) {
				t.Errorf("%v does not match context.Canceled", err)
			}
			if so.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", so.String(), tc.stdout)
			}
			if got := lines(se.String()); !slices.Equal(got, tc.stderr) {
				t.Errorf("stderr lines\n%q\nwant\n%q", got, tc.stderr)
			}
		})
	}
}

func TestLaunchEnv(t *testing.T) {
	var so, se bytes.Buffer
	env := append(os.Environ(), testProcessEnv+"=helper",
		// inherited values that Launch must replace
		"RANK=7", "WORLD_SIZE=9", "LOCAL_RANK=7", "MASTER_PORT=1", "SEQTORCH_STORE_FILE=/inherited", "SEQTORCH_DIST_TIMEOUT=1s")
	err := Launch(context.Background(), LaunchOptions{
		NProc: 3, Exe: os.Args[0], Args: []string{"env", t.TempDir()}, Env: env,
		Stdout: &so, Stderr: &se, Timeout: 90 * time.Second, Name: "toy",
	})
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, se.String())
	}
	var want []string
	for r := range 3 {
		line := fmt.Sprintf(`RANK=%d WORLD_SIZE=3 LOCAL_RANK=%d LOCAL_WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT="" SEQTORCH_DIST_TIMEOUT=1m30s store-folder=true store-file=false own-group=true worker=%d/3,true,<nil>`, r, r, r)
		if r > 0 {
			line = fmt.Sprintf("[rank %d] %s", r, line)
		}
		want = append(want, line)
	}
	slices.Sort(want)
	if got := lines(se.String()); !slices.Equal(got, want) {
		t.Errorf("stderr lines\n%q\nwant\n%q", got, want)
	}
	// Only rank 0's stdout comes through; the store file is in a folder Launch removed.
	store, ok := strings.CutPrefix(strings.TrimSuffix(so.String(), "\n"), "store ")
	if !ok || strings.Contains(store, "\n") || !filepath.IsAbs(store) {
		t.Fatalf("stdout %q, want rank 0's store path alone", so.String())
	}
	if _, err := os.Stat(filepath.Dir(store)); err == nil {
		t.Errorf("Launch left %s behind", filepath.Dir(store))
	}
}

// TestLaunchMasterPort: with --master-port the workers meet at rank 0's TCP store, not
// through a file.
func TestLaunchMasterPort(t *testing.T) {
	var so, se bytes.Buffer
	err := Launch(context.Background(), LaunchOptions{
		NProc: 2, Exe: os.Args[0], Args: []string{"env", t.TempDir()}, Env: append(os.Environ(), testProcessEnv+"=helper"),
		Stdout: &so, Stderr: &se, Timeout: time.Minute, Name: "toy", MasterAddr: "127.0.0.1", MasterPort: 29555,
	})
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, se.String())
	}
	for r, l := range lines(se.String()) {
		if !strings.Contains(l, `MASTER_PORT="29555"`) || !strings.Contains(l, "worker="+fmt.Sprint(r)+"/2,true,<nil>") {
			t.Errorf("worker line %q: want MASTER_PORT 29555 and a valid worker environment", l)
		}
	}
	if so.String() != "store \n" {
		t.Errorf("rank 0's store file %q, want none", so.String())
	}
}

func TestLaunchStartFails(t *testing.T) {
	err := Launch(context.Background(), LaunchOptions{NProc: 2, Exe: filepath.Join(t.TempDir(), "missing"), Name: "toy"})
	var printed bytes.Buffer
	if code := ExitCode("toy", err, &printed); code != 1 || !strings.HasPrefix(printed.String(), "toy: launch: start worker 0: ") {
		t.Errorf("exit %d, printed %q; want 1 and the start error", code, printed.String())
	}
}

func TestDistFlags(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var d DistFlags
	d.Register(fs)
	if want := (DistFlags{NProc: 1, MasterAddr: "127.0.0.1", Timeout: DefaultDistTimeout}); d != want {
		t.Errorf("defaults %+v, want %+v", d, want)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := fs.Parse([]string{"--nproc", "4", "--master-addr", "10.0.0.1", "--master-port", "29500", "--dist-timeout", "90s"}); err != nil {
		t.Fatal(err)
	}
	if want := (DistFlags{NProc: 4, MasterAddr: "10.0.0.1", MasterPort: 29500, Timeout: 90 * time.Second}); d != want {
		t.Errorf("parsed %+v, want %+v", d, want)
	}
	// Embedded in a configuration, it round-trips through JSON with the configuration's fields.
	type config struct {
		LR float64 `json:"lr"`
		DistFlags
	}
	c := config{LR: 0.5, DistFlags: d}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back config
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("%s came back as %+v (%v), want %+v", b, back, err, c)
	}
	if want := `{"lr":0.5,"nproc":4,"master_addr":"10.0.0.1","master_port":29500,"dist_timeout":90000000000}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
}

func TestSilentError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int
	}{
		{"status", &SilentError{Code: 3}, 3},
		{"wrapped", fmt.Errorf("rank 1: %w", &SilentError{Code: 7, Err: errors.New("x")}), 7},
		{"interrupted", &SilentError{Code: 130, Err: context.Canceled}, 130},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if code := ExitCode("cmd", tc.err, &buf); code != tc.code || buf.Len() > 0 {
				t.Errorf("exit %d, printed %q; want %d and nothing", code, buf.String(), tc.code)
			}
		})
	}
}
