package torch

import (
	"slices"
	"strings"
	"testing"
)

// TestEnumsCrossTheShim: the dtype, device, reduction and RNN mode values Go sends are the
// ones the shim reads (shim.h's enums, which shim.cpp static_asserts against libtorch's), so
// each round-trips through libtorch with its meaning.
func TestEnumsCrossTheShim(t *testing.T) {
	checkLive(t)
	WithScope(func(*Scope) {
		for _, d := range []DType{Float32, Float64, Int64, Int32, Bool, Float16, Uint8} {
			if got := Zeros([]int64{2}, WithDType(d)).DType(); got != d {
				t.Errorf("a %v tensor comes back as %v", d, got)
			}
		}
		var zero Device
		if zero != CPU || Zeros([]int64{1}).Device() != zero {
			t.Errorf("the zero Device is %v, tensors are made on %v", zero, Zeros([]int64{1}).Device())
		}
		a := FromSlice([]float32{1, 2, 3})
		b := FromSlice([]float32{0, 0, 0})
		for _, c := range []struct {
			r     Reduction
			want  []float32
			shape []int64
		}{
			{ReductionNone, []float32{1, 4, 9}, []int64{3}},
			{ReductionMean, []float32{14.0 / 3}, []int64{}},
			{ReductionSum, []float32{14}, []int64{}},
		} {
			l := MSELoss(a, b, c.r)
			if !slices.Equal(l.Shape(), c.shape) || !near(l.Float32s(), c.want, 1e-6) {
				t.Errorf("MSELoss reduction %d = %v %v, want %v %v", c.r, l.Shape(), l.Float32s(), c.shape, c.want)
			}
		}
		// Each mode runs the cell it names: an LSTM needs a cell state and 4 gates, a GRU 3.
		x := Ones([]int64{1, 1, 1})
		for _, c := range []struct {
			mode         RNNMode
			gates, state int
			str, class   string
		}{
			{ModeRNNTanh, 1, 1, "RNN_TANH", "RNN"},
			{ModeRNNReLU, 1, 1, "RNN_RELU", "RNN"},
			{ModeLSTM, 4, 2, "LSTM", "LSTM"},
			{ModeGRU, 3, 1, "GRU", "GRU"},
		} {
			if c.mode.String() != c.str || c.mode.Class() != c.class {
				t.Errorf("mode %d: String %q Class %q, want %q %q", int(c.mode), c.mode.String(), c.mode.Class(), c.str, c.class)
			}
			hx := []*Tensor{Zeros([]int64{1, 1, 1})}
			if c.state == 2 {
				hx = append(hx, Zeros([]int64{1, 1, 1}))
			}
			g := int64(c.gates)
			ps := []*Tensor{Ones([]int64{g, 1}), Ones([]int64{g, 1}), Zeros([]int64{g}), Zeros([]int64{g})}
			out, h, cell := RNNForward(c.mode, x, hx, ps, RNNConfig{HasBiases: true, NumLayers: 1})
			if (cell != nil) != (c.state == 2) || out.Closed() || h.Closed() {
				t.Errorf("%v: cell state returned %v", c.mode, cell != nil)
			}
			// tanh(1) vs relu(1) tell the two simple cells apart.
			if c.mode == ModeRNNReLU && out.Item() != 1 || c.mode == ModeRNNTanh && !near(out.Float32s(), []float32{0.7615942}, 1e-6) {
				t.Errorf("%v: output %v", c.mode, out.Float32s())
			}
		}
		if got := RNNMode(9).String(); got != "RNNMode(9)" {
			t.Errorf("unknown mode String = %q", got)
		}
	})
}

// TestRNNForwardClosedParam checks that an RNN call given a closed tensor panics and leaves
// the other tensors it was given usable (none stays acquired).
func TestRNNForwardClosedParam(t *testing.T) {
	checkLive(t)
	WithScope(func(*Scope) {
		x := Zeros([]int64{2, 1, 3})
		hx := []*Tensor{Zeros([]int64{1, 1, 4})}
		ps := []*Tensor{Zeros([]int64{4, 3}), Zeros([]int64{4, 4}), Zeros([]int64{4}), Zeros([]int64{4})}
		ps[1].Close()
		err := Try(func() { RNNForward(ModeRNNTanh, x, hx, ps, RNNConfig{HasBiases: true, NumLayers: 1}) })
		if err == nil || !strings.Contains(err.Error(), "closed tensor") {
			t.Fatalf("closed parameter: %v, want a use-of-a-closed-tensor error", err)
		}
		for i, u := range []*Tensor{x, hx[0], ps[0], ps[2], ps[3]} {
			if s := u.state.Load(); s != 0 {
				t.Errorf("tensor %d: state %x after the failed call, want open with no use", i, s)
			}
		}
	})
}
