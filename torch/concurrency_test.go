package torch

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// iterations is n, or n/10 under the race detector (which slows cgo-heavy loops tenfold).
func iterations(n int) int {
	if raceEnabled {
		return max(1, n/10)
	}
	return n
}

// runWorkers runs f(w) on n goroutines at once and reports the first error or panic.
func runWorkers(t *testing.T, n int, f func(w int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					errs[w] = fmt.Errorf("worker %d panicked: %v", w, r)
				}
			}()
			errs[w] = f(w)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestScopesPerGoroutine is the case of issue 14 at the level of tensors: goroutines each open
// nested scopes, read a shared tensor, escape and keep results, and close their scopes at
// the same time. With one process-wide scope stack this freed other goroutines' tensors.
func TestScopesPerGoroutine(t *testing.T) {
	checkLive(t)
	shared := FromSlice([]float32{1, 2, 3})
	defer shared.Close()
	n := iterations(200)
	runWorkers(t, 8, func(w int) error {
		for i := range n {
			s := NewScope()
			x := shared.MulScalar(float64(w)) // w·k
			y := func() *Tensor {
				in := NewScope()
				defer in.Close()
				return in.Escape(x.AddScalar(float64(i)).Mul(shared)) // (w·k + i)·k
			}()
			sum := s.Escape(y.Sum()) // s is outermost: the caller owns sum
			got := y.Float32s()
			if s != currentScope() {
				return fmt.Errorf("iteration %d: the goroutine's innermost scope is not its own", i)
			}
			s.Close()
			if !x.Closed() || !y.Closed() || sum.Closed() {
				return fmt.Errorf("iteration %d: after Close x closed %v, y closed %v, sum closed %v", i, x.Closed(), y.Closed(), sum.Closed())
			}
			var want []float32
			var wantSum float32
			for k := float32(1); k <= 3; k++ {
				want = append(want, (float32(w)*k+float32(i))*k)
				wantSum += want[len(want)-1]
			}
			gotSum := sum.Item()
			sum.Close()
			if !near(got, want, 0) || gotSum != float64(wantSum) {
				return fmt.Errorf("iteration %d: got %v (sum %v), want %v (sum %v)", i, got, gotSum, want, wantSum)
			}
		}
		return nil
	})
	if openScopes.Load() != 0 {
		t.Errorf("%d scopes still open", openScopes.Load())
	}
}

// onOtherGoroutine runs f on a new goroutine and returns what it panicked with (nil if none).
func onOtherGoroutine(f func()) (r any) {
	done := make(chan any)
	go func() {
		defer func() { done <- recover() }()
		f()
	}()
	return <-done
}

// TestScopeMisuse checks that misuse which cannot be made safe panics with a clear *Error and
// leaves memory intact: the owner's scope and tensors still work afterwards.
func TestScopeMisuse(t *testing.T) {
	const (
		otherGoroutine = "the scope belongs to another goroutine"
		closedTensor   = "use of a closed tensor"
	)
	cases := []struct {
		name string
		// misuse sets up on the test's goroutine, misuses, cleans up, and returns the
		// misuse's panic value.
		misuse func(t *testing.T) any
		want   string
	}{
		{"close on another goroutine", func(t *testing.T) any {
			s := NewScope()
			x := Zeros([]int64{2})
			r := onOtherGoroutine(s.Close)
			if x.Closed() || x.AddScalar(1).Sum().Item() != 2 { // temporaries freed by s
				t.Error("the failed Close changed the scope")
			}
			s.Close()
			if !x.Closed() {
				t.Error("the owner's Close left the scope's tensor open")
			}
			return r
		}, otherGoroutine},
		{"inner close on another goroutine", func(t *testing.T) any {
			outer := NewScope()
			defer outer.Close()
			inner := NewScope()
			defer inner.Close()
			return onOtherGoroutine(inner.Close)
		}, otherGoroutine},
		{"keep on another goroutine", func(t *testing.T) any {
			s := NewScope()
			defer s.Close()
			x := Zeros([]int64{2})
			return onOtherGoroutine(func() { s.Keep(x) })
		}, otherGoroutine},
		{"escape on another goroutine", func(t *testing.T) any {
			outer := NewScope()
			defer outer.Close()
			s := NewScope()
			defer s.Close()
			x := Zeros([]int64{2})
			return onOtherGoroutine(func() { s.Escape(x) })
		}, otherGoroutine},
		{"unscope another goroutine's tensor", func(t *testing.T) any {
			s := NewScope()
			defer s.Close()
			x := Zeros([]int64{2})
			return onOtherGoroutine(func() { Unscope(x) })
		}, otherGoroutine},
		{"use after its scope closed, on another goroutine", func(t *testing.T) any {
			s := NewScope()
			x := Zeros([]int64{2})
			s.Close()
			return onOtherGoroutine(func() { x.AddScalar(1) })
		}, closedTensor},
		{"use after Close on another goroutine", func(t *testing.T) any {
			x := Zeros([]int64{2})
			onOtherGoroutine(x.Close)
			return onOtherGoroutine(func() { x.Neg() })
		}, closedTensor},
		{"use after its scope closed", func(t *testing.T) any {
			var x *Tensor
			WithScope(func(*Scope) { x = Ones([]int64{1}) })
			return onOtherGoroutine(func() { _ = x.Float32s() })
		}, closedTensor},
		{"closed tensor as second operand", func(t *testing.T) any {
			a := Ones([]int64{1})
			defer a.Close()
			b := Ones([]int64{1})
			b.Close()
			r := onOtherGoroutine(func() { a.Add(b) })
			if a.Closed() || a.Item() != 1 { // a's use count was released
				t.Error("a failed op left its other operand unusable")
			}
			return r
		}, closedTensor},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkLive(t)
			r := c.misuse(t)
			err, ok := r.(*Error)
			if !ok {
				t.Fatalf("misuse panicked with %v (%T), want a *torch.Error", r, r)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("panic %q does not contain %q", err, c.want)
			}
			if openScopes.Load() != 0 {
				t.Errorf("%d scopes left open", openScopes.Load())
			}
		})
	}
}

// TestUseRacingClose closes tensors while other goroutines are running ops on them: every op
// either completes on live memory or panics with *Error, and each tensor is freed exactly once
// (Live returns to its start; a double free or a freed handle reaching C would crash).
func TestUseRacingClose(t *testing.T) {
	checkLive(t)
	for round := range iterations(50) {
		s := NewScope()
		scoped := Ones([]int64{4, 4})
		plain := unscoped(Ones([]int64{4, 4}))
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for w := range 4 {
			x := scoped
			if w%2 == 1 {
				x = plain
			}
			wg.Go(func() {
				<-start
				for {
					err := Try(func() { x.Matmul(x).Close() })
					if err != nil {
						if !strings.Contains(err.Error(), "use of a closed tensor") {
							errs[w] = err
						}
						return
					}
				}
			})
		}
		close(start)
		runtime.Gosched()
		if round%2 == 0 {
			plain.Close()
			s.Close()
		} else {
			s.Close()
			onOtherGoroutine(plain.Close)
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
}

// unscoped takes t out of its scope and returns it.
func unscoped(t *Tensor) *Tensor {
	Unscope(t)
	return t
}

// TestGradModePerGoroutine runs inference under NoGrad on some goroutines while others record
// autograd: NoGrad's mode never leaks to another goroutine, and each sees its own.
func TestGradModePerGoroutine(t *testing.T) {
	checkLive(t)
	w := FromSlice([]float32{1, 2}).SetRequiresGrad(true)
	defer w.Close()
	n := iterations(300)
	runWorkers(t, 6, func(g int) error {
		noGrad := g%2 == 0
		for i := range n {
			var err error
			check := func() {
				if g != 1 { // goroutine 1 holds no scope: it is not locked to a thread
					s := NewScope()
					defer s.Close()
				}
				m := w.MulScalar(2)
				y := m.Sum()
				defer m.Close() // closed twice with a scope (here and by the scope): Close is idempotent
				defer y.Close()
				runtime.Gosched() // invite the scheduler to move the goroutine (it may not, if locked)
				if got := GradEnabled(); got == noGrad {
					err = fmt.Errorf("iteration %d: GradEnabled() = %v on a goroutine with NoGrad %v", i, got, noGrad)
				} else if y.RequiresGrad() == noGrad {
					err = fmt.Errorf("iteration %d: result requires grad %v on a goroutine with NoGrad %v", i, y.RequiresGrad(), noGrad)
				}
			}
			if noGrad {
				NoGrad(check)
			} else {
				check()
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if !GradEnabled() {
		t.Error("grad mode off on the test goroutine")
	}
}
