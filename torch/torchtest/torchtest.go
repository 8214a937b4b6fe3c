// Package torchtest holds test helpers for code that uses package torch.
package torchtest

import (
	"testing"

	"github.com/seqtorch/seqtorch/torch"
)

// CheckLive fails t if tensors created during the test are still open when it ends: it
// records torch.Live() now and compares it in a cleanup. Call it first, so that cleanups
// registered later (closing a scope, say) run before the check.
func CheckLive(t testing.TB) {
	t.Helper()
	start := torch.Live()
	t.Cleanup(func() {
		if got := torch.Live(); got != start {
			t.Errorf("torch.Live() = %d at the end of the test, %d at the start: tensors leaked", got, start)
		}
	})
}

// Scope opens a torch.Scope that is closed when the test ends. Scopes belong to the goroutine
// that opens them, and a subtest (t.Run) runs on a goroutine of its own: a subtest that
// creates tensors opens its own scope, as the parent's does not hold them.
func Scope(t testing.TB) *torch.Scope {
	t.Helper()
	s := torch.NewScope()
	t.Cleanup(s.Close)
	return s
}
