package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExitCode(t *testing.T) {
	interrupted := fmt.Errorf("loop: epoch 1 step 3: %w", errors.New("training interrupted"))
	tests := []struct {
		name string
		err  error
		code int
		out  string
	}{
		{"success", nil, 0, ""},
		{"help", flag.ErrHelp, 0, ""},
		{"usage", Usagef("--epochs must be positive, got %d", 0), 2, "cmd: --epochs must be positive, got 0\n"},
		{"wrapped usage", fmt.Errorf("context: %w", Usagef("bad")), 2, "cmd: context: bad\n"},
		{"interrupted", Interrupted(interrupted, "go run ./train/cmd", "runs/a b"), 130,
			"cmd: interrupted; checkpoint saved. Resume with: go run ./train/cmd --resume 'runs/a b'\n"},
		{"cancelled", fmt.Errorf("report: run 2: %w", context.Canceled), 130, "cmd: report: run 2: context canceled\n"},
		{"failure", errors.New("open x: no such file"), 1, "cmd: open x: no such file\n"},
		{"several lines", errors.New("libtorch: shape mismatch\n  at frame 1\n"), 1, "cmd: libtorch: shape mismatch; at frame 1\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if code := ExitCode("cmd", tc.err, &buf); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if buf.String() != tc.out {
				t.Errorf("printed %q, want %q", buf.String(), tc.out)
			}
		})
	}
	if err := Interrupted(interrupted, "x", "d"); !errors.Is(err, interrupted) {
		t.Error("InterruptedError does not unwrap to the loop's error")
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" for success
		help    bool
	}{
		{"flags", []string{"--n", "3"}, "", false},
		{"unknown flag", []string{"--colour"}, "flag provided but not defined: -colour (-h lists the flags)", false},
		{"bad value", []string{"--n", "x"}, `invalid value "x" for flag -n: parse error (-h lists the flags)`, false},
		{"positional", []string{"--n", "3", "fit"}, `unexpected argument "fit" (flags come first; -h lists them)`, false},
		{"help", []string{"-h"}, flag.ErrHelp.Error(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			fs := NewFlagSet("cmd", "usage: cmd [flags]", &stderr)
			n := fs.Int("n", 1, "a number")
			err := Parse(fs, tc.args)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			case tc.wantErr == "" && *n != 3:
				t.Errorf("n = %d, want 3", *n)
			}
			var ue *UsageError
			if tc.wantErr != "" && !tc.help && !errors.As(err, &ue) {
				t.Errorf("%v is not a usage error", err)
			}
			if got := stderr.String(); tc.help != (got != "") {
				t.Errorf("stderr %q (help %v)", got, tc.help)
			} else if tc.help && (!strings.HasPrefix(got, "usage: cmd [flags]\n\nflags:\n") || !strings.Contains(got, "a number")) {
				t.Errorf("help text %q", got)
			}
		})
	}
}

// writeFiles creates the named files (a name ending in / is a folder) under dir.
func writeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if strings.HasSuffix(n, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestPrepareOut(t *testing.T) {
	tests := []struct {
		name    string
		files   []string // in the folder beforehand; nil: no folder
		force   bool
		wantErr string // with DIR for the folder
		gone    []string
		kept    []string
	}{
		{"new folder", nil, false, "", nil, nil},
		{"empty folder", []string{}, false, "", nil, nil},
		{"unrelated files", []string{"notes.txt", ".summary.json.tmp-12"}, false, "", []string{".summary.json.tmp-12"}, []string{"notes.txt"}},
		{"another run", []string{"config.json", "metrics.jsonl", "model.safetensors"}, false,
			"--out DIR already holds a run (config.json, metrics.jsonl); add --force to replace it, or continue it with --resume DIR", nil, []string{"config.json", "model.safetensors"}},
		{"interrupted run", []string{"checkpoint/state.json"}, false,
			"--out DIR already holds a run (checkpoint); add --force to replace it, or continue it with --resume DIR", nil, nil},
		{"force", []string{"config.json", "checkpoint/state.json", "model.safetensors", "tsne.png", "notes.txt", ".checkpoint.tmp-3/"}, true, "",
			[]string{"config.json", "checkpoint", "model.safetensors", "tsne.png", ".checkpoint.tmp-3"},
			[]string{"notes.txt", ".replaced/config.json", ".replaced/checkpoint/state.json", ".replaced/tsne.png"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if tc.files != nil {
				writeFiles(t, dir, append([]string{"./"}, tc.files...)...)
			}
			_, err := PrepareOut(dir, tc.force, "model.safetensors", "tsne.png")
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" {
				var ue *UsageError
				if err == nil || strings.ReplaceAll(err.Error(), dir, "DIR") != tc.wantErr || !errors.As(err, &ue) {
					t.Fatalf("err = %v, want the usage error %q", err, tc.wantErr)
				}
			}
			if tc.files == nil && exists(dir) {
				t.Error("PrepareOut created the folder")
			}
			for _, n := range tc.gone {
				if exists(filepath.Join(dir, n)) {
					t.Errorf("%s still there", n)
				}
			}
			for _, n := range tc.kept {
				if !exists(filepath.Join(dir, n)) {
					t.Errorf("%s was removed", n)
				}
			}
		})
	}
	t.Run("a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f")
		writeFiles(t, filepath.Dir(f), "f")
		if _, err := PrepareOut(f, true); err == nil || !strings.Contains(err.Error(), "is a file") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestForceKeepsOldRun: --force keeps the run it replaces until the new run has written a
// checkpoint: a new run that fails before puts it back (also when its process was killed
// and the next command on the folder settles it), one that has a checkpoint discards it.
func TestForceKeepsOldRun(t *testing.T) {
	old := []string{"config.json", "metrics.jsonl", "summary.json", "checkpoint/state.json", "model.safetensors", "notes.txt"}
	setup := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "run")
		writeFiles(t, dir, append([]string{"./"}, old...)...)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	content := func(t *testing.T, path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Run("new run fails before a checkpoint", func(t *testing.T) {
		dir := setup(t)
		aside, err := PrepareOut(dir, true, "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		if exists(filepath.Join(dir, "config.json")) || exists(filepath.Join(dir, "checkpoint")) {
			t.Fatal("the old run is still in place for the new one")
		}
		os.WriteFile(filepath.Join(dir, "config.json"), []byte("new"), 0o644) // the new run starts
		if err := aside.Settle(); err != nil {
			t.Fatal(err)
		}
		for _, f := range old {
			if !exists(filepath.Join(dir, f)) {
				t.Errorf("%s was not put back", f)
			}
		}
		if got := content(t, filepath.Join(dir, "config.json")); got != "old" {
			t.Errorf("config.json = %q, want the old run's", got)
		}
		if exists(filepath.Join(dir, ".replaced")) {
			t.Error(".replaced left behind")
		}
		if err := aside.Settle(); err != nil {
			t.Errorf("second Settle: %v", err)
		}
	})
	t.Run("new run has a checkpoint", func(t *testing.T) {
		dir := setup(t)
		aside, err := PrepareOut(dir, true, "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, "config.json", "checkpoint/state.json")
		if err := aside.Settle(); err != nil {
			t.Fatal(err)
		}
		if exists(filepath.Join(dir, ".replaced")) || exists(filepath.Join(dir, "summary.json")) || exists(filepath.Join(dir, "model.safetensors")) {
			t.Error("the old run was not discarded")
		}
		if got := content(t, filepath.Join(dir, "config.json")); got == "old" || !exists(filepath.Join(dir, "notes.txt")) {
			t.Errorf("config.json = %q (notes.txt kept: %v)", got, exists(filepath.Join(dir, "notes.txt")))
		}
	})
	t.Run("killed before a checkpoint", func(t *testing.T) {
		dir := setup(t)
		if _, err := PrepareOut(dir, true, "model.safetensors"); err != nil { // never settled
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "config.json"), []byte("new"), 0o644)
		_, err := PrepareOut(dir, false, "model.safetensors")
		if err == nil || !strings.Contains(err.Error(), "already holds a run") {
			t.Errorf("PrepareOut after a killed replacement: %v, want the old run found again", err)
		}
		if got := content(t, filepath.Join(dir, "config.json")); got != "old" {
			t.Errorf("config.json = %q, want the old run's", got)
		}
	})
}

func TestResumeDir(t *testing.T) {
	base := t.TempDir()
	writeFiles(t, base, "run/config.json", "run/.config.json.tmp-1", "empty/", "file")
	tests := []struct {
		name, dir, wantErr string
	}{
		{"run", "run", ""},
		{"missing", "nope", "--resume BASE/nope: no such folder"},
		{"not a run", "empty", "--resume BASE/empty is not a run folder (no config.json)"},
		{"a file", "file", "--resume BASE/file is a file, not a run folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(base, tc.dir)
			cfg, err := ResumeDir(dir)
			if tc.wantErr == "" {
				if err != nil || cfg != filepath.Join(dir, ConfigFile) {
					t.Fatalf("ResumeDir = %q, %v", cfg, err)
				}
				if exists(filepath.Join(dir, ".config.json.tmp-1")) {
					t.Error("stale temporary file kept")
				}
				return
			}
			if err == nil || strings.ReplaceAll(err.Error(), base, "BASE") != tc.wantErr {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(base, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--resume of a missing folder created it (%v)", err)
	}
}

// testConfig is a command's configuration as config.json stores it.
type testConfig struct {
	Epochs    int     `json:"epochs"`
	Device    string  `json:"device"`
	Threads   int     `json:"threads"`
	LR        float64 `json:"lr"` // 0: the optimizer's default
	Optimizer string  `json:"optimizer"`
	Dropout   float64 `json:"dropout"`
	Hidden    string  `json:"hidden"`
	Sizes     []int   `json:"sizes"` // from Hidden
	Out       string  `json:"out"`
}

func bindTest(fs *flag.FlagSet, c *testConfig) {
	fs.IntVar(&c.Epochs, "epochs", 10, "")
	fs.StringVar(&c.Device, "device", "auto", "")
	fs.IntVar(&c.Threads, "threads", 1, "")
	fs.Float64Var(&c.LR, "lr", 0, "")
	fs.StringVar(&c.Optimizer, "optimizer", "adam", "")
	fs.Float64Var(&c.Dropout, "dropout", 0, "")
	fs.StringVar(&c.Hidden, "hidden", "50", "")
	fs.StringVar(&c.Out, "out", "runs/x", "")
}

func normalizeTest(c *testConfig) error {
	if c.LR == 0 {
		c.LR = 1e-3
		if c.Optimizer == "adadelta" {
			c.LR = 1
		}
	}
	c.Sizes = nil
	for _, f := range strings.Split(c.Hidden, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil {
			return fmt.Errorf("--hidden %q", c.Hidden)
		}
		c.Sizes = append(c.Sizes, n)
	}
	return nil
}

func TestResume(t *testing.T) {
	saved := testConfig{Epochs: 2, Device: "cpu", Threads: 1, LR: 1e-3, Optimizer: "adam", Dropout: 0.1, Hidden: "50,30", Sizes: []int{50, 30}, Out: "old/place"}
	tests := []struct {
		name    string
		args    []string
		want    func(c *testConfig) // changes to saved
		wantErr string
	}{
		{"nothing set", nil, nil, ""},
		{"may change", []string{"--epochs", "5", "--device", "cuda", "--threads", "2"}, func(c *testConfig) {
			c.Epochs, c.Device, c.Threads = 5, "cuda", 2
		}, ""},
		{"same values", []string{"--lr", "0.001", "--dropout", "0.1", "--optimizer", "adam"}, nil, ""},
		{"the default that means the same", []string{"--lr", "0"}, nil, ""},
		{"run flags", []string{"--json", "-", "--out", "DIR/"}, nil, ""},
		{"contradicting lr", []string{"--epochs", "5", "--lr", "0.01"}, nil,
			"--lr 0.01 contradicts the run in DIR (--lr 0.001); on --resume only --epochs, --device, --threads may change"},
		{"contradicting default", []string{"--dropout", "0"}, nil,
			"--dropout 0 contradicts the run in DIR (--dropout 0.1); on --resume only --epochs, --device, --threads may change"},
		{"a default that differs", []string{"--optimizer", "adadelta"}, nil,
			"--optimizer adadelta contradicts the run in DIR (--optimizer adam); on --resume only --epochs, --device, --threads may change"},
		{"normalization fails", []string{"--hidden", "x"}, nil,
			"--hidden x contradicts the run in DIR (--hidden 50,30); on --resume only --epochs, --device, --threads may change"},
		{"other folder", []string{"--out", "elsewhere"}, nil, "--out elsewhere contradicts --resume DIR: a resumed run stays in its own folder"},
		{"force", []string{"--force"}, nil, "--force does not apply to --resume (the run continues in DIR)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var c testConfig
			var rf RunFlags
			fs := NewFlagSet("cmd", "usage", &bytes.Buffer{})
			bindTest(fs, &c)
			rf.Register(fs)
			args := append([]string{"--resume", dir}, tc.args...)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "DIR", dir)
			}
			if err := Parse(fs, args); err != nil {
				t.Fatal(err)
			}
			got, err := Resume(fs, rf.Resume, saved, bindTest, normalizeTest)
			if tc.wantErr != "" {
				var ue *UsageError
				if err == nil || strings.ReplaceAll(err.Error(), dir, "DIR") != tc.wantErr || !errors.As(err, &ue) {
					t.Fatalf("err = %v, want the usage error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := saved
			want.Sizes = []int{50, 30}
			if tc.want != nil {
				tc.want(&want)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
	// The saved value is not aliased: the result's slices are its own.
	fs := NewFlagSet("cmd", "usage", &bytes.Buffer{})
	var c testConfig
	bindTest(fs, &c)
	if err := Parse(fs, nil); err != nil {
		t.Fatal(err)
	}
	got, err := Resume(fs, "d", saved, bindTest, normalizeTest)
	if err != nil {
		t.Fatal(err)
	}
	got.Sizes[0] = 7
	if saved.Sizes[0] != 50 {
		t.Error("Resume's result shares memory with saved")
	}
}

func TestWriteJSON(t *testing.T) {
	dir := t.TempDir()
	v := map[string]float64{"test_accuracy": 0.5}
	tests := []struct {
		name, dest, stdout, file string
	}{
		{"none", "", "", ""},
		{"stdout", "-", "{\n  \"test_accuracy\": 0.5\n}\n", ""},
		{"file", filepath.Join(dir, "s.json"), "", "{\n  \"test_accuracy\": 0.5\n}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout bytes.Buffer
			rf := RunFlags{JSON: tc.dest}
			if err := rf.WriteJSON(&stdout, v); err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.stdout)
			}
			if tc.file != "" {
				b, err := os.ReadFile(tc.dest)
				if err != nil || string(b) != tc.file {
					t.Errorf("file %q, %v", b, err)
				}
			}
			var log bytes.Buffer
			if w := rf.Log(&stdout, &log); (w == &log) != (tc.dest == "-") {
				t.Errorf("Log goes to the wrong stream for --json %q", tc.dest)
			}
		})
	}
	rf := RunFlags{JSON: filepath.Join(dir, "missing", "s.json")}
	if err := rf.WriteJSON(&bytes.Buffer{}, v); err == nil || !strings.HasPrefix(err.Error(), "--json "+rf.JSON+": ") {
		t.Errorf("err = %v", err)
	}
	var back map[string]float64
	if b, _ := os.ReadFile(filepath.Join(dir, "s.json")); json.Unmarshal(b, &back) != nil || back["test_accuracy"] != 0.5 {
		t.Errorf("file does not hold the summary: %v", back)
	}
}

func TestFlagError(t *testing.T) {
	base := errors.New("base")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"device", fmt.Errorf("device %q: want cpu, cuda, cuda:N or auto: %w", "tpu", base), `--device "tpu": want cpu, cuda, cuda:N or auto: base`},
		{"device", fmt.Errorf("devices: %w", base), "--device: devices: base"},
		{"loss", fmt.Errorf("unknown loss %q: %w", "hinge", base), `--loss: unknown loss "hinge": base`},
		{"vectors", fmt.Errorf("vectors: %w", base), "--vectors: base"},
	}
	for _, tc := range tests {
		err := FlagError(tc.name, tc.err)
		if err.Error() != tc.want || !errors.Is(err, base) {
			t.Errorf("FlagError(%q, %v) = %v, want %q wrapping the error", tc.name, tc.err, err, tc.want)
		}
	}
}

func TestModelFlags(t *testing.T) {
	tests := []struct {
		name, model string
		args        []string
		want        string // Check's message, "" for none
	}{
		{"required and given", "", []string{"--model", "runs/a", "--threads", "2"}, ""},
		{"required and missing", "", nil, "predict: --model DIR is required"},
		{"default", "runs/x", nil, ""},
		{"zero threads", "runs/x", []string{"--threads", "0"}, "predict: --threads must be positive, got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			var mf ModelFlags
			mf.Register(fs, tc.model)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if mf.Device != "auto" || (tc.args == nil && (mf.Model != tc.model || mf.Threads != 1)) {
				t.Errorf("defaults: %+v", mf)
			}
			err := mf.Check("predict")
			var ue *UsageError
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Check: %v", err)
			case tc.want != "" && (!errors.As(err, &ue) || err.Error() != tc.want):
				t.Errorf("Check: %v, want the usage error %q", err, tc.want)
			}
		})
	}
}
