package main

import (
	"testing"

	"github.com/seqtorch/seqtorch/torch"
)

// checkLive fails t if the test leaves tensors alive.
func checkLive(t *testing.T) {
	t.Helper()
	start := torch.Live()
	t.Cleanup(func() {
		if got := torch.Live(); got != start {
			t.Errorf("torch.Live() = %d after the test, want %d", got, start)
		}
	})
}
