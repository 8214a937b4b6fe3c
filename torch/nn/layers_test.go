package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func TestLinearInit(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	torch.ManualSeed(7)
	l := NewLinear(16, 8, LinearOptions{})
	defer Close(l)
	if got := l.Weight.Shape(); !slices.Equal(got, []int64{8, 16}) {
		t.Errorf("weight shape = %v", got)
	}
	bound := 1 / math.Sqrt(16)
	for _, p := range l.NamedParameters() {
		if !p.Value.RequiresGrad() {
			t.Errorf("%s does not require grad", p.Name)
		}
		for _, v := range p.Value.Float32s() {
			if math.Abs(float64(v)) > bound {
				t.Fatalf("%s value %v outside ±%v", p.Name, v, bound)
			}
		}
	}
	// PyTorch's order: weight then bias, from the default generator.
	torch.ManualSeed(7)
	w := torch.Zeros([]int64{8, 16})
	w.UniformInPlace(-bound, bound)
	b := torch.Zeros([]int64{8})
	b.UniformInPlace(-bound, bound)
	if !near32(l.Weight.Float32s(), w.Float32s(), 1e-7) || !near32(l.Bias.Float32s(), b.Float32s(), 1e-7) {
		t.Error("Linear init does not follow PyTorch's draw order")
	}
	nb := NewLinear(3, 2, LinearOptions{NoBias: true})
	defer Close(nb)
	if nb.Bias != nil || len(nb.NamedParameters()) != 1 {
		t.Error("NoBias layer has a bias")
	}
}

func TestLinearForward(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	l := &Linear{Weight: torch.FromSlice([]float32{1, 2, 3, 4}, 2, 2), Bias: torch.FromSlice([]float32{10, 20})}
	y := l.Forward(torch.FromSlice([]float32{1, 1, 0, 1}, 2, 2))
	if got := y.Float32s(); !near32(got, []float32{13, 27, 12, 24}, 0) {
		t.Errorf("Forward = %v", got)
	}
}

func TestEmbeddingPadding(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pad     int64
		wantRow int64
	}{{"positive", 2, 2}, {"negative", -1, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.CheckLive(t)
			torchtest.Scope(t)
			pad := tc.pad
			e := NewEmbedding(5, 3, EmbeddingOptions{PaddingIdx: &pad})
			defer Close(e)
			if e.PaddingIdx != tc.wantRow {
				t.Fatalf("PaddingIdx = %d, want %d", e.PaddingIdx, tc.wantRow)
			}
			w := e.Weight.Float32s()
			for j := range 3 {
				if w[tc.wantRow*3+int64(j)] != 0 {
					t.Errorf("padding row not zero: %v", w[tc.wantRow*3:tc.wantRow*3+3])
				}
			}
			idx := torch.FromSlice([]int64{tc.wantRow, 1, tc.wantRow, 0, 1}, 5)
			out := e.Forward(idx)
			if got := out.Shape(); !slices.Equal(got, []int64{5, 3}) {
				t.Errorf("out shape = %v", got)
			}
			out.Sum().Backward()
			g := e.Weight.Grad().Float32s()
			want := []float32{1, 2, 0}
			for row := int64(0); row < 5; row++ {
				exp := float32(0)
				switch row {
				case 0:
					exp = want[0]
				case 1:
					exp = want[1]
				}
				if row == tc.wantRow {
					exp = 0 // the padding row gets no gradient
				}
				for j := range 3 {
					if g[row*3+int64(j)] != exp {
						t.Errorf("grad row %d = %v, want %v", row, g[row*3:row*3+3], exp)
						break
					}
				}
			}
		})
	}
}

func TestEmbeddingInitIsStandardNormal(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	torch.ManualSeed(3)
	e := NewEmbedding(100, 50, EmbeddingOptions{})
	defer Close(e)
	if e.PaddingIdx != -1 {
		t.Errorf("PaddingIdx = %d, want -1", e.PaddingIdx)
	}
	torch.ManualSeed(3)
	ref := torch.Zeros([]int64{100, 50})
	ref.NormalInPlace(0, 1)
	if !near32(e.Weight.Float32s(), ref.Float32s(), 0) {
		t.Error("Embedding init is not N(0,1) from the default generator")
	}
	if err := torch.Try(func() { p := int64(5); NewEmbedding(5, 2, EmbeddingOptions{PaddingIdx: &p}) }); err == nil {
		t.Error("padding index 5 of 5 accepted")
	}
}

func TestEmbeddingFromPretrained(t *testing.T) {
	for _, freeze := range []bool{true, false} {
		t.Run(map[bool]string{true: "frozen", false: "trainable"}[freeze], func(t *testing.T) {
			torchtest.CheckLive(t)
			torchtest.Scope(t)
			w := seqRange(1, 3, 2)
			pad := int64(0)
			e := EmbeddingFromPretrained(w, PretrainedOptions{NoFreeze: !freeze, PaddingIdx: &pad})
			defer Close(e)
			if e.Weight.RequiresGrad() == freeze {
				t.Errorf("RequiresGrad = %v with freeze %v", e.Weight.RequiresGrad(), freeze)
			}
			out := e.Forward(torch.FromSlice([]int64{2, 0}))
			if got := out.Float32s(); !near32(got, []float32{5, 6, 1, 2}, 0) {
				t.Errorf("lookup = %v (padding row must keep its pretrained values)", got)
			}
			w.Close() // the module keeps its own handle
			if got := e.Weight.Float32s()[0]; got != 1 {
				t.Errorf("weight after closing the caller's handle = %v", got)
			}
		})
	}
}

func TestDropout(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	x := torch.Ones([]int64{1000})
	d := NewDropout(0.5)
	y := d.Forward(x).Float32s()
	zeros := 0
	for _, v := range y {
		if v == 0 {
			zeros++
		} else if v != 2 {
			t.Fatalf("kept value %v, want 2 (scaled by 1/(1-p))", v)
		}
	}
	if zeros < 350 || zeros > 650 {
		t.Errorf("%d of 1000 zeroed with p=0.5", zeros)
	}
	d.SetTraining(false)
	if got := d.Forward(x).Float32s(); got[0] != 1 || got[999] != 1 {
		t.Error("eval-mode dropout changed the input")
	}
	var zero Dropout
	if !zero.Training() {
		t.Error("zero Dropout should be in training mode, as PyTorch")
	}
	for _, p := range []float64{-0.1, 1.1, math.NaN()} {
		if err := torch.Try(func() { NewDropout(p) }); err == nil {
			t.Errorf("NewDropout(%v) accepted", p)
		}
	}
}
