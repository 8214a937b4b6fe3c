package data

import (
	"os"
	"path/filepath"
	"testing"
)

// mirrorDir returns the data mirror (SEQTORCH_MIRROR, default
// ../../shared/data) or skips the test if it is absent.
func mirrorDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SEQTORCH_MIRROR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
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
