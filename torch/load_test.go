package torch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// loadChild is set in the environment of the child processes the loader tests start: the child
// runs TestLoadChild, whose first libtorch call must load the shim named by SEQTORCH_LIB.
const loadChild = "SEQTORCH_TEST_LOAD_CHILD"

// TestLoadChild is the child's side of the loader tests; it does nothing in a normal run.
func TestLoadChild(t *testing.T) {
	if os.Getenv(loadChild) == "" {
		t.Skip("run by the loader tests in a child process")
	}
	s := NewScope()
	defer s.Close()
	Zeros([]int64{2}) // the first libtorch call: loads, or prints one line and exits 1
	os.Stdout.WriteString("loaded\n")
}

// fakeShim compiles a shared library from C source with the system C compiler.
func fakeShim(t *testing.T, src string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build a fake shim")
	}
	dir := t.TempDir()
	c := filepath.Join(dir, "fake.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, LibName)
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, c).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	return lib
}

func TestLoadRefusesWithOneLine(t *testing.T) {
	tests := []struct {
		name string
		lib  func(t *testing.T) string
		want string
	}{
		{
			name: "missing file",
			lib:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "none", LibName) },
			want: "no such file",
		},
		{
			name: "not a seqtorch shim",
			lib:  func(t *testing.T) string { return fakeShim(t, "int unrelated(void) { return 1; }\n") },
			want: "is not a seqtorch shim of this version",
		},
		{
			name: "shim built from other sources",
			lib: func(t *testing.T) string {
				return fakeShim(t, `const char *st_abi(void) { return "0123456789abcdef"; }`+"\n")
			},
			want: "was built from other seqtorch sources",
		},
		{
			name: "right identity, functions missing",
			lib: func(t *testing.T) string {
				return fakeShim(t, `const char *st_abi(void) { return "`+SourceHash()+`"; }`+"\n")
			},
			want: "lacks st_free_err",
		},
		{
			name: "not a library",
			lib: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), LibName)
				if err := os.WriteFile(p, []byte(strings.Repeat("not an ELF file\n", 16)), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: "invalid ELF header",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLoadChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), loadChild+"=1", "SEQTORCH_LIB="+tc.lib(t))
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("child: %v, want exit status 1; output:\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 {
				t.Fatalf("child printed %d lines, want one:\n%s", len(lines), out)
			}
			for _, want := range []string{"seqtorch: ", tc.want, SetupCommand} {
				if !strings.Contains(lines[0], want) {
					t.Errorf("message %q lacks %q", lines[0], want)
				}
			}
		})
	}
}

func TestLoadNamedLibrary(t *testing.T) {
	info, ok := Loaded()
	if !ok {
		t.Fatal(Load())
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), loadChild+"=1", "SEQTORCH_LIB="+filepath.Dir(info.Path))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "loaded\n") {
		t.Fatalf("child with SEQTORCH_LIB=%s (a folder): %v\n%s", filepath.Dir(info.Path), err, out)
	}
}

func TestLoadedInfo(t *testing.T) {
	info, ok := Loaded()
	if !ok {
		t.Fatal(Load())
	}
	for _, f := range []string{info.Path, info.TorchLibrary} {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			t.Errorf("Loaded() names %q, not a file: %v", f, err)
		}
	}
	if !strings.Contains(filepath.Base(info.TorchLibrary), "torch") {
		t.Errorf("TorchLibrary = %q, want libtorch's file", info.TorchLibrary)
	}
	if info.TorchSource == "" {
		t.Error("TorchSource is empty")
	}
	s, err := Summary()
	if err != nil || !strings.HasPrefix(s, "libtorch "+Version()+" from ") || !strings.Contains(s, "| shim: "+info.Path) {
		t.Errorf("Summary() = %q, %v", s, err)
	}
}

// diskHash computes the sources' identity the way shim.mk does, from the files in dir/csrc.
func diskHash(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("bash", "-c",
		`cd "$1/csrc" && LC_ALL=C sha256sum $(ls *.h *.cpp | LC_ALL=C sort) | sha256sum | cut -d' ' -f1`, "hash", dir).Output()
	if err != nil {
		t.Skip("no bash/sha256sum:", err)
	}
	return strings.TrimSpace(string(out))
}

func TestSourceHashMatchesFiles(t *testing.T) {
	// shim.mk computes the identity from the files on disk; the embedded copy must agree.
	if got := diskHash(t, "."); got != SourceHash() {
		t.Fatalf("sources on disk hash to %s, SourceHash() = %s", got, SourceHash())
	}
}
