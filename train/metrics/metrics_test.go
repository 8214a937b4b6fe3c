package metrics

import (
	"errors"
	"math"
	"testing"
)

const tol = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) <= tol }

// Binary table used below (positive class 1):
//
//	TP=3 (idx 0,1,6), FP=2 (idx 2,8), FN=1 (idx 5), TN=4.
var (
	binPred  = []int{1, 1, 1, 0, 0, 0, 1, 0, 1, 0}
	binLabel = []int{1, 1, 0, 0, 0, 1, 1, 0, 0, 0}
)

func TestAccuracy(t *testing.T) {
	tests := []struct {
		name        string
		pred, label []int
		want        float64
		wantErr     error
	}{
		{"binary", binPred, binLabel, 0.7, nil},
		{"all right", []int{2, 1, 0}, []int{2, 1, 0}, 1, nil},
		{"all wrong", []int{0, 0}, []int{1, 1}, 0, nil},
		{"mismatch", []int{0}, []int{0, 1}, 0, ErrLength},
		{"empty", nil, nil, 0, ErrEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Accuracy(tc.pred, tc.label)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !near(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfusion(t *testing.T) {
	c, err := NewConfusion(binPred, binLabel, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{4, 2}, {1, 3}}
	for i := range want {
		for j := range want[i] {
			if c.Counts[i][j] != want[i][j] {
				t.Fatalf("Counts = %v, want %v", c.Counts, want)
			}
		}
	}
	if c.Total() != 10 || c.NumClasses() != 2 || !near(c.Accuracy(), 0.7) {
		t.Errorf("Total=%d NumClasses=%d Accuracy=%v", c.Total(), c.NumClasses(), c.Accuracy())
	}

	bad := []struct {
		name        string
		pred, label []int
		k           int
		wantErr     error
	}{
		{"pred out of range", []int{2}, []int{0}, 2, ErrLabel},
		{"negative label", []int{0}, []int{-1}, 2, ErrLabel},
		{"mismatch", []int{0, 1}, []int{0}, 2, ErrLength},
		{"no classes", []int{0}, []int{0}, 0, nil},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewConfusion(tc.pred, tc.label, tc.k)
			if err == nil {
				t.Fatal("expected error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestPrecisionRecallF1(t *testing.T) {
	tests := []struct {
		name        string
		pred, label []int
		pos         int
		wp, wr, wf1 float64
		wantErr     error
	}{
		{"binary pos=1", binPred, binLabel, 1, 0.6, 0.75, 2.0 / 3, nil},
		// Negative class: TP=4, FP=1, FN=2.
		{"binary pos=0", binPred, binLabel, 0, 0.8, 4.0 / 6, 8.0 / 11, nil},
		{"no predicted positives", []int{0, 0}, []int{1, 0}, 1, 0, 0, 0, nil},
		{"positive beyond data", []int{0, 1}, []int{1, 0}, 3, 0, 0, 0, nil},
		{"negative positive", []int{0}, []int{0}, -1, 0, 0, 0, ErrLabel},
		{"mismatch", []int{0}, nil, 1, 0, 0, 0, ErrLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, r, f, err := PrecisionRecallF1(tc.pred, tc.label, tc.pos)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !near(p, tc.wp) || !near(r, tc.wr) || !near(f, tc.wf1) {
				t.Errorf("got P=%v R=%v F1=%v, want %v %v %v", p, r, f, tc.wp, tc.wr, tc.wf1)
			}
		})
	}
}

func TestMCC(t *testing.T) {
	tests := []struct {
		name        string
		pred, label []int
		want        float64
	}{
		// (3*4-2*1)/sqrt(5*5*4*6)
		{"binary", binPred, binLabel, 10 / math.Sqrt(600)},
		{"perfect", []int{0, 1, 1, 0}, []int{0, 1, 1, 0}, 1},
		{"inverted", []int{1, 0, 0, 1}, []int{0, 1, 1, 0}, -1},
		{"constant prediction", []int{1, 1, 1}, []int{0, 1, 0}, 0},
		// Computed with numpy using Gorodkin's R_K formula.
		{"three classes", []int{0, 1, 2, 2, 1, 0, 2, 1, 0}, []int{0, 1, 2, 1, 1, 0, 2, 2, 1}, 0.5095246653650681},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MCC(tc.pred, tc.label)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := MCC([]int{0, -2}, []int{0, 1}); !errors.Is(err, ErrLabel) {
		t.Errorf("negative class: err = %v", err)
	}
}

// Reference values from scipy.stats 1.10 (pearsonr, spearmanr) and numpy.
func TestCorrelation(t *testing.T) {
	tests := []struct {
		name         string
		x, y         []float64
		pearson, spr float64
	}{
		{"permutation", []float64{1, 2, 3, 4, 5, 6, 7}, []float64{2, 1, 4, 3, 7, 5, 6},
			0.8214285714285714, 0.8214285714285715},
		{"ties", []float64{1, 2, 2, 3, 5, 5, 5, 8}, []float64{3, 1, 4, 1, 5, 9, 2, 6},
			0.5406947784570657, 0.5495502618648208},
		{"reals", []float64{0.5, -1.2, 3.3, 2.0, 0.0}, []float64{0.1, -0.4, 2.5, 2.2, 0.3},
			0.9572161568181683, 0.9},
		{"perfect negative", []float64{1, 2, 3}, []float64{30, 20, 10}, -1, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Pearson(tc.x, tc.y)
			if err != nil || math.Abs(p-tc.pearson) > 1e-12 {
				t.Errorf("Pearson = %v, %v; want %v", p, err, tc.pearson)
			}
			s, err := Spearman(tc.x, tc.y)
			if err != nil || math.Abs(s-tc.spr) > 1e-12 {
				t.Errorf("Spearman = %v, %v; want %v", s, err, tc.spr)
			}
		})
	}
}

func TestCorrelationErrors(t *testing.T) {
	tests := []struct {
		name    string
		x, y    []float64
		wantErr error
	}{
		{"constant", []float64{1, 1, 1}, []float64{1, 2, 3}, ErrUndefined},
		{"single", []float64{1}, []float64{2}, ErrUndefined},
		{"mismatch", []float64{1, 2}, []float64{1}, ErrLength},
		{"empty", nil, nil, ErrEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []func(a, b []float64) (float64, error){Pearson, Spearman} {
				v, err := f(tc.x, tc.y)
				if !errors.Is(err, tc.wantErr) || !math.IsNaN(v) {
					t.Errorf("got %v, %v; want NaN, %v", v, err, tc.wantErr)
				}
			}
		})
	}
}

func TestRank(t *testing.T) {
	got := Rank([]float64{1, 2, 2, 3, 5, 5, 5, 8})
	want := []float64{1, 2.5, 2.5, 4, 6, 6, 6, 8}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Rank = %v, want %v", got, want)
		}
	}
}

func TestMSE(t *testing.T) {
	tests := []struct {
		name    string
		p, y    []float64
		want    float64
		wantErr error
	}{
		{"numpy", []float64{0.5, -1.2, 3.3, 2.0, 0.0}, []float64{0.1, -0.4, 2.5, 2.2, 0.3}, 0.314, nil},
		{"zero", []float64{1, 2}, []float64{1, 2}, 0, nil},
		{"mismatch", []float64{1}, nil, 0, ErrLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MSE(tc.p, tc.y)
			if !errors.Is(err, tc.wantErr) || math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("got %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestQuantile checks the interpolation against NumPy's default (numpy.quantile, "linear"),
// which scripts/sms_ref.py reproduces, so both sides report percentiles the same way.
func TestQuantile(t *testing.T) {
	xs := []float64{7, 1, 3, 9, 5} // sorted: 1 3 5 7 9
	tests := []struct {
		name    string
		x       []float64
		q, want float64
		wantErr bool
	}{
		{"min", xs, 0, 1, false},
		{"median", xs, 0.5, 5, false},
		{"p99", xs, 0.99, 8.92, false},
		{"max", xs, 1, 9, false},
		{"between ranks", xs, 0.3, 3.4, false},
		{"even median", []float64{4, 1, 3, 2}, 0.5, 2.5, false},
		{"empty", nil, 0.5, math.NaN(), true},
		{"q above 1", xs, 1.5, math.NaN(), true},
		{"q NaN", xs, math.NaN(), math.NaN(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Quantile(tc.x, tc.q)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if !math.IsNaN(got) {
					t.Errorf("got %v with an error, want NaN", got)
				}
				return
			}
			if math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	if _, err := Quantile(nil, 0.5); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty input: %v, want ErrEmpty", err)
	}
	if xs[0] != 7 {
		t.Error("Quantile sorted its input in place")
	}
}
