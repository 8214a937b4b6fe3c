package torch

import (
	"errors"
	"fmt"
	"testing"
)

func TestRun(t *testing.T) {
	errOwn := errors.New("f's own error")
	shapeMismatch := func() error {
		a := Zeros([]int64{2, 3})
		b := Zeros([]int64{4, 5})
		a.Matmul(b) // panics with *Error
		return nil
	}
	for _, tc := range []struct {
		name      string
		f         func() error
		wantOp    string // the *Error's Op; "" for none
		wantErr   error  // errors.Is target; nil for none
		wantPanic any    // the value Run must re-panic with; nil for none
	}{
		{"ok", func() error { Ones([]int64{3}).MulScalar(2); return nil }, "", nil, nil},
		{"shape mismatch", shapeMismatch, "Matmul", nil, nil},
		{"own error", func() error { Ones([]int64{3}); return errOwn }, "", errOwn, nil},
		{"wrapped torch error", func() error {
			Ones([]int64{2})
			panic(fmt.Errorf("context: %w", &Error{Op: "Op", Msg: "msg"}))
		}, "Op", nil, nil},
		{"inner scope left open", func() error {
			Ones([]int64{2})
			NewScope()
			Ones([]int64{2})
			return shapeMismatch()
		}, "Matmul", nil, nil},
		{"non-torch panic", func() error { Ones([]int64{2}); panic("a bug") }, "", nil, "a bug"},
		{"non-torch error panic", func() error { panic(errOwn) }, "", nil, errOwn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := Live()
			var err error
			var repanicked any
			func() {
				defer func() { repanicked = recover() }()
				err = Run(tc.f)
			}()
			if got := Live(); got != start {
				t.Errorf("Live() = %d after Run, %d before: Run's scope did not free f's tensors", got, start)
			}
			if s := currentScope(); s != nil {
				t.Errorf("a scope is still open after Run")
			}
			if repanicked != tc.wantPanic {
				t.Fatalf("Run re-panicked with %v, want %v", repanicked, tc.wantPanic)
			}
			if tc.wantPanic != nil {
				return
			}
			var te *Error
			switch {
			case tc.wantOp != "":
				if !errors.As(err, &te) || te.Op != tc.wantOp {
					t.Errorf("Run = %v, want a *Error with Op %q", err, tc.wantOp)
				}
			case tc.wantErr != nil:
				if err != tc.wantErr {
					t.Errorf("Run = %v, want f's own error %v", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("Run = %v, want nil", err)
			}
		})
	}
}

// TestRunKeep checks that a tensor taken out of Run's scope (Unscope) outlives Run, and that
// one created before Run is not Run's to free.
func TestRunKeep(t *testing.T) {
	checkLive(t)
	before := Ones([]int64{2})
	defer before.Close()
	var kept, dropped *Tensor
	if err := Run(func() error {
		kept = before.MulScalar(3)
		dropped = before.MulScalar(4)
		Unscope(kept)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if before.Closed() || kept.Closed() || !dropped.Closed() {
		t.Fatalf("closed after Run: before %v, kept %v, dropped %v; want false, false, true", before.Closed(), kept.Closed(), dropped.Closed())
	}
	if got := kept.Float32s(); got[0] != 3 {
		t.Errorf("kept = %v", got)
	}
}

// TestRunNested checks that an inner Run frees its own tensors and leaves the outer scope
// open, with the outer f deciding what to do with the inner error.
func TestRunNested(t *testing.T) {
	checkLive(t)
	var outer *Tensor
	err := Run(func() error {
		outer = Ones([]int64{2})
		inner := Run(func() error {
			Zeros([]int64{2, 3}).Matmul(Zeros([]int64{4, 5}))
			return nil
		})
		if outer.Closed() {
			t.Error("the inner Run closed a tensor of the outer one")
		}
		return fmt.Errorf("step: %w", inner)
	})
	var te *Error
	if !errors.As(err, &te) || te.Op != "Matmul" {
		t.Fatalf("Run = %v, want a wrapped *Error from Matmul", err)
	}
	if !outer.Closed() {
		t.Error("the outer Run did not free its tensor")
	}
}
