// Package jittest generates the TorchScript fixtures of torch/jit's tests (and of the commands
// that serve TorchScript models) with the installed PyTorch: scripts/jit_ref.py, run once per
// test process into a temporary folder.
package jittest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Python returns the Python that has PyTorch: $SEQTORCH_PYTHON, else $TORCH_PYTHON, else
// /usr/bin/python3 (as scripts/internal/modelparity).
func Python() string {
	for _, k := range []string{"SEQTORCH_PYTHON", "TORCH_PYTHON"} {
		if p := os.Getenv(k); p != "" {
			return p
		}
	}
	return "/usr/bin/python3"
}

// Script returns the path of scripts/NAME in this checkout (or module copy): beside this
// source file, else (a test binary built elsewhere and run from its package folder, as
// scripts/gpu-check.sh does) in the nearest folder above the working directory that has it.
func Script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if p := filepath.Join(d, "scripts", name); fileExists(p) {
				return p
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return path
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// FixturesEnv names a folder that scripts/jit_ref.py already wrote (scripts/gpu-check.sh
// generates it once with the device machine's PyTorch): [Fixtures] uses it instead of running
// the script.
const FixturesEnv = "SEQTORCH_JIT_FIXTURES"

// DeviceEnv names the device that device-aware tests load modules onto ("cpu", the default;
// "cuda" under scripts/gpu-check.sh); see [Device].
const DeviceEnv = "SEQTORCH_TEST_DEVICE"

// Device returns $SEQTORCH_TEST_DEVICE, or "cpu" when it is unset.
func Device() string {
	if d := os.Getenv(DeviceEnv); d != "" {
		return d
	}
	return "cpu"
}

var (
	once sync.Once
	root string
	dir  string
	err  error
)

// Main runs the tests of a package that uses [Fixtures] and removes the fixtures afterwards.
func Main(m *testing.M) {
	code := m.Run()
	if root != "" {
		os.RemoveAll(root)
	}
	os.Exit(code)
}

// Fixtures returns the folder scripts/jit_ref.py wrote (see its documentation for the files),
// generating it on first use, or $SEQTORCH_JIT_FIXTURES when set; the test is skipped when
// Python cannot import torch.
func Fixtures(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		if d := os.Getenv(FixturesEnv); d != "" {
			dir = d
			if !fileExists(filepath.Join(d, "expected.json")) {
				err = fmt.Errorf("$%s=%s: no expected.json there (write it with scripts/jit_ref.py %s)", FixturesEnv, d, d)
			}
			return
		}
		py := Python()
		root, err = os.MkdirTemp("", "seqtorch-jit-")
		if err != nil {
			return
		}
		probe := exec.Command(py, "-c", "import torch")
		probe.Dir = root // never a folder whose torch/ would shadow PyTorch
		if out, e := probe.CombinedOutput(); e != nil {
			err = fmt.Errorf("skip: %s cannot import torch (apt-get install python3-torch, or set SEQTORCH_PYTHON): %v: %s", py, e, strings.TrimSpace(string(out)))
			return
		}
		dir = filepath.Join(root, "fixtures")
		if err = os.Mkdir(dir, 0o755); err != nil {
			return
		}
		err = Run(root, 5*time.Minute, Script("jit_ref.py"), dir)
	})
	if err != nil {
		if strings.HasPrefix(err.Error(), "skip: ") {
			tb.Skip(strings.TrimPrefix(err.Error(), "skip: "))
		}
		tb.Fatal(err)
	}
	return dir
}

// Run runs Python with args in folder wd (one thread), returning its output on failure.
func Run(wd string, timeout time.Duration, args ...string) error {
	_, err := Output(wd, timeout, args...)
	return err
}

// Output runs Python with args in folder wd (one thread) and returns its standard output.
func Output(wd string, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Python(), args...)
	cmd.Dir = wd
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "PYTHONWARNINGS=ignore")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", Python(), strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// Expected reads the fixtures' expected.json into v.
func Expected(tb testing.TB, v any) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(Fixtures(tb), "expected.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatal(err)
	}
}
