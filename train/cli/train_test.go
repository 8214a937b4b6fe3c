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
	"strings"
	"testing"
)

// toyConfig is a training configuration for TestTrainCommand.
type toyConfig struct {
	LR     float64 `json:"lr"`
	Epochs int     `json:"epochs"`
	Out    string  `json:"out"`
}

var errToyInterrupted = errors.New("toy: interrupted")

// toyCommand trains by writing config.json into the run folder; --epochs 99 interrupts.
func toyCommand(trained *[]toyConfig) *TrainCommand[toyConfig] {
	return &TrainCommand[toyConfig]{
		Name:       "toy",
		Synopsis:   "usage: toy [flags]",
		Invocation: "go run ./toy",
		Bind: func(fs *flag.FlagSet, c *toyConfig) {
			fs.Float64Var(&c.LR, "lr", 0, "learning rate (0: 0.1)")
			fs.IntVar(&c.Epochs, "epochs", 1, "epochs")
			fs.StringVar(&c.Out, "out", "runs/toy", "run folder")
		},
		Normalize: func(c *toyConfig) error {
			if c.LR == 0 {
				c.LR = 0.1
			}
			return nil
		},
		Validate: func(c *toyConfig) error {
			if c.Epochs < 1 {
				return Usagef("--epochs %d: want at least 1", c.Epochs)
			}
			return nil
		},
		Saved: func(dir, config string) (toyConfig, error) {
			var c toyConfig
			b, err := os.ReadFile(config)
			if err != nil {
				return c, err
			}
			return c, json.Unmarshal(b, &c)
		},
		Out:      func(c *toyConfig) *string { return &c.Out },
		RunFiles: []string{"model.bin"},
		Train: func(ctx context.Context, c *toyConfig, resume bool, log, stderr io.Writer) (any, error) {
			*trained = append(*trained, *c)
			if err := os.MkdirAll(c.Out, 0o755); err != nil {
				return nil, err
			}
			b, _ := json.Marshal(c)
			if err := os.WriteFile(filepath.Join(c.Out, ConfigFile), b, 0o644); err != nil {
				return nil, err
			}
			fmt.Fprintf(log, "trained (resume %v)\n", resume)
			if c.Epochs == 99 {
				return nil, fmt.Errorf("epoch 1: %w", errToyInterrupted)
			}
			return map[string]any{"lr": c.LR, "epochs": c.Epochs}, nil
		},
		Interrupted: func(err error) bool { return errors.Is(err, errToyInterrupted) },
	}
}

func TestTrainCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	var trained []toyConfig
	tc := toyCommand(&trained)
	run := func(args ...string) (string, string, error) {
		var so, se bytes.Buffer
		err := tc.Run(context.Background(), args, &so, &se)
		return so.String(), se.String(), err
	}

	so, _, err := run("--out", out, "--lr", "0.5", "--json", "-")
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(so), &sum); err != nil || sum["lr"] != 0.5 {
		t.Errorf("--json - printed %q (%v), want the summary alone", so, err)
	}

	var ue *UsageError
	for _, args := range [][]string{
		{"--epochs", "0", "--out", filepath.Join(dir, "other")}, // Validate
		{"--colour"},                     // Parse
		{"--out", out},                   // PrepareOut: a run is there
		{"--resume", out, "--lr", "0.2"}, // Resume: contradicts the run
		{"--resume", out, "--force"},     // Resume: --force
	} {
		if _, _, err := run(args...); !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "other")); err == nil {
		t.Error("a refused command created its --out folder")
	}
	if _, _, err := run("--resume", filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "no such folder") {
		t.Errorf("--resume of a missing folder: %v", err)
	}

	// Resume keeps the run's own lr, takes --epochs from the command line and the folder from --resume.
	trained = nil
	so, _, err = run("--resume", out, "--epochs", "3")
	if err != nil {
		t.Fatal(err)
	}
	if want := (toyConfig{LR: 0.5, Epochs: 3, Out: out}); len(trained) != 1 || trained[0] != want {
		t.Errorf("resumed with %+v, want %+v", trained, want)
	}
	if so != "trained (resume true)\n" {
		t.Errorf("progress %q", so)
	}

	// --force replaces the run; an interruption names the command that resumes it.
	_, _, err = run("--out", out, "--force", "--epochs", "99")
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Resume != "go run ./toy --resume "+ShellQuote(out) || !errors.Is(err, errToyInterrupted) {
		t.Errorf("interrupted run: %v, want an InterruptedError resuming %s", err, out)
	}
	if got := trained[len(trained)-1]; got.LR != 0.1 {
		t.Errorf("new run after --force: lr %v, want the normalized default 0.1", got.LR)
	}
}
