package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/train/loop"
)

// toyConfig is the configuration of the toy training command.
type toyConfig struct {
	LR     float64   `json:"lr"`
	Epochs int       `json:"epochs"`
	Batch  int       `json:"batch"`
	Out    string    `json:"out"`
	Dist   DistFlags `json:"dist"`
}

// toyDefaults is the toy command's normalized default configuration, in out.
func toyDefaults(out string) toyConfig {
	return toyConfig{LR: 0.1, Epochs: 1, Batch: 64, Out: out, Dist: DistFlags{NProc: 1, MasterAddr: "127.0.0.1", Timeout: DefaultDistTimeout}}
}

// toy is a training command written as the real ones are (train/sms, train/siamese), over
// the helpers of this package. It trains by writing config.json and a checkpoint into the run
// folder (rank 0) and logging "rank R of W trained (resume V)" (every rank); --epochs 99 is
// interrupted. An ensemble preset's summary is {"members": N}.
type toy struct {
	flags   Flags[toyConfig]
	trained []toyConfig // the configurations trained, in this process
}

func newToy() *toy {
	t := &toy{}
	t.flags = Flags[toyConfig]{
		Name: "toy", Synopsis: "usage: toy [flags]", Invocation: "go run ./toy",
		Bind: func(fs *flag.FlagSet, c *toyConfig) {
			fs.Float64Var(&c.LR, "lr", 0, "learning rate (0: 0.1)")
			fs.IntVar(&c.Epochs, "epochs", 1, "epochs")
			fs.IntVar(&c.Batch, "batch", 64, "batch")
			fs.StringVar(&c.Out, "out", "runs/toy", "run folder")
			c.Dist.Register(fs)
		},
		Normalize: func(c *toyConfig) error {
			if c.LR == 0 {
				c.LR = 0.1
			}
			c.Dist.Normalize()
			return nil
		},
	}
	return t
}

// run is the toy command.
func (t *toy) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cl, err := t.flags.Parse(args, stderr)
	if err != nil {
		return err
	}
	if len(t.flags.Presets[cl.Preset].Members) > 0 {
		return t.trainEnsemble(ctx, cl, stdout, stderr)
	}
	return t.trainRun(ctx, cl, stdout, stderr)
}

// capture runs the toy command with args and returns what it wrote to stdout and stderr.
func (t *toy) capture(args ...string) (stdout, stderr string, err error) {
	var so, se bytes.Buffer
	err = t.run(context.Background(), args, &so, &se)
	return so.String(), se.String(), err
}

// trainRun trains the run cl describes.
func (t *toy) trainRun(ctx context.Context, cl *CommandLine[toyConfig], stdout, stderr io.Writer) error {
	run, err := OpenRun(cl)
	if err != nil {
		return err
	}
	defer run.Close()
	c, err := t.config(cl)
	if err != nil {
		return err
	}
	if err := run.Start(c.Out, c.Dist, []string{"model.bin"}); err != nil {
		return err
	}
	if run.Launcher() {
		return run.Launch(ctx, stdout, stderr)
	}
	sum, err := t.train(c, run.Resume, run.Log(stdout, stderr))
	return run.Finish(stdout, sum, err)
}

// config returns cl's configuration, normalized and validated: the flags', or the resumed
// run's own.
func (t *toy) config(cl *CommandLine[toyConfig]) (toyConfig, error) {
	c := cl.Config
	if dir := cl.Run.Resume; dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
		if err != nil {
			return c, err
		}
		var saved toyConfig
		if err := json.Unmarshal(b, &saved); err != nil {
			return c, err
		}
		if c, err = cl.Restore(saved); err != nil {
			return c, err
		}
		c.Out = dir
	}
	if err := t.flags.Normalize(&c); err != nil {
		return c, err
	}
	if err := c.Dist.Validate(); err != nil {
		return c, err
	}
	if c.Epochs < 1 {
		return c, Usagef("--epochs %d: want at least 1", c.Epochs)
	}
	return c, CheckBatch(c.Batch, c.Dist.NProc)
}

// train is the toy's training.
func (t *toy) train(c toyConfig, resume bool, log io.Writer) (any, error) {
	t.trained = append(t.trained, c)
	w, _, err := Worker()
	if err != nil {
		return nil, err
	}
	if w.Rank == 0 {
		b, _ := json.Marshal(c)
		for name, content := range map[string][]byte{ConfigFile: b, "checkpoint/state.json": []byte("{}")} {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(c.Out, name)), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(c.Out, name), content, 0o644); err != nil {
				return nil, err
			}
		}
	}
	fmt.Fprintf(log, "rank %d of %d trained (resume %v)\n", w.Rank, w.WorldSize, resume)
	if c.Epochs == 99 {
		return nil, fmt.Errorf("epoch 1: %w", loop.ErrInterrupted)
	}
	return map[string]any{"lr": c.LR, "epochs": c.Epochs, "nproc": c.Dist.NProc}, nil
}

// trainEnsemble trains the members of cl's ensemble preset, then writes {"members": N} as
// its summary.json and --json.
func (t *toy) trainEnsemble(ctx context.Context, cl *CommandLine[toyConfig], stdout, stderr io.Writer) error {
	ens, err := OpenEnsemble(cl, cl.Config.Out, func(m *CommandLine[toyConfig]) error {
		_, err := t.config(m)
		return err
	}, []string{"model.bin"})
	if err != nil {
		return err
	}
	defer ens.Close()
	log := cl.Run.Log(stdout, stderr)
	for i, m := range ens.Members {
		ens.Announce(log, i)
		if err := t.trainRun(ctx, m, log, stderr); err != nil {
			return err
		}
	}
	sum := map[string]int{"members": len(ens.Dirs)}
	if err := os.WriteFile(filepath.Join(ens.Out, SummaryFile), []byte("{}"), 0o644); err != nil {
		return err
	}
	return cl.Run.WriteJSON(stdout, sum)
}

func TestTrainRun(t *testing.T) {
	clearWorkerEnv(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	tc := newToy()

	so, _, err := tc.capture("--out", out, "--lr", "0.5", "--json", "-")
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(so), &sum); err != nil || sum["lr"] != 0.5 {
		t.Errorf("--json - printed %q (%v), want the summary alone", so, err)
	}

	var ue *UsageError
	for _, args := range [][]string{
		{"--epochs", "0", "--out", filepath.Join(dir, "other")}, // the command's check
		{"--colour"},                     // Parse
		{"--out", out},                   // PrepareOut: a run is there
		{"--resume", out, "--lr", "0.2"}, // Restore: contradicts the run
		{"--resume", out, "--force"},     // Restore: --force
	} {
		if _, _, err := tc.capture(args...); !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "other")); err == nil {
		t.Error("a refused command created its --out folder")
	}
	if _, _, err := tc.capture("--resume", filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "no such folder") {
		t.Errorf("--resume of a missing folder: %v", err)
	}

	// Resume keeps the run's own lr, takes --epochs from the command line and the folder from --resume.
	tc.trained = nil
	so, _, err = tc.capture("--resume", out, "--epochs", "3")
	if err != nil {
		t.Fatal(err)
	}
	want := toyDefaults(out)
	want.LR, want.Epochs = 0.5, 3
	if len(tc.trained) != 1 || tc.trained[0] != want {
		t.Errorf("resumed with %+v, want %+v", tc.trained, want)
	}
	if so != "rank 0 of 1 trained (resume true)\n" {
		t.Errorf("progress %q", so)
	}

	// --force replaces the run; an interruption names the command that resumes it.
	_, _, err = tc.capture("--out", out, "--force", "--epochs", "99")
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Resume != "go run ./toy --resume "+ShellQuote(out) || !errors.Is(err, loop.ErrInterrupted) {
		t.Errorf("interrupted run: %v, want an InterruptedError resuming %s", err, out)
	}
	if got := tc.trained[len(tc.trained)-1]; got.LR != 0.1 {
		t.Errorf("new run after --force: lr %v, want the normalized default 0.1", got.LR)
	}
}

// TestPreset: --preset applies its flags first, so the command line's own win; an unknown
// name, a broken preset and --preset with --resume are one-line usage errors; -h describes
// the presets.
func TestPreset(t *testing.T) {
	clearWorkerEnv(t)
	dir := t.TempDir()
	tc := newToy()
	tc.flags.Presets = map[string]Preset{
		"best":   {Args: []string{"--lr", "0.3", "--epochs", "4"}, Doc: "the tuned one"},
		"broken": {Args: []string{"--colour", "red"}, Doc: "names a flag the command lacks"},
	}
	cases := []struct {
		args       []string
		lr         float64
		epochs     int
		wantPreset string
	}{
		{[]string{"--preset", "best"}, 0.3, 4, "best"},
		{[]string{"--preset", "best", "--epochs", "2"}, 0.3, 2, "best"},
		{[]string{"--lr", "0.7", "--preset=best"}, 0.7, 4, "best"},
		{nil, 0.1, 1, ""},
	}
	for i, c := range cases {
		tc.trained = nil
		out := filepath.Join(dir, fmt.Sprint(i))
		args := append(c.args, "--out", out)
		if _, _, err := tc.capture(args...); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		want := toyDefaults(out)
		want.LR, want.Epochs = c.lr, c.epochs
		if len(tc.trained) != 1 || tc.trained[0] != want {
			t.Errorf("%q trained %+v, want %+v", c.args, tc.trained, want)
		}
		cl, err := tc.flags.Parse(args, io.Discard)
		if err != nil || cl.Preset != c.wantPreset || !slices.Equal(cl.Args, args) {
			t.Errorf("%q parsed as preset %q, args %q (%v); want %q and the command line", args, cl.Preset, cl.Args, err, c.wantPreset)
		}
	}
	var ue *UsageError
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--preset", "fast"}, `unknown --preset "fast" (want best, broken)`},
		{[]string{"--preset", "broken"}, "--preset broken: flag provided but not defined: -colour"},
		{[]string{"--preset", "best", "--resume", filepath.Join(dir, "0")}, "--preset with --resume"},
	} {
		_, _, err := tc.capture(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
		if c.args[1] != "broken" && !errors.As(err, &ue) {
			t.Errorf("%q: %v is not a usage error", c.args, err)
		}
	}
	var help bytes.Buffer
	if _, err := tc.flags.Parse([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(help.String(), "best: the tuned one [--lr 0.3 --epochs 4]") {
		t.Errorf("-h does not describe the preset:\n%s", help.String())
	}
}

// TestEnsemblePreset: an ensemble preset trains each member preset into --out/<member> with
// the command line's flags, then the command measures the folders and --json writes its
// summary; a second run into the same --out needs --force; a member that is not a one-model
// preset is refused.
func TestEnsemblePreset(t *testing.T) {
	clearWorkerEnv(t)
	dir := t.TempDir()
	tc := newToy()
	tc.flags.Presets = map[string]Preset{
		"a":     {Args: []string{"--lr", "0.3"}},
		"b":     {Args: []string{"--lr", "0.5", "--epochs", "3"}},
		"both":  {Members: []string{"a", "b"}, Doc: "a and b averaged"},
		"loop":  {Members: []string{"a", "both"}},
		"ghost": {Members: []string{"a", "nope"}},
		"twice": {Members: []string{"a", "a"}},
		"mixed": {Members: []string{"a", "b"}, Args: []string{"--lr", "1"}},
	}
	run := func(stdout io.Writer, args ...string) error {
		return tc.run(context.Background(), args, stdout, io.Discard)
	}
	out := filepath.Join(dir, "ens")
	var so bytes.Buffer
	if err := run(&so, "--preset", "both", "--epochs", "2", "--out", out, "--json", "-"); err != nil {
		t.Fatal(err)
	}
	a, b := toyDefaults(filepath.Join(out, "a")), toyDefaults(filepath.Join(out, "b"))
	a.LR, a.Epochs, b.LR, b.Epochs = 0.3, 2, 0.5, 2
	if len(tc.trained) != 2 || tc.trained[0] != a || tc.trained[1] != b {
		t.Errorf("trained %+v, want %+v and %+v", tc.trained, a, b)
	}
	if strings.TrimSpace(so.String()) != "{\n  \"members\": 2\n}" {
		t.Errorf("--json - wrote %q", so.String())
	}
	err := run(io.Discard, "--preset", "both", "--out", out)
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "already holds an ensemble") {
		t.Errorf("second run: %v", err)
	}
	members, ok, err := EnsembleMembers(out)
	if err != nil || !ok || len(members) != 2 || members[0] != a.Out || members[1] != b.Out {
		t.Errorf("EnsembleMembers(%s) = %q, %v, %v", out, members, ok, err)
	}
	// --force trains both members again; a trailing "--" does not end up before their flags.
	tc.trained = nil
	if err := run(io.Discard, "--preset", "both", "--out", out, "--force", "--"); err != nil || len(tc.trained) != 2 {
		t.Errorf("--force: %v, %d members trained", err, len(tc.trained))
	}
	// An unfinished ensemble continues: a member folder that holds a run trained with the same
	// flags is resumed, the others train.
	partial := filepath.Join(dir, "partial")
	if err := run(io.Discard, "--preset", "b", "--out", filepath.Join(partial, "b")); err != nil {
		t.Fatal(err)
	}
	tc.trained = nil
	var log bytes.Buffer
	if err := run(&log, "--preset", "both", "--out", partial); err != nil || len(tc.trained) != 2 {
		t.Fatalf("continuing: %v, %d trained", err, len(tc.trained))
	}
	if !strings.Contains(log.String(), "continuing the run in "+filepath.Join(partial, "b")) || strings.Count(log.String(), "trained (resume true)") != 1 ||
		!strings.Contains(log.String(), "--preset both: member 1 of 2, --preset a --out "+filepath.Join(partial, "a")) {
		t.Errorf("continuing: log\n%s", log.String())
	}
	// A member folder whose run was trained with other flags stops the ensemble before any
	// training, naming the flag.
	other := filepath.Join(dir, "other")
	if err := run(io.Discard, "--preset", "b", "--lr", "0.9", "--out", filepath.Join(other, "b")); err != nil {
		t.Fatal(err)
	}
	tc.trained = nil
	err = run(io.Discard, "--preset", "both", "--out", other)
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--preset both, member b: --lr") || !strings.Contains(err.Error(), "add --force") || len(tc.trained) != 0 {
		t.Errorf("member folder with another run: %v, trained %d", err, len(tc.trained))
	}
	// A member whose configuration fails the check stops the ensemble before any training.
	tc.trained = nil
	err = run(io.Discard, "--preset", "both", "--out", filepath.Join(dir, "bad"), "--epochs", "0")
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--preset both, member a: --epochs 0") || len(tc.trained) != 0 {
		t.Errorf("--epochs 0: %v, trained %d", err, len(tc.trained))
	}
	for name, want := range map[string]string{"loop": "is not a preset of one model", "ghost": "is not a preset of one model",
		"twice": "is not a preset of one model", "mixed": "takes no flags of its own"} {
		err := run(io.Discard, "--preset", name, "--out", filepath.Join(dir, name))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--preset %s: %v, want %q", name, err, want)
		}
	}
	// Under a launcher every rank would train the ensemble: refused.
	t.Setenv("RANK", "0")
	t.Setenv("WORLD_SIZE", "1")
	err = run(io.Discard, "--preset", "both", "--out", filepath.Join(dir, "ranked"))
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "not under a launcher") {
		t.Errorf("under RANK: %v", err)
	}
}

// toyProcess is the test binary as the toy command (see TestMain): it prints its arguments
// on standard output and runs.
func toyProcess(args []string) int {
	fmt.Printf("args: %q\n", args)
	err := newToy().run(context.Background(), args, os.Stdout, os.Stderr)
	return ExitCode("toy", err, os.Stderr)
}

// clearWorkerEnv unsets the worker variables for the rest of the test.
func clearWorkerEnv(t *testing.T) {
	for _, name := range distributed.EnvVars {
		t.Setenv(name, "")
	}
}

func TestDistFlagsChecked(t *testing.T) {
	clearWorkerEnv(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		env  []string // NAME=value
		args []string
		want string // the usage error
	}{
		{"nproc 0", nil, []string{"--nproc", "0"}, "--nproc 0: want 1 to 64 local worker processes"},
		{"nproc 65", nil, []string{"--nproc", "65"}, "--nproc 65: want 1 to 64 local worker processes"},
		{"timeout", nil, []string{"--dist-timeout", "0s"}, "--dist-timeout 0s: want a positive duration such as 5m"},
		{"port", nil, []string{"--master-port", "70000"}, "--master-port 70000: want 0 (none) to 65535"},
		{"addr", nil, []string{"--master-addr", ""}, "--master-addr is empty: want a host name or an IP address"},
		{"bad duration", nil, []string{"--dist-timeout", "soon"}, `invalid value "soon" for flag -dist-timeout: parse error (-h lists the flags)`},
		{"already a worker", []string{"RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=h", "MASTER_PORT=29500"}, []string{"--nproc", "3", "--batch", "63"},
			"--nproc: this process already runs as rank 1 of 2 (RANK/WORLD_SIZE are set, e.g. by torchrun); drop --nproc"},
		{"malformed rank", []string{"RANK=one", "WORLD_SIZE=2"}, nil, "RANK=one: want an integer from 0 to 1 (below WORLD_SIZE=2)"},
		{"rank alone", []string{"RANK=1"}, nil, "RANK=1 is set but WORLD_SIZE is not: a worker needs both (neither, to run alone)"},
		{"rank too big", []string{"RANK=2", "WORLD_SIZE=2", "SEQTORCH_STORE_FILE=/x"}, nil, "RANK=2: want an integer from 0 to 1 (below WORLD_SIZE=2)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, kv := range tc.env {
				name, v, _ := strings.Cut(kv, "=")
				t.Setenv(name, v)
			}
			out := filepath.Join(dir, tc.name)
			toy := newToy()
			var so, se bytes.Buffer
			err := toy.run(context.Background(), append([]string{"--out", out}, tc.args...), &so, &se)
			var ue *UsageError
			if !errors.As(err, &ue) || err.Error() != tc.want {
				t.Errorf("got %v, want the usage error %q", err, tc.want)
			}
			if len(toy.trained) > 0 || so.Len() > 0 || se.Len() > 0 {
				t.Errorf("a refused command trained %d times, printed %q and %q", len(toy.trained), so.String(), se.String())
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a refused command created its --out folder")
			}
		})
	}
}

func TestWorker(t *testing.T) {
	clearWorkerEnv(t)
	dir := t.TempDir()
	held := filepath.Join(dir, "held")
	if err := os.MkdirAll(held, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(held, ConfigFile), []byte(`{"epochs":1,"out":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonFile := filepath.Join(dir, "summary.json")
	tests := []struct {
		name    string
		env     []string
		args    []string
		code    int    // ExitCode's
		printed string // by ExitCode
		stdout  string
		json    bool // jsonFile written
	}{
		{"rank 1 skips the folder check and --json", []string{"RANK=1", "WORLD_SIZE=2", "SEQTORCH_STORE_FILE=/s"},
			[]string{"--out", held, "--nproc", "2", "--json", jsonFile}, 0, "", "rank 1 of 2 trained (resume false)\n", false},
		{"rank 1 logs to stdout with --json -", []string{"RANK=1", "WORLD_SIZE=2", "SEQTORCH_STORE_FILE=/s"},
			[]string{"--out", held, "--json", "-"}, 0, "", "rank 1 of 2 trained (resume false)\n", false},
		{"rank 1 interrupted is silent", []string{"RANK=1", "WORLD_SIZE=2", "SEQTORCH_STORE_FILE=/s"},
			[]string{"--out", held, "--epochs", "99"}, 130, "", "rank 1 of 2 trained (resume false)\n", false},
		{"rank 0 checks the folder", []string{"RANK=0", "WORLD_SIZE=2", "SEQTORCH_STORE_FILE=/s"},
			[]string{"--out", held, "--nproc", "2"}, 2,
			"toy: --out " + held + " already holds a run (config.json); add --force to replace it, or continue it with --resume " + held + "\n", "", false},
		{"rank 0 writes --json", []string{"RANK=0", "WORLD_SIZE=2", "SEQTORCH_STORE_FILE=/s"},
			[]string{"--out", filepath.Join(dir, "new"), "--nproc", "2", "--json", jsonFile}, 0, "", "rank 0 of 2 trained (resume false)\n", true},
		{"rank 0 interrupted says how to resume", []string{"RANK=0", "WORLD_SIZE=2", "SEQTORCH_STORE_FILE=/s"},
			[]string{"--out", filepath.Join(dir, "new"), "--force", "--epochs", "99"}, 130,
			"toy: interrupted; checkpoint saved. Resume with: go run ./toy --resume " + filepath.Join(dir, "new") + "\n", "rank 0 of 2 trained (resume false)\n", false},
		{"torchrun world with --nproc 1", []string{"RANK=0", "WORLD_SIZE=1", "MASTER_ADDR=h", "MASTER_PORT=29500"},
			[]string{"--out", filepath.Join(dir, "alone"), "--nproc", "1"}, 0, "", "rank 0 of 1 trained (resume false)\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(jsonFile)
			for _, kv := range tc.env {
				name, v, _ := strings.Cut(kv, "=")
				t.Setenv(name, v)
			}
			var so, se, printed bytes.Buffer
			err := newToy().run(context.Background(), tc.args, &so, &se)
			if code := ExitCode("toy", err, &printed); code != tc.code || printed.String() != tc.printed {
				t.Errorf("exit %d, printed %q; want %d, %q", code, printed.String(), tc.code, tc.printed)
			}
			if so.String() != tc.stdout || se.Len() > 0 {
				t.Errorf("stdout %q, stderr %q; want %q and nothing", so.String(), se.String(), tc.stdout)
			}
			if _, err := os.Stat(jsonFile); (err == nil) != tc.json {
				t.Errorf("--json file written: %v, want %v", err == nil, tc.json)
			}
		})
	}
	// The run rank 1 trained on did not touch rank 0's folder.
	if b, _ := os.ReadFile(filepath.Join(held, ConfigFile)); string(b) != `{"epochs":1,"out":"x"}` {
		t.Errorf("rank 1 changed %s: %s", ConfigFile, b)
	}
}

// TestLaunchWorkers runs the toy command with --nproc 2: the test binary launches itself
// twice (see TestMain).
func TestLaunchWorkers(t *testing.T) {
	clearWorkerEnv(t)
	t.Setenv(testProcessEnv, "toy")
	out := filepath.Join(t.TempDir(), "run")
	tc := newToy()

	so, se, err := tc.capture("--out", out, "--nproc", "2", "--json", "-")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, se)
	}
	// Rank 0 logs to stderr (--json -), rank 1 to its discarded stdout.
	want := fmt.Sprintf("args: %q\n", []string{"--force", "--out", out, "--nproc", "2", "--json", "-"})
	if !strings.HasPrefix(so, want) || se != "rank 0 of 2 trained (resume false)\n" {
		t.Fatalf("stdout %q, stderr %q; want rank 0's %q and the summary, and its progress on stderr", so, se, want)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(so, want)), &sum); err != nil || sum["nproc"] != 2.0 {
		t.Errorf("summary %q (%v), want nproc 2", strings.TrimPrefix(so, want), err)
	}
	if len(tc.trained) > 0 {
		t.Error("the launcher trained itself")
	}

	// The folder now holds a run: the launcher refuses before starting anything.
	_, se, err = tc.capture("--out", out, "--nproc", "2")
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "already holds a run") || se != "" {
		t.Errorf("second run into %s: %v (stderr %q), want the folder refused", out, err, se)
	}

	// --resume restores --nproc 2 and launches two workers again, without --force.
	so, se, err = tc.capture("--resume", out)
	want = fmt.Sprintf("args: %q\nrank 0 of 2 trained (resume true)\n", []string{"--resume", out})
	if err != nil || so != want || se != "" {
		t.Errorf("resume: %v, stdout %q, stderr %q; want %q", err, so, se, want)
	}
}

func TestResumeOldConfig(t *testing.T) {
	clearWorkerEnv(t)
	// A run saved before the distributed flags existed resumes with their defaults.
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, ConfigFile), []byte(`{"epochs":1,"batch":64,"out":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tc := newToy()
	var so, se bytes.Buffer
	if err := tc.run(context.Background(), []string{"--resume", out, "--epochs", "2"}, &so, &se); err != nil {
		t.Fatal(err)
	}
	want := toyDefaults(out)
	want.Epochs = 2
	if len(tc.trained) != 1 || tc.trained[0] != want {
		t.Errorf("resumed with %+v, want %+v", tc.trained, want)
	}
}

// TestEnsembleMembers: relative members are joined to the folder, absolute ones kept; a
// malformed ensemble.json is a one-line error naming it.
func TestEnsembleMembers(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(t.TempDir(), "elsewhere")
	cases := []struct {
		name, content string
		want          []string
		err           string
	}{
		{"relative and absolute", `{"members": ["a", "` + abs + `"]}`, []string{filepath.Join(dir, "relative and absolute", "a"), abs}, ""},
		{"not json", `members: a`, nil, "ensemble.json: want {\"members\": [folder, ...]}"},
		{"empty list", `{"members": []}`, nil, "ensemble.json: want"},
		{"empty name", `{"members": ["a", ""]}`, nil, "ensemble.json: want"},
	}
	for _, c := range cases {
		d := filepath.Join(dir, c.name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, EnsembleFile), []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, ok, err := EnsembleMembers(d)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%s: error %v, want one line with %q", c.name, err, c.err)
		case c.err == "" && (err != nil || !ok || !slices.Equal(got, c.want)):
			t.Errorf("%s: %q, %v, %v; want %q", c.name, got, ok, err, c.want)
		}
	}
}

// TestNProcChecks: --nproc's range is checked before --batch (which depends on it), and
// resuming with --nproc a run that has no checkpoint is refused once, before any worker
// starts (each worker would say so, and the launcher again).
func TestNProcChecks(t *testing.T) {
	clearWorkerEnv(t)
	tc := newToy()
	dir := t.TempDir()
	err := tc.run(context.Background(), []string{"--nproc", "1000", "--batch", "7", "--out", filepath.Join(dir, "a")}, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "--nproc 1000: want 1 to 64") {
		t.Errorf("--nproc 1000: %v, want the range of --nproc first", err)
	}
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	saved := toyDefaults(run)
	saved.Dist.NProc = 2
	cfg, _ := json.Marshal(saved)
	if err := os.WriteFile(filepath.Join(run, ConfigFile), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	err = tc.run(context.Background(), []string{"--resume", run}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "stopped before its first checkpoint") || len(tc.trained) != 0 {
		t.Errorf("--resume without a checkpoint: %v (trained %d times)", err, len(tc.trained))
	}
}
