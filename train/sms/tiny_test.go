package main

import (
	"context"
	"path/filepath"
	"testing"
)

// trainTiny trains a one-epoch LSTM on the fixture and returns its run folder.
func trainTiny(tb testing.TB) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "run")
	args := append(tiny(out, "--cell", "lstm"), "--epochs", "1")
	if code, stdout, stderr := runCmd(context.Background(), args...); code != 0 {
		tb.Fatalf("training: exit %d\n%s\n%s", code, stdout, stderr)
	}
	return out
}
