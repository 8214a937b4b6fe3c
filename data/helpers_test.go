package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mirrorDir returns the data mirror (SEQTORCH_MIRROR, default
// DefaultMirrorDir) or skips the test if it is absent.
func mirrorDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SEQTORCH_MIRROR")
	if dir == "" {
		dir = DefaultMirrorDir()
	}
	if _, err := os.Stat(filepath.Join(dir, "sick", "SICK.txt")); err != nil {
		t.Skipf("data mirror not found at %s (set SEQTORCH_MIRROR): %v", dir, err)
	}
	return dir
}

func mirrorFile(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(mirrorDir(t), filepath.FromSlash(rel))
}

// checkErr fails t unless err is what a table row wants: no error for want
// "", else an error whose message is want (or starts with it, if prefix). It
// reports whether an error was wanted, so that the caller can return.
func checkErr(t *testing.T, err error, want string, prefix bool) (wantedErr bool) {
	t.Helper()
	switch {
	case want == "":
		if err != nil {
			t.Fatal(err)
		}
		return false
	case err == nil:
		t.Fatalf("no error, want %q", want)
	case prefix && !strings.HasPrefix(err.Error(), want):
		t.Fatalf("err = %v, want prefix %q", err, want)
	case !prefix && err.Error() != want:
		t.Fatalf("err = %v, want %q", err, want)
	}
	return true
}
