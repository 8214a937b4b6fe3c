package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	mirror, _ := filepath.Abs(filepath.Join("..", "..", "..", "..", "shared", "data"))
	if m := os.Getenv("SEQTORCH_MIRROR"); m != "" {
		mirror = m
	}
	if _, err := os.Stat(mirror); err != nil {
		t.Skip("no data mirror at", mirror)
	}
	t.Setenv("SEQTORCH_MIRROR", mirror)
	t.Setenv("SEQTORCH_DATA", t.TempDir())
	var out bytes.Buffer
	if err := run([]string{"all"}, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "\n"); got != 3 {
		t.Errorf("want 3 data sets listed, got:\n%s", out.String())
	}
	if err := run(nil, &out); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no args: %v", err)
	}
	if err := run([]string{"nope"}, &out); err == nil {
		t.Error("unknown name accepted")
	}
}
