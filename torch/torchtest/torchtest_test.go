package torchtest

import (
	"testing"

	"github.com/seqtorch/seqtorch/torch"
)

// fakeT records failures instead of failing the real test.
type fakeT struct {
	testing.TB
	failed   bool
	cleanups []func()
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Cleanup(fn func())     { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) finish() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestCheckLive(t *testing.T) {
	cases := []struct {
		name     string
		leak     bool
		wantFail bool
	}{
		{"clean", false, false},
		{"leak", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeT{}
			CheckLive(f)
			Scope(f) // closes the scoped tensor before the check
			torch.Zeros([]int64{2})
			var leaked *torch.Tensor
			if c.leak {
				torch.WithScope(func(s *torch.Scope) {
					leaked = torch.Ones([]int64{1})
					s.Keep(leaked)
				})
			}
			f.finish()
			leaked.Close()
			if f.failed != c.wantFail {
				t.Errorf("failed = %v, want %v", f.failed, c.wantFail)
			}
		})
	}
}
