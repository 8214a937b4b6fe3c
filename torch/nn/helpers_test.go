package nn

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
)

func near32(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > tol || math.IsNaN(float64(a[i])) {
			return false
		}
	}
	return true
}

// f32 returns t's values as float32 (converting if needed).
func f32(t *torch.Tensor) []float32 {
	if t.DType() == torch.Float32 {
		return t.Float32s()
	}
	c := t.ToDType(torch.Float32)
	defer c.Close()
	return c.Float32s()
}

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", substr)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not contain %q", err, substr)
	}
}

// wantPanic checks that f panics with a *torch.Error whose Op is op and whose message contains
// substr (tensor and module code panics; see the torch package's Errors).
func wantPanic(t *testing.T, op, substr string, f func()) {
	t.Helper()
	err := torch.Try(f)
	var te *torch.Error
	if !errors.As(err, &te) {
		t.Fatalf("%s: got no *torch.Error (err %v), want one containing %q", op, err, substr)
	}
	if te.Op != op {
		t.Errorf("error %q: Op %q, want %q", err, te.Op, op)
	}
	if !strings.Contains(te.Msg, substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
}

// seqRange returns a float32 tensor of the given shape holding start, start+1, ...
func seqRange(start float32, shape ...int64) *torch.Tensor {
	n := numel(shape)
	v := make([]float32, n)
	for i := range v {
		v[i] = start + float32(i)
	}
	return torch.FromSlice(v, shape...)
}
