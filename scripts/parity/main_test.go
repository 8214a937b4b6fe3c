package main

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/scripts/internal/modelparity"
)

func TestListAndFlags(t *testing.T) {
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"-list", "-run", "^clip/"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "clip/max-norm-0.1\nclip/max-norm-100\n"; got != want {
		t.Errorf("-list printed %q, want %q", got, want)
	}
	for _, args := range [][]string{{"-run", "("}, {"-run", "^no-such-case$"}, {"extra"}} {
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("run %q succeeded", args)
		}
	}
}

// TestEndToEnd runs a few cases against PyTorch when modelparity.Python() can import torch.
func TestEndToEnd(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := modelparity.HavePyTorch(modelparity.Python()); err != nil {
		t.Skip(err)
	}
	var out, errb strings.Builder
	err := run(context.Background(), []string{"-run", `^(clip/|loss/mse/mean|embedding/padding-idx-0)`}, &out, &errb)
	if err != nil {
		t.Fatalf("run: %v\n%s%s", err, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if got := lines[len(lines)-1]; got != "4 passed, 0 failed" {
		t.Errorf("last line %q, want \"4 passed, 0 failed\"\n%s", got, out.String())
	}
	if !strings.HasPrefix(lines[1], "case ") || !strings.Contains(out.String(), "clip/max-norm-100") {
		t.Errorf("unexpected table:\n%s", out.String())
	}
}
