package torch

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetupRefusesBadLibtorch(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	bad := filepath.Join(t.TempDir(), "not-libtorch")
	t.Setenv("LIBTORCH", bad)
	var stderr bytes.Buffer
	_, err := Setup(context.Background(), SetupOptions{Stderr: &stderr})
	if err == nil || !strings.Contains(err.Error(), "finding libtorch failed") {
		t.Fatalf("Setup: %v, want the discovery failure", err)
	}
	msg := strings.TrimSpace(stderr.String())
	for _, want := range []string{"seqtorch setup: ", "LIBTORCH=" + bad, "is not an unpacked libtorch archive"} {
		if !strings.Contains(msg, want) {
			t.Errorf("discovery message %q lacks %q", msg, want)
		}
	}
	dir, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("a failed Setup left %s in the cache", e.Name())
	}
}

func TestUnpackedSourcesKeepTheirHash(t *testing.T) {
	dst := t.TempDir()
	if err := unpackSources(dst); err != nil {
		t.Fatal(err)
	}
	if got := diskHash(t, dst); got != SourceHash() {
		t.Fatalf("unpacked sources hash to %s, SourceHash() = %s", got, SourceHash())
	}
	for _, f := range []string{"shim.mk", "find-libtorch.sh", "info/st-info.c"} {
		if _, err := os.Stat(filepath.Join(dst, "csrc", f)); err != nil {
			t.Errorf("build rule missing from the unpacked sources: %v", err)
		}
	}
}
